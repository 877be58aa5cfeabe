"""Webhook throughput: ``POST /voice/incoming`` (full path) against two
yardsticks, same gunicorn settings, loaded by wrk on loopback: a bare Flask
app (no work at all) and the floor (``benchmarks/floor_app.py``, the leanest
correct webhook). Each at 50 connections and at one, rounds interleaved.

A second copy of the floor is measured like the others: two identical
servers differ in a run only by the machine's noise, so their ratio is the
resolution of every other ratio of the run."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

from redis import Redis
from sqlalchemy import create_engine

from benchmarks import (
    callbacks_floor,
    checkout,
    dial_latency,
    floor_profile,
    seed,
    servers,
    signed,
    statement_cost,
)
from benchmarks.config import (
    APP_PORT,
    BARE_PORT,
    BEFORE_PORT,
    FLOOR_COPY_PORT,
    FLOOR_PORT,
    LOAD_CONNECTIONS,
    LOAD_SECONDS,
    PG_DATABASE,
    PG_SERVER,
    REDIS_URL,
    ROOT,
    WORK,
    app_environ,
)

APOLOGY_MARKER = "cannot take your call right now"
APP = "ivr:create_app()"
BARE = "benchmarks.bare_app:create_app()"
FLOOR = "benchmarks.floor_app:create_app()"
# More distinct calls than a run sends (about 2,000 req/s for 30 s), so every
# request is a new call, as in production; a smaller set rotated would turn
# half the load into Twilio retries of calls already logged.
REQUESTS = int(os.environ.get("BENCH_REQUESTS", str(2500 * LOAD_SECONDS)))
# Load runs of each server, back to back. This machine's speed drifts by
# ±15 % from one minute to the next (the same run repeated gave 1,300 to
# 1,700 req/s), so one run can mislead: every run is kept, the median reported.
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
WARM_UP = 200  # calls of their own, sent before the runs


def callers(count: int = 2000, seed_: int = 11) -> list[str]:
    import random

    rng = random.Random(seed_)
    return sorted({signed.random_caller(rng) for _ in range(count)})


def prepare(small: bool = True) -> tuple[str, seed.Seeded]:
    """A fresh benchmark database with 1,000 members (50 of them called by the load)."""
    url = seed.recreate_database(PG_SERVER, PG_DATABASE)
    engine = create_engine(url)
    seeded = seed.real_members(engine, callers())
    if small:
        seed.filler_members(engine, 1000 - seed.REAL_MEMBERS)
        seed.filler_warnings(engine, 1000)
        seed.filler_calls(engine, 10000)
    engine.dispose()
    seed.settle(url)
    return url, seeded


def request_file(seeded: seed.Seeded, name: str, count: int = REQUESTS) -> Any:
    reqs = signed.incoming_calls(seeded.lines, seeded.callers, count)
    return reqs, signed.write_wrk_file(reqs, WORK / f"{name}.requests")


def status_callbacks(seeded: seed.Seeded, count: int, seed_: int = 13) -> list[signed.SignedRequest]:
    """``POST /voice/status``: signature check and one enqueue each, distinct CallSids."""
    import random

    rng = random.Random(seed_)
    return [
        signed.status_callback(
            signed.call_sid(),
            rng.randrange(4),
            "completed",
            rng.choice(seeded.lines),
            rng.choice(seeded.callers),
        )
        for _ in range(count)
    ]


def answer_kinds(answers: list[tuple[int, bytes]]) -> Counter[str]:
    """What the app answered: the first verb of each TwiML, or the failure."""
    kinds: Counter[str] = Counter()
    for status, body in answers:
        if status != 200:
            kinds[f"HTTP {status}"] += 1
            continue
        try:
            root = ET.fromstring(body)  # noqa: S314 (our own server's answer)
        except ET.ParseError:
            kinds["not XML"] += 1
            continue
        if root.tag != "Response":
            kinds["not TwiML"] += 1
        elif APOLOGY_MARKER.encode() in body:
            kinds["apology (internal failure)"] += 1
        else:
            kinds["+".join(child.tag for child in root) or "empty"] += 1
    return kinds


def flush_redis(url: str = REDIS_URL) -> None:
    client = Redis.from_url(url)
    client.flushdb()
    client.close()


def run(
    seconds: int = LOAD_SECONDS, connections: int = LOAD_CONNECTIONS, before: str | None = None
) -> dict[str, Any]:
    """The bare baseline, then the app; with ``before`` (a git revision) the
    app as of that commit too, served from a worktree on the same database,
    its load runs taking turns with the current app's."""
    if not before:
        return _run(seconds, connections, None, None)
    with checkout.worktree(before) as tree:
        return _run(seconds, connections, before, tree)


