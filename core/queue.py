"""The one place that enqueues background work.

Callers name a job and pass opaque ids only (never a number, a name or a
form). With ``REDIS_URL`` set, jobs go to RQ; if Redis cannot be reached the
job is written to the outbox table and replayed later, so nothing is lost and
the webhook still answers in time. Without Redis, jobs run in-process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any, Protocol

from redis import Redis
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry

from callflows.errortext import safe_traceback
from storage.db import Database
from storage.models import OutboxEntry

log = logging.getLogger(__name__)

QUEUE_NAME = "safety"
# An outbox entry whose job failed this many replays is given up on
# (worker/outbox.py); it then shows as failed (core/failed_jobs.py, /metrics).
OUTBOX_MAX_ATTEMPTS = 10
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
    # () periodic, and after a member is erased
    "compute_signals": "worker.signals.compute_signals",
    # ("call" | "block" | "report", row id), after a decline, block or report
    "refresh_signals": "worker.signals.refresh_signals",
    # (signal_id)
    "signal_alert": "worker.signals.alert_signal",
    # (staff_call_id): ring the caseworker's phone for a masked call to a member
    "place_staff_call": "worker.staff_calls.place_staff_call",
    # (call_sid), PROVIDER_RECORD_DELAY_SECONDS after the leg completed
    "delete_provider_records": "worker.provider_records.delete_provider_records",
}
JobArg = str | int | None
# Marks work that RQ gave up on as failed where staff can see it.
FAILURE_CALLBACK = "worker.jobs.job_failed"


class JobQueue(Protocol):
    def enqueue(self, job: str, *args: JobArg) -> None: ...
    def enqueue_in(self, delay_seconds: float, job: str, *args: JobArg) -> None: ...


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
    """Runs each job at once in this process (the embedded default).

    ``job_context`` makes the enqueuing app's services the ones the job
    finds (``core.services.bound``): the queue cannot import them itself.
    """

    def __init__(self, db: Database, job_context: Callable[[], AbstractContextManager[object]]) -> None:
        self.db = db
        self.job_context = job_context

    def enqueue(self, job: str, *args: JobArg) -> None:
        path = _check(job, args)
        try:
            with self.job_context():
                resolve(path)(*args)
        except Exception as exc:
            # Keep it for replay rather than failing the caller's request. The
            # stack without messages: a database error's quotes its row.
            log.error("in-process job %s failed; kept in the outbox\n%s", job, safe_traceback(exc))
            write_outbox(self.db, job, args, "failed in-process")

    def enqueue_in(self, delay_seconds: float, job: str, *args: JobArg) -> None:
        """Run the job in this process once ``delay_seconds`` have passed.

        A daemon timer: if the process stops first the job is lost, so only
        jobs with a sweep behind them are delayed (the retention sweep
        deletes call records a lost timer left at Twilio).
        """
        _check(job, args)
        if delay_seconds <= 0:
            self.enqueue(job, *args)
            return
        timer = threading.Timer(delay_seconds, self.enqueue, args=(job, *args))
        timer.daemon = True
        timer.name = f"delayed-{job}"
        timer.start()


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

    def enqueue_in(self, delay_seconds: float, job: str, *args: JobArg) -> None:
        """Queue the job to run once ``delay_seconds`` have passed (RQ's
        scheduler moves it to the queue). Without Redis it goes to the
        outbox, whose next flush queues it: sooner than asked, never lost."""
        path = _check(job, args)
        if delay_seconds <= 0:
            self.enqueue(job, *args)
            return
        try:
            self.rq.enqueue_in(timedelta(seconds=delay_seconds), path, *args, **_job_options())
        except RedisError as exc:
            log.warning("Redis unavailable (%s); job %s kept in the outbox", type(exc).__name__, job)
            write_outbox(self.db, job, args, type(exc).__name__)

    def push(self, path: str, args: tuple[JobArg, ...]) -> None:
        self.rq.enqueue(path, *args, **_job_options())


def _job_options() -> dict[str, Any]:
    """Retries with backoff, failures kept a month, the final-failure hook."""
    return {
        "retry": Retry(max=5, interval=[5, 30, 120, 600, 1800]),
        "failure_ttl": 30 * 86400,
        # Runs on every failed attempt; acts once no retry is left.
        "on_failure": Callback(FAILURE_CALLBACK),
    }


def write_outbox(db: Database, job: str, args: tuple[JobArg, ...], error: str) -> None:
    with db.session() as session:
        session.add(OutboxEntry(job_name=job, args={"args": list(args)}, last_error=error))


def redis_client(url: str) -> Redis:
    """Short timeouts: a dead Redis must cost a webhook milliseconds, not seconds."""
    return Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5, retry_on_timeout=False)
