"""Issue 20: PostgreSQL's side of one inbound call, the project's statement
against the floor's, each run on its own, so that the database's share of
the gap under load can be told from the statement's own cost.

Each side gets one autocommit connection of its own and sends the same kind
of call its webhook sends (a new CallSid, a random line and caller, the
caller indexed and encrypted with the benchmark's keys); the project's
through its own code (``storage.inbound_repository.screen_and_log`` on a
``DriverStatements``), the floor's as ``benchmarks/floor_app.py`` sends it
(and both decrypt the member's phone it returns, as each app does).
The server backend's CPU (user + system, from ``/proc/<pid>/stat``) is read
around each slice of statements, in interleaved rounds, medians reported.
Only possible when PostgreSQL runs on this machine, as in the benchmark:
otherwise nothing is measured.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from benchmarks import floor_app, seed, signed
from benchmarks.servers import cpu_of

ROUNDS = 6
PER_ROUND = 1000  # enough for CPU read in clock ticks (10 ms) to count a statement to a few %
WARM_UP = 20  # past psycopg's threshold, so both statements run prepared

Statement = Callable[[psycopg.Connection[Any], str, str, str], None]


def measure(url: str, seeded: seed.Seeded) -> dict[str, Any] | None:
    """Backend CPU and wall time per statement, project and floor; None if
    the backends' CPU cannot be read (PostgreSQL on another machine)."""
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    sides: dict[str, Statement] = {"app": _project_statement(), "floor": _floor_statement()}
    connections = {name: psycopg.connect(conninfo, autocommit=True) for name in sides}
    try:
        if not all(Path(f"/proc/{conn.info.backend_pid}/stat").exists() for conn in connections.values()):
            return None  # PostgreSQL runs elsewhere: its backends are not ours to read
        rng = random.Random(53)
        for name, run in sides.items():
            _run(run, connections[name], seeded, rng, WARM_UP)
        cpu: dict[str, list[float]] = {name: [] for name in sides}
        wall: dict[str, list[float]] = {name: [] for name in sides}
        for i in range(ROUNDS):
            order = list(sides) if i % 2 == 0 else list(reversed(sides))
            for name in order:
                conn = connections[name]
                cpu_before = cpu_of(conn.info.backend_pid)
                began = time.perf_counter()
                _run(sides[name], conn, seeded, rng, PER_ROUND)
                wall[name].append(1e6 * (time.perf_counter() - began) / PER_ROUND)
                cpu[name].append(1e6 * (cpu_of(conn.info.backend_pid) - cpu_before) / PER_ROUND)
    finally:
        for conn in connections.values():
            conn.close()
    backend = {name: statistics.median(values) for name, values in cpu.items()}
    return {
        "backend_cpu_us": backend,
        "wall_us": {name: statistics.median(values) for name, values in wall.items()},
        "backend_cpu_ratio": backend["app"] / backend["floor"] if backend["floor"] else 0.0,
        "rounds": ROUNDS,
        "statements_per_round": PER_ROUND,
    }


def _run(
    statement: Statement, conn: psycopg.Connection[Any], seeded: seed.Seeded, rng: random.Random, count: int
) -> None:
    for _ in range(count):
        statement(conn, rng.choice(seeded.lines), rng.choice(seeded.callers), signed.call_sid())


def _project_statement() -> Statement:
    from callflows.phone import Caller
    from storage.inbound_repository import screen_and_log
    from storage.statements import DriverStatements

    vault = seed.vault()

    def run(conn: psycopg.Connection[Any], line: str, caller: str, call_sid: str) -> None:
        @contextmanager
        def this_connection() -> Iterator[psycopg.Connection[Any]]:
            yield conn

        screen_and_log(
            DriverStatements(this_connection), vault, line_e164=line, caller=Caller(caller), call_sid=call_sid
        )

    return run


def _floor_statement() -> Statement:
    vault = seed.vault()

    def run(conn: psycopg.Connection[Any], line: str, caller: str, call_sid: str) -> None:
        protected = vault.protect(caller)
        params = {
            "index": protected.index,
            "token": protected.token,
            "last3": protected.last3,
            "line": line,
            "sid": call_sid,
        }
        row = conn.execute(floor_app.SCREEN_AND_LOG, params).fetchone()
        if row is not None and row[0]:
            vault.reveal(row[0])  # the member's phone, as the floor decrypts it

    return run
