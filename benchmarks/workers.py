"""Worker throughput, in one run on the same Redis, jobs enqueued through
the app's queue: RQ no-op jobs (``worker.jobs.ping``) on RQ's own
``SimpleWorker`` (burst mode, one process), the yardstick; then call-event
jobs on the worker the Procfile runs, ``python -m worker``, exactly as
deployed (its supervisor, its worker class, its scheduler), timed from the
moment it may start until the last job is done. Redis memory is read before
and after the deployed worker's jobs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from redis import Redis
from rq import Queue, Worker
from rq.suspension import resume, suspend
from sqlalchemy import create_engine, text

from benchmarks import seed, servers, webhook
from benchmarks.config import REDIS_URL, ROOT, WORK, app_environ
from core.services import build_services
from core.settings import load_settings

JOBS = int(os.environ.get("BENCH_JOBS", "4000"))  # no-op jobs on SimpleWorker
DEPLOYED_JOBS = int(os.environ.get("BENCH_DEPLOYED_JOBS", "10000"))  # call events on python -m worker
EVENTS = ("initiated", "ringing", "in-progress", "completed")  # the status callbacks of each call
CALL_SECONDS = 42  # how long each call lasted, by its "completed" callback
SWEEP_PERIOD = 86400  # the deployed worker's events sweep during the run (see _deployed)


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


def _deployed(url: str, jobs: int, enqueue: Any) -> dict[str, Any]:
    """``python -m worker`` started and idle, RQ's workers suspended while
    ``enqueue`` fills the queue; then resumed and timed until the queue is
    empty and no job is running. Its log is kept in the bench work folder."""
    redis = Redis.from_url(REDIS_URL)
    queue = Queue("safety", connection=redis)
    suspend(redis)
    log = (WORK / "worker-deployed.log").open("wb")
    # As deployed but for one setting: the events sweep. Filling the queue
    # takes minutes on this machine, and once resumed the sweep would ring
    # again for every event older than its grace (two minutes), adding
    # thousands of doorbells that find their event done to the timed run.
    env = app_environ(url) | {"SCHEDULE_PERIODS": f"sweep_events={SWEEP_PERIOD}"}
    process = subprocess.Popen([sys.executable, "-m", "worker"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while not Worker.all(connection=redis) and time.monotonic() < deadline:
            time.sleep(0.1)
        enqueue()
        memory_before = int(redis.info("memory")["used_memory"])
        queued = queue.count
        started = time.perf_counter()
        resume(redis)
        while queue.count or queue.started_job_registry.count:
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        memory_after = int(redis.info("memory")["used_memory"])
        return {
            "jobs": queued,
            "seconds": seconds,
            "jobs_per_second": queued / seconds,
            "failed": queue.failed_job_registry.count,
            "finished_kept": queue.finished_job_registry.count,
            "redis_used_memory_before": memory_before,
            "redis_used_memory_after": memory_after,
            "redis_used_memory_per_job": (memory_after - memory_before) / max(queued, 1),
            "processes": 1 + len(servers.child_pids(process.pid)),
            "sweep_period_seconds": SWEEP_PERIOD,
        }
    finally:
        servers.terminate(process, timeout=30)
        log.close()
        redis.close()


def run(jobs: int = JOBS, deployed_jobs: int = DEPLOYED_JOBS) -> dict[str, Any]:
    url, _ = webhook.prepare()
    webhook.flush_redis()
    svc = services(url)

    for i in range(jobs):
        svc.queue.enqueue("ping", f"token{i}")
    ping = _drain(url)
    webhook.flush_redis()

    # Inbound calls the webhook logged, then four status callbacks each.
    calls = deployed_jobs // len(EVENTS)
    engine = create_engine(url)
    seed.ringing_calls(engine, "CAbench", calls)
    event = _deployed(url, calls * len(EVENTS), lambda: enqueue_call_events(svc, "CAbench", calls))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM call_events")).scalar_one()
        completed = conn.execute(
            text("SELECT count(*) FROM calls WHERE call_sid LIKE 'CAbench%' AND status = 'completed'")
        ).scalar_one()
    engine.dispose()
    svc.db.engine.dispose()
    webhook.flush_redis()
    return {
        "worker": "`python -m worker` (the Procfile's), as deployed",
        "yardstick": "RQ SimpleWorker, burst mode, 1 process, no-op job",
        "ping": ping,
        "call_event": event,
        "ratio": event["jobs_per_second"] / ping["jobs_per_second"],
        "call_event_rows": rows,
        "calls_completed": completed,
        "calls": calls,
    }
