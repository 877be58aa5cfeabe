"""Servers that differ in one thing, under the same load, taking turns.

A cost of a few per cent is smaller than this machine's drift from one
minute to the next (±15 %, see ``benchmarks/webhook.py``), so the servers
compared are all started at once and loaded in rounds: in each round every
server gets one run, who goes first rotating, each run on requests of its
own (a status callback or a call already sent would be a replay). Each
round's ratio is taken (its two runs were back to back) and their median
reported, beside the ratio of each server's median run and the median CPU
each request cost in the web workers and in PostgreSQL.
Used by the ``status`` (issue 19) and ``metrics`` (issue 17) sections.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import os
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import servers, signed
from benchmarks.config import LOAD_CONNECTIONS, ROOT, WORK

# Shorter runs than the webhook section's, more of them: the medians of
# many short turns follow the drift more closely than a few long ones.
ROUNDS = int(os.environ.get("BENCH_PAIRED_ROUNDS", "7"))
SECONDS = int(os.environ.get("BENCH_PAIRED_SECONDS", "6"))
WARM_UP = 200
APOLOGY_MARKER = "cannot take your call right now"

# ``make(count, seed)``: ``count`` distinct signed requests.
RequestMaker = Callable[[int, int], list[signed.SignedRequest]]


@dataclasses.dataclass
class Contender:
    """One server of the comparison and the runs it got."""

    name: str
    app: str
    env: dict[str, str]
    cwd: Path = ROOT
    port: int = 0
    runs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    warm_up_answers: dict[str, int] = dataclasses.field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The median run (by req/s), every run, and the median CPU per request."""
        ordered = sorted(self.runs, key=lambda run: run["rps"])
        groups = self.runs[0]["cpu_us_per_request"] if self.runs else {}
        return {
            "median": ordered[len(ordered) // 2],
            "runs": self.runs,
            "cpu_us_per_request": {
                group: statistics.median(run["cpu_us_per_request"][group] for run in self.runs)
                for group in groups
            },
            "errors": sum(run["errors"] for run in self.runs),
            "warm_up_answers": self.warm_up_answers,
        }


def compare(
    contenders: Sequence[Contender],
    make: RequestMaker,
    per_run: int,
    rounds: int = ROUNDS,
    seconds: int = SECONDS,
    connections: int = LOAD_CONNECTIONS,
    after_load: Callable[[Contender], None] | None = None,
    together: bool = False,
) -> None:
    """Start every contender, warm each up, then load them in ``rounds``
    interleaved rounds of ``seconds`` at ``connections`` (``together``: in
    each round all at once, each with its own wrk and ``connections``); the
    runs are appended to each contender. ``after_load`` is called for each
    while its server still runs (to read what it counted)."""
    from benchmarks.webhook import answer_kinds

    files: dict[str, list[Path]] = {}
    warm: dict[str, list[tuple[str, str, str]]] = {}
    for k, contender in enumerate(contenders):
        contender.port = contender.port or servers.free_port()
        mine = make(per_run * rounds + WARM_UP, 1000 + k)
        warm[contender.name] = [(r.path, r.signature, r.body) for r in mine[-WARM_UP:]]
        files[contender.name] = [
            signed.write_wrk_file(
                mine[i * per_run : (i + 1) * per_run], WORK / f"paired-{contender.name}-{i}.req"
            )
            for i in range(rounds)
        ]
    with contextlib.ExitStack() as stack:
        running = {}
        for contender in contenders:
            running[contender.name] = stack.enter_context(
                servers.gunicorn(
                    contender.app, contender.port, contender.env, contender.name, cwd=contender.cwd
                )
            )
            answers = servers.warm_up(contender.port, warm[contender.name], WARM_UP)
            contender.warm_up_answers = dict(answer_kinds(answers))
        for i in range(rounds):
            if together:
                # Loaded at the same time: every instant's drift falls on both.
                with concurrent.futures.ThreadPoolExecutor(len(contenders)) as pool:
                    futures = [
                        pool.submit(_load, c, running[c.name], files[c.name][i], seconds, connections)
                        for c in contenders
                    ]
                for contender, future in zip(contenders, futures, strict=True):
                    contender.runs.append(future.result())
                continue
            turn = i % len(contenders)
            for contender in [*contenders[turn:], *contenders[:turn]]:
                contender.runs.append(
                    _load(contender, running[contender.name], files[contender.name][i], seconds, connections)
                )
        if after_load is not None:
            for contender in contenders:
                after_load(contender)


def _load(
    contender: Contender, server: servers.Gunicorn, path: Path, seconds: int, connections: int
) -> dict[str, Any]:
    """One wrk run against ``contender``, with the CPU its web workers spent."""
    with servers.cpu_accounting(server) as spent:
        result = servers.wrk(contender.port, path, seconds, connections, APOLOGY_MARKER)
    per_request = {group: 1e6 * cpu / max(result.requests, 1) for group, cpu in spent.items()}
    return dataclasses.asdict(result) | {
        "rps": result.rps,
        "errors": result.errors,
        "cpu_us_per_request": per_request,
    }


def ratio(subject: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Subject over baseline: req/s round by round and their median, the
    median runs' req/s, and median CPU per request in the web workers and in
    web workers + PostgreSQL together."""

    def served(summary: dict[str, Any]) -> float:
        cpu = summary["cpu_us_per_request"]
        return float(cpu.get("web", 0.0) + cpu.get("postgres", 0.0))

    base_rps = baseline["median"]["rps"]
    base_web = baseline["cpu_us_per_request"].get("web", 0.0)
    # Each round's two runs were back to back, so their ratio carries little
    # of the drift between rounds; the median of those ratios is the verdict.
    by_round = [
        mine["rps"] / theirs["rps"]
        for mine, theirs in zip(subject["runs"], baseline["runs"], strict=True)
        if theirs["rps"]
    ]
    return {
        "rps_by_round": statistics.median(by_round) if by_round else 0.0,
        "rps_rounds": by_round,
        "rps": subject["median"]["rps"] / base_rps if base_rps else 0.0,
        "web_cpu": subject["cpu_us_per_request"].get("web", 0.0) / base_web if base_web else 0.0,
        "served_cpu": served(subject) / served(baseline) if served(baseline) else 0.0,
    }