def _run(seconds: int, connections: int, before: str | None, tree: Path | None) -> dict[str, Any]:
    url, seeded = prepare()
    env = app_environ(url)
    subjects = [
        Subject("bare", BARE, BARE_PORT, env),
        Subject("floor", FLOOR, FLOOR_PORT, env, APOLOGY_MARKER),
        Subject("app", APP, APP_PORT, env, APOLOGY_MARKER),
        Subject("floor_copy", FLOOR, FLOOR_COPY_PORT, env, APOLOGY_MARKER),
    ]
    if tree:
        old_env = checkout.environ(tree, env)
        checkout.check_imports_from(tree, old_env)
        subjects.append(Subject("before", APP, BEFORE_PORT, old_env, APOLOGY_MARKER, tree))
    # A slice of distinct calls for each run and each warm-up: no run replays
    # another's (the bare app answers the same whatever it is sent).
    writers = [s for s in subjects if s.name != "bare"]
    per_subject = 2 * RUNS  # loaded and unloaded runs
    share = REQUESTS * per_subject + WARM_UP
    reqs = signed.incoming_calls(seeded.lines, seeded.callers, share * len(writers))
    for k, subject in enumerate(writers):
        mine = reqs[k * share : (k + 1) * share]
        subject.warm = [(r.path, r.signature, r.body) for r in mine[-WARM_UP:]]
        subject.paths = [
            signed.write_wrk_file(mine[i * REQUESTS : (i + 1) * REQUESTS], WORK / f"{subject.name}{i}.req")
            for i in range(per_subject)
        ]
    subjects[0].warm, subjects[0].paths = writers[0].warm, writers[0].paths
    flush_redis()

    status_reqs = status_callbacks(seeded, REQUESTS)
    status_path = signed.write_wrk_file(status_reqs, WORK / "status.requests")
    # The commit before gets callbacks of its own: a CallSid already written
    # would cost the current code's event INSERT nothing (ON CONFLICT).
    old_status_path = signed.write_wrk_file(
        status_callbacks(seeded, REQUESTS, 17), WORK / "status-before.requests"
    )
    with contextlib.ExitStack() as stack:
        for subject in subjects:
            subject.server = stack.enter_context(
                servers.gunicorn(subject.app, subject.port, subject.env, subject.name, cwd=subject.cwd)
            )
            subject.answers = answer_kinds(servers.warm_up(subject.port, subject.warm))
        # Rounds interleaved, who goes first rotating: the machine's speed
        # drifts from minute to minute, and every server sees the same drift.
        for i in range(RUNS):
            order = subjects[i % len(subjects) :] + subjects[: i % len(subjects)]
            for subject in order:
                subject.loaded.append(_load(subject, subject.paths[2 * i], seconds, connections))
            for subject in order:
                subject.unloaded.append(_load(subject, subject.paths[2 * i + 1], seconds, 1))
        named = {subject.name: subject for subject in subjects}
        app = named["app"].server
        assert app is not None
        status_kinds = answer_kinds(
            servers.warm_up(app.port, [(r.path, r.signature, r.body) for r in status_reqs], 100)
        )
        status = servers.wrk(app.port, status_path, seconds, connections, APOLOGY_MARKER)
        old_status = (
            servers.wrk(named["before"].port, old_status_path, seconds, connections, APOLOGY_MARKER)
            if tree
            else None
        )
        # The status callback and the whisper, each against a floor of its own.
        callbacks = callbacks_floor.measure(
            [named["floor"], named["app"]],
            seeded,
            url,
            load=lambda subject, path, _round: _load(subject, path, seconds, connections),
            rounds=RUNS,
            status_callbacks=status_callbacks,
            warm_up=lambda subject, reqs: dict(
                answer_kinds(servers.warm_up(subject.port, [(r.path, r.signature, r.body) for r in reqs]))
            ),
        )
        peaks = app.peak_rss_kib()
    queued = Redis.from_url(REDIS_URL).llen("rq:queue:safety")
    flush_redis()
    # A lone caller's wait for the <Dial>, and the database's part of it.
    dial = dial_latency.measure(url, seeded)
    flush_redis()
    # Where the project's call spends CPU the floor's does not (in-process).
    profile = floor_profile.measure(url, seeded)
    # PostgreSQL's side of the same: each statement on its own.
    statements = statement_cost.measure(url, seeded)
    bare, floor, project, copy = (named[name] for name in ("bare", "floor", "app", "floor_copy"))
    baseline, result, floor_result = _median(bare.loaded), _median(project.loaded), _median(floor.loaded)
    measured: dict[str, Any] = {
        "server": servers.gunicorn_description(),
        "seconds": seconds,
        "connections": connections,
        "runs": RUNS,
        "distinct_requests": len(reqs),
        "warm_up_answers": dict(project.answers),
        "floor_warm_up_answers": dict(floor.answers),
        "baseline": baseline,
        "floor": floor_result,
        "app": result,
        "baseline_runs": bare.loaded,
        "floor_runs": floor.loaded,
        "app_runs": project.loaded,
        "ratio": _ratio(result["rps"], baseline["rps"]),
        "floor_ratio": _ratio(result["rps"], floor_result["rps"]),
        "p99_over_floor": _ratio(result["p99_ms"], floor_result["p99_ms"]),
        # The resolution: two identical floors, measured alike in the same rounds.
        "floor_copy": _median(copy.loaded),
        "floor_copy_runs": copy.loaded,
        "floor_copy_ratio": _ratio(_median(copy.loaded)["rps"], floor_result["rps"]),
        "round_ratios": {"app": _round_ratios(project, floor), "floor_copy": _round_ratios(copy, floor)},
        # one connection: what a lone caller waits, median and p99 of each run
        "unloaded": {s.name: {"median": _median_latency(s.unloaded), "runs": s.unloaded} for s in subjects},
        # CPU microseconds per request, by process group, in the median runs
        "cpu_us_per_request": {
            "baseline": baseline["cpu_us_per_request"],
            "floor": floor_result["cpu_us_per_request"],
            "app": result["cpu_us_per_request"],
        },
        "status_callback": dataclasses.asdict(status) | {"rps": status.rps, "errors": status.errors},
        "status_warm_up_answers": dict(status_kinds),
        "callbacks": callbacks,
        "dial_latency": dial,
        "floor_profile": profile,
        "statement_cost": statements,
        "peak_rss_kib": peaks,
        "jobs_queued_in_redis": queued,
    }
    lone = {name: u["median"]["p50_ms"] for name, u in measured["unloaded"].items()}
    measured["unloaded_p50_over_floor"] = _ratio(lone["app"], lone["floor"])
    measured["unloaded_p50_floor_copy_over_floor"] = _ratio(lone["floor_copy"], lone["floor"])
    # The wait a lone caller has over HTTP (the unloaded runs' median), and
    # the database's share of it (its statements' time, measured in-process).
    dial["http_p50_ms"] = lone["app"]
    dial["database_share_of_http_p50"] = _ratio(dial["database_ms_p50"], lone["app"])
    if tree:
        old = named["before"]
        median = _median(old.loaded)
        old_measured: dict[str, Any] = {
            "commit": before,
            "app": median,
            "app_runs": old.loaded,
            "warm_up_answers": dict(old.answers),
            "current_over_before": _ratio(result["rps"], median["rps"]),
        }
        if old_status is not None:
            old_measured["status_callback"] = dataclasses.asdict(old_status) | {
                "rps": old_status.rps,
                "errors": old_status.errors,
            }
        measured["before"] = old_measured
    return measured


