"""Worker throughput: call-event jobs per second against RQ no-op jobs
(``worker.jobs.ping``), same worker class (RQ ``SimpleWorker``, burst mode,
one process) on the same Redis, jobs enqueued through the app's queue."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import create_engine, text

from benchmarks import seed, servers, webhook
from benchmarks.config import app_environ
from core.services import build_services
from core.settings import load_settings

JOBS = int(os.environ.get("BENCH_JOBS", "4000"))
EVENTS = ("initiated", "ringing", "in-progress", "completed")  # the status callbacks of each call
CALL_SECONDS = 42  # how long each call lasted, by its "completed" callback


def services(url: str) -> Any:
    """The services of the app, built in this process with the benchmark environment."""
    env = app_environ(url)
    return build_services(load_settings(env, env["SAFETY_INSTANCE_PATH"]))


def enqueue_call_events(svc: Any, prefix: str, calls: int) -> None:
    """Every status callback of calls ``prefix`` + 8 digits from 1, one job each, in order."""
    for seq, status in enumerate(EVENTS):
        for g in range(1, calls + 1):
            duration = CALL_SECONDS if status == "completed" else None
            svc.queue.enqueue("call_event", f"{prefix}{g:08d}", seq, status, duration, None)


def _drain(url: str) -> dict[str, Any]:
    result = servers.run_module("benchmarks.burst", env=app_environ(url))
    result["jobs_per_second"] = result["jobs"] / result["seconds"]
    return result


def run(jobs: int = JOBS) -> dict[str, Any]:
    url, _ = webhook.prepare()
    webhook.flush_redis()
    svc = services(url)

    for i in range(jobs):
        svc.queue.enqueue("ping", f"token{i}")
    ping = _drain(url)

    # Inbound calls the webhook logged, then four status callbacks each.
    calls = jobs // len(EVENTS)
    engine = create_engine(url)
    seed.ringing_calls(engine, "CAbench", calls)
    enqueue_call_events(svc, "CAbench", calls)
    event = _drain(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM call_events")).scalar_one()
        completed = conn.execute(
            text("SELECT count(*) FROM calls WHERE call_sid LIKE 'CAbench%' AND status = 'completed'")
        ).scalar_one()
    engine.dispose()
    svc.db.engine.dispose()
    webhook.flush_redis()
    return {
        "worker": "rq SimpleWorker, burst mode, 1 process",
        "ping": ping,
        "call_event": event,
        "ratio": event["jobs_per_second"] / ping["jobs_per_second"],
        "call_event_rows": rows,
        "calls_completed": completed,
        "calls": calls,
    }
