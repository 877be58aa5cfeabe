"""Scale: inbound-call webhook latency with 1,000 members against the same
database grown to 1,000,000 members, 1,000,000 warnings and (up to)
10,000,000 call rows; then the staff inbox with 100,000 reports."""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

from sqlalchemy import create_engine

from benchmarks import seed, servers, webhook
from benchmarks.config import APP_PORT, WORK, app_environ

MEMBERS = int(os.environ.get("BENCH_SCALE_MEMBERS", "1000000"))
WARNINGS = int(os.environ.get("BENCH_SCALE_WARNINGS", "1000000"))
CALLS = int(os.environ.get("BENCH_SCALE_CALLS", "10000000"))
CALLS_BUDGET = float(os.environ.get("BENCH_SCALE_CALLS_BUDGET", "1200"))
REPORTS = int(os.environ.get("BENCH_SCALE_REPORTS", "100000"))
LATENCY_SECONDS = int(os.environ.get("BENCH_SCALE_SECONDS", "20"))
LATENCY_CONNECTIONS = 4


def _latency(url: str, request_file: Any, name: str) -> dict[str, Any]:
    """wrk at a light load (4 connections): latency, not throughput."""
    with servers.gunicorn("ivr:create_app()", APP_PORT, app_environ(url), name) as app:
        reqs = [line.split("\t") for line in request_file.read_text().splitlines()[:300]]
        kinds = webhook.answer_kinds([servers.post(app.port, p, s, b) for p, s, b in reqs])
        result = servers.wrk(
            app.port, request_file, LATENCY_SECONDS, LATENCY_CONNECTIONS, webhook.APOLOGY_MARKER
        )
    return dataclasses.asdict(result) | {"rps": result.rps, "errors": result.errors, "answers": dict(kinds)}


def run() -> dict[str, Any]:
    url, seeded = webhook.prepare()
    _, path = webhook.request_file(seeded, "scale", 20000)
    engine = create_engine(url)
    small_counts = seed.table_counts(engine)
    small = _latency(url, path, "scale-small")
    webhook.flush_redis()

    timings: dict[str, Any] = {}
    t0 = time.monotonic()
    timings["members_seconds"] = round(seed.filler_members(engine, MEMBERS - small_counts["members"]), 1)
    timings["warnings_seconds"] = round(seed.filler_warnings(engine, WARNINGS - small_counts["warnings"]), 1)
    timings["calls"] = seed.filler_calls_within(engine, CALLS - small_counts["calls"], CALLS_BUDGET)
    timings["total_seconds"] = round(time.monotonic() - t0, 1)
    seed.settle(url)  # as webhook.prepare() left the small database
    large_counts = seed.table_counts(engine)
    # the large run calls new CallSids: same callers and lines, new calls
    _, path_large = webhook.request_file(seeded, "scale-large", 20000)
    large = _latency(url, path_large, "scale-large")
    webhook.flush_redis()

    inbox = _staff_inbox(url, engine)
    engine.dispose()
    return {
        "small": {"counts": small_counts, "latency": small},
        "large": {"counts": large_counts, "latency": large},
        "seeding": timings,
        "p50_ratio": large["p50_ms"] / small["p50_ms"],
        "p99_ratio": large["p99_ms"] / small["p99_ms"],
        "mean_ratio": large["mean_ms"] / small["mean_ms"],
        "load": f"wrk 1 thread, {LATENCY_CONNECTIONS} connections, {LATENCY_SECONDS} s",
        "staff_inbox": inbox,
        "work": str(WORK),
    }


def _staff_inbox(url: str, engine: Any) -> dict[str, Any]:
    try:
        from benchmarks import staff_inbox
    except ImportError as exc:  # the staff console may not be there yet
        return {"skipped": f"{type(exc).__name__}: {exc}"}
    return staff_inbox.measure(url, engine, REPORTS)
