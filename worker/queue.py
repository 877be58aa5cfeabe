"""The one place that enqueues background work.

Callers name a job and pass opaque ids only (never a number, a name or a
form). With ``REDIS_URL`` set, jobs go to RQ; if Redis cannot be reached the
job is written to the outbox table and replayed later, so nothing is lost and
the webhook still answers in time. Without Redis, jobs run in-process.
"""

from __future__ import annotations

import logging
from typing import Protocol

from redis import Redis
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry

from callflows.errortext import safe_traceback
from storage.db import Database
from storage.models import OutboxEntry

log = logging.getLogger(__name__)

QUEUE_NAME = "safety"
# job name -> dotted path of a top-level function taking the ids.
JOBS: dict[str, str] = {
    "ping": "worker.jobs.ping",
    # (call_sid, sequence_number, status, duration_seconds|None, parent_call_sid|None)
    "call_event": "worker.calllog.record_call_event",
    # (report_id, recording_sid)
    "ingest_recording": "worker.recordings.ingest_recording",
    # (report_id)
    "assign_report": "worker.handoff.assign_report",
    # (member_id)
    "pin_lockout_alert": "worker.handoff.alert_pin_lockout",
    # ()
    "flush_outbox": "worker.outbox.flush_outbox",
    # ()
    "apply_retention": "worker.retention.apply_retention",
    # ()
    "sweep_abandoned_reports": "worker.recordings.sweep_abandoned_reports",
}
JobArg = str | int | None
# Marks work that RQ gave up on as failed where staff can see it.
FAILURE_CALLBACK = "worker.jobs.job_failed"


class JobQueue(Protocol):
    def enqueue(self, job: str, *args: JobArg) -> None: ...


def _check(job: str, args: tuple[JobArg, ...]) -> str:
    if job not in JOBS:
        raise KeyError(f"unknown job {job!r}")
    for arg in args:
        if not isinstance(arg, str | int) and arg is not None:
            raise TypeError("jobs take opaque ids only")
    return JOBS[job]


def resolve(path: str):  # type: ignore[no-untyped-def]
    import importlib

    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


class InlineQueue:
    """Runs each job at once in this process (embedded default, no services)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def enqueue(self, job: str, *args: JobArg) -> None:
        path = _check(job, args)
        try:
            resolve(path)(*args)
        except Exception as exc:
            # Keep it for replay rather than failing the caller's request. The
            # stack without messages: a database error's quotes its row.
            log.error("in-process job %s failed; kept in the outbox\n%s", job, safe_traceback(exc))
            write_outbox(self.db, job, args, "failed in-process")


class RedisQueue:
    """RQ on Redis, falling back to the outbox table when Redis is unreachable."""

    def __init__(self, redis: Redis, db: Database) -> None:
        self.redis = redis
        self.db = db
        self.rq = Queue(QUEUE_NAME, connection=redis)

    def enqueue(self, job: str, *args: JobArg) -> None:
        path = _check(job, args)
        try:
            self.push(path, args)
        except RedisError as exc:
            log.warning("Redis unavailable (%s); job %s kept in the outbox", type(exc).__name__, job)
            write_outbox(self.db, job, args, type(exc).__name__)

    def push(self, path: str, args: tuple[JobArg, ...]) -> None:
        self.rq.enqueue(
            path,
            *args,
            retry=Retry(max=5, interval=[5, 30, 120, 600, 1800]),
            failure_ttl=30 * 86400,
            # Runs on every failed attempt; acts once no retry is left.
            on_failure=Callback(FAILURE_CALLBACK),
        )


def write_outbox(db: Database, job: str, args: tuple[JobArg, ...], error: str) -> None:
    with db.session() as session:
        session.add(OutboxEntry(job_name=job, args={"args": list(args)}, last_error=error))


def redis_client(url: str) -> Redis:
    """Short timeouts: a dead Redis must cost a webhook milliseconds, not seconds."""
    return Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5, retry_on_timeout=False)


def make_queue(settings: object, db: Database) -> JobQueue:
    url = getattr(settings, "redis_url", None)
    if url:
        return RedisQueue(redis_client(url), db)
    return InlineQueue(db)