@dataclasses.dataclass
class Subject:
    """One server measured: its gunicorn app, and its runs as they come."""

    name: str
    app: str
    port: int
    env: dict[str, str]
    marker: str = ""
    cwd: Path = ROOT
    warm: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)
    paths: list[Path] = dataclasses.field(default_factory=list)
    server: servers.Gunicorn | None = None
    answers: Counter[str] = dataclasses.field(default_factory=Counter)
    loaded: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    unloaded: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def _load(subject: Subject, path: Path, seconds: int, connections: int) -> dict[str, Any]:
    """One wrk run, with where the CPU went during it, from a fresh checkpoint."""
    assert subject.server is not None
    _checkpoint(subject.env["DATABASE_URL"])
    with servers.cpu_accounting(subject.server) as spent:
        result = servers.wrk(subject.port, path, seconds, connections, subject.marker)
    return dataclasses.asdict(result) | {
        "rps": result.rps,
        "errors": result.errors,
        "cpu_us_per_request": _per_request(spent, result.requests),
    }


def _checkpoint(database_url: str) -> None:
    """Have PostgreSQL write its checkpoint now, before the run rather than
    inside it. A 30 s run writes 60 to 80 MB of WAL (about 1.8 KB a call
    just after a checkpoint, measured 2026-12-04); PostgreSQL checkpoints
    every few hundred MB, so without this a checkpoint (its writes, and the
    full-page images every page changed after it costs) fell inside one
    server's run or another's, by chance, and was counted as that server's
    CPU and latency."""
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CHECKPOINT")
    finally:
        engine.dispose()


def _round_ratios(subject: Subject, baseline: Subject) -> list[float]:
    """Each round's req/s of ``subject`` over ``baseline``'s (their runs were in the same round)."""
    pairs = zip(subject.loaded, baseline.loaded, strict=True)
    return [_ratio(mine["rps"], theirs["rps"]) for mine, theirs in pairs]


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median throughput (the middle one of an odd number)."""
    return sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]


def _median_latency(runs: list[dict[str, Any]]) -> dict[str, float]:
    """The median, over runs, of each run's median and p99 latency."""
    import statistics

    return {
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "rps": statistics.median(r["rps"] for r in runs),
    }


def _per_request(spent: dict[str, float], requests: int) -> dict[str, float]:
    return {group: 1e6 * seconds / max(requests, 1) for group, seconds in spent.items()}
