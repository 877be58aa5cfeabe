"""Webhook throughput: ``POST /voice/incoming`` (full path) against a bare
Flask app, same gunicorn settings, loaded by wrk on loopback."""

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

from benchmarks import checkout, seed, servers, signed
from benchmarks.config import (
    APP_PORT,
    BARE_PORT,
    BEFORE_PORT,
    LOAD_CONNECTIONS,
    LOAD_SECONDS,
    PG_DATABASE,
    PG_SERVER,
    REDIS_URL,
    WORK,
    app_environ,
)

APOLOGY_MARKER = "cannot take your call right now"
APP = "ivr:create_app()"
BARE = "benchmarks.bare_app:create_app()"
# More distinct calls than a run sends (about 2,000 req/s for 30 s), so every
# request is a new call, as in production; a smaller set rotated would turn
# half the load into Twilio retries of calls already logged.
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "80000"))
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
    subjects = 2 if tree else 1
    # A slice of distinct calls for each app run and each warm-up: no run replays another's.
    reqs = signed.incoming_calls(seeded.lines, seeded.callers, (REQUESTS * RUNS + WARM_UP) * subjects)
    slices = [reqs[i * REQUESTS : (i + 1) * REQUESTS] for i in range(RUNS * subjects)]
    warm = [[(r.path, r.signature, r.body) for r in part] for part in _warm_slices(reqs, subjects)]
    paths = [signed.write_wrk_file(part, WORK / f"incoming-{i}.requests") for i, part in enumerate(slices)]
    flush_redis()
    env = app_environ(url)

    with servers.gunicorn(BARE, BARE_PORT, env, "bare") as bare:
        servers.warm_up(bare.port, warm[0])
        baseline_runs = [_load(bare, paths[0], seconds, connections) for _ in range(RUNS)]

    status_reqs = status_callbacks(seeded, REQUESTS)
    status_path = signed.write_wrk_file(status_reqs, WORK / "status.requests")
    # The commit before gets callbacks of its own: a CallSid already written
    # would cost the current code's event INSERT nothing (ON CONFLICT).
    old_status_path = signed.write_wrk_file(
        status_callbacks(seeded, REQUESTS, 17), WORK / "status-before.requests"
    )
    with contextlib.ExitStack() as stack:
        app = stack.enter_context(servers.gunicorn(APP, APP_PORT, env, "app"))
        kinds = answer_kinds(servers.warm_up(app.port, warm[0]))
        old, old_kinds = None, Counter[str]()
        if tree:
            old_env = checkout.environ(tree, env)
            checkout.check_imports_from(tree, old_env)
            old = stack.enter_context(servers.gunicorn(APP, BEFORE_PORT, old_env, "before", cwd=tree))
            old_kinds = answer_kinds(servers.warm_up(old.port, warm[1]))
        app_runs: list[dict[str, Any]] = []
        old_runs: list[dict[str, Any]] = []
        for i in range(RUNS):
            turns = [(app, app_runs, paths[i])]
            if old:
                # alternate who goes first: the machine's speed drifts from minute to minute
                turns.insert(i % 2, (old, old_runs, paths[RUNS + i]))
            for server, runs, path in turns:
                runs.append(_load(server, path, seconds, connections, APOLOGY_MARKER))
        status_kinds = answer_kinds(
            servers.warm_up(app.port, [(r.path, r.signature, r.body) for r in status_reqs], 100)
        )
        status = servers.wrk(app.port, status_path, seconds, connections, APOLOGY_MARKER)
        old_status = (
            servers.wrk(old.port, old_status_path, seconds, connections, APOLOGY_MARKER) if old else None
        )
        peaks = app.peak_rss_kib()
    queued = Redis.from_url(REDIS_URL).llen("rq:queue:safety")
    flush_redis()
    baseline, result = _median(baseline_runs), _median(app_runs)
    measured = {
        "server": servers.gunicorn_description(),
        "seconds": seconds,
        "connections": connections,
        "runs": RUNS,
        "distinct_requests": len(reqs),
        "warm_up_answers": dict(kinds),
        "baseline": baseline,
        "app": result,
        "baseline_runs": baseline_runs,
        "app_runs": app_runs,
        "ratio": result["rps"] / baseline["rps"] if baseline["rps"] else 0.0,
        # CPU microseconds per request, by process group, in the median runs
        "cpu_us_per_request": {
            "baseline": baseline["cpu_us_per_request"],
            "app": result["cpu_us_per_request"],
        },
        "status_callback": dataclasses.asdict(status) | {"rps": status.rps, "errors": status.errors},
        "status_warm_up_answers": dict(status_kinds),
        "peak_rss_kib": peaks,
        "jobs_queued_in_redis": queued,
    }
    if old_runs:
        median = _median(old_runs)
        old_measured: dict[str, Any] = {
            "commit": before,
            "app": median,
            "app_runs": old_runs,
            "warm_up_answers": dict(old_kinds),
            "current_over_before": result["rps"] / median["rps"] if median["rps"] else 0.0,
        }
        if old_status is not None:
            old_measured["status_callback"] = dataclasses.asdict(old_status) | {
                "rps": old_status.rps,
                "errors": old_status.errors,
            }
        measured["before"] = old_measured
    return measured


def _warm_slices(reqs: list[signed.SignedRequest], subjects: int) -> list[list[signed.SignedRequest]]:
    """The last ``WARM_UP`` calls for each app served, after the runs' slices."""
    tail = reqs[len(reqs) - WARM_UP * subjects :]
    return [tail[i * WARM_UP : (i + 1) * WARM_UP] for i in range(subjects)]


def _load(
    server: servers.Gunicorn, path: Any, seconds: int, connections: int, marker: str = ""
) -> dict[str, Any]:
    """One wrk run, with where the CPU went during it."""
    with servers.cpu_accounting(server) as spent:
        result = servers.wrk(server.port, path, seconds, connections, marker)
    return dataclasses.asdict(result) | {
        "rps": result.rps,
        "errors": result.errors,
        "cpu_us_per_request": _per_request(spent, result.requests),
    }


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median throughput (the middle one of an odd number)."""
    return sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]


def _per_request(spent: dict[str, float], requests: int) -> dict[str, float]:
    return {group: 1e6 * seconds / max(requests, 1) for group, seconds in spent.items()}
