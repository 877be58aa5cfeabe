"""The one place that enqueues background work: write the event, then ring.

Callers name a job and pass opaque ids only (never a number, a name or a
form). Every job is first written to the ``events`` table in PostgreSQL
(storage/events.py) — in the caller's own transaction when it has one
(:meth:`EventQueue.enqueue_with`), else by one autocommitted statement — and
only then is the doorbell rung: RQ gets a job carrying the event's id alone
(with ``REDIS_URL``), or the in-process runner runs it at once (embedded).
A doorbell that is never heard (Redis down, emptied by a restart or a
failover, no worker running) loses nothing: the periodic sweep
(``worker.events.sweep_events``) rings again for every event not done.

Only when the database itself cannot be reached does the job travel in Redis
with its ids (``worker.events.record_and_run``), to be written to the table
when it runs: either store down alone loses nothing.
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
from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

from callflows.errortext import safe_traceback
from storage import events
from storage.db import Database
from storage.statements import DATABASE_ERRORS

log = logging.getLogger(__name__)

QUEUE_NAME = "safety"
# job name -> dotted path of a top-level function taking the ids.
JOBS: dict[str, str] = {
    "ping": "worker.jobs.ping",
    # (call_sid, sequence_number, status, duration_seconds|None, parent_call_sid|None)
    "call_event": "worker.calllog.record_call_event",
    # (report_id, call_sid, recording_sid, status): a recording callback
    # that arrived while the database was down
    "recording_callback": "worker.recordings.accept_recording_callback",
    # (report_id, recording_sid)
    "ingest_recording": "worker.recordings.ingest_recording",
    # (report_id)
    "assign_report": "worker.handoff.assign_report",
    # (member_id)
    "pin_lockout_alert": "worker.handoff.alert_pin_lockout",
    # () — rings again for events not done (Redis emptied, no worker ran)
    "sweep_events": "worker.events.sweep_events",
    # ()
    "apply_retention": "worker.retention.apply_retention",
    # ()
    "sweep_abandoned_reports": "worker.recordings.sweep_abandoned_reports",
    # () periodic, and after a member is erased
    "compute_signals": "worker.signals.compute_signals",
    # ("call" | "block" | "report", row id), after a decline, block or report
    "refresh_signals": "worker.signals.refresh_signals",
    # () after a count that raised signals: one email listing every alert due
    "send_signal_alerts": "worker.signals.send_signal_alerts",
    # (signal_id) events written before the job above: they send every due alert too
    "signal_alert": "worker.signals.alert_signal",
    # (staff_call_id): ring the caseworker's phone for a masked call to a member
    "place_staff_call": "worker.staff_calls.place_staff_call",
    # () periodic: call members whose check-in is due, count calls that never reported back
    "fire_due_checkins": "worker.checkins.fire_due_checkins",
    # (alarm_id): email the on-call staff a link to a check-in alarm
    "checkin_alarm_mail": "worker.checkins.email_checkin_alarm",
    # (alarm_id): call the member's buddy from their Safety Number
    "checkin_buddy_call": "worker.checkins.call_checkin_buddy",
    # (call_sid), PROVIDER_RECORD_DELAY_SECONDS after the leg completed
    "delete_provider_records": "worker.provider_records.delete_provider_records",
}
JobArg = str | int | None
# What RQ runs: the event's id is its only argument.
RUN_EVENT = "worker.events.run_event"
# What RQ runs when the database was down: the job's ids, written when it runs.
RECORD_AND_RUN = "worker.events.record_and_run"
# Marks work that RQ gave up on as failed where staff can see it.
FAILURE_CALLBACK = "worker.jobs.job_failed"


class JobQueue(Protocol):
    def enqueue(self, job: str, *args: JobArg, key: str | None = None) -> None: ...
    def enqueue_in(self, delay_seconds: float, job: str, *args: JobArg, key: str | None = None) -> None: ...
    def enqueue_with(
        self, session: Session, job: str, *args: JobArg, key: str | None = None, delay_seconds: float = 0
    ) -> None: ...
    def record_with(
        self, session: Session, job: str, *args: JobArg, key: str | None = None, delay_seconds: float = 0
    ) -> int | None: ...
    def ring(self, event_id: int, delay_seconds: float = 0) -> bool: ...


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


class EventQueue:
    """Writes each job as an event, then rings (subclasses say how).

    ``key`` is the event's natural key (``call:<CallSid>:<SequenceNumber>``,
    ``recording:<RecordingSid>:completed`` …): an event whose key was
    already written is a replay, and nothing is written or rung for it.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def enqueue(self, job: str, *args: JobArg, key: str | None = None) -> None:
        self.enqueue_in(0, job, *args, key=key)

    def enqueue_in(self, delay_seconds: float, job: str, *args: JobArg, key: str | None = None) -> None:
        """One autocommitted INSERT (no BEGIN/COMMIT round trips), then the doorbell."""
        _check(job, args)
        try:
            event_id = events.insert(self.db.statements, job, args, key, delay_seconds)
        except DATABASE_ERRORS as exc:
            self.database_down(job, args, key, delay_seconds, exc)
            return
        if event_id is not None:
            self.ring(event_id, delay_seconds)

    def enqueue_with(
        self, session: Session, job: str, *args: JobArg, key: str | None = None, delay_seconds: float = 0
    ) -> None:
        """Write the event in ``session``'s transaction, with whatever else it
        writes; the doorbell rings once that commits (never for a rollback)."""
        event_id = self.record_with(session, job, *args, key=key, delay_seconds=delay_seconds)
        if event_id is not None:
            _ring_after_commit(session, self, event_id, delay_seconds)

    def record_with(
        self, session: Session, job: str, *args: JobArg, key: str | None = None, delay_seconds: float = 0
    ) -> int | None:
        """Write the event in ``session``'s transaction and leave the ringing
        to the caller (:meth:`ring`, once committed): the event's id, or None
        for a replay. For a webhook whose answer must not wait for the job."""
        _check(job, args)
        return events.insert(session, job, args, key, delay_seconds)

    def ring(self, event_id: int, delay_seconds: float = 0) -> bool:
        """Prompt the event's processing; False when the prompt could not be given."""
        raise NotImplementedError

    def database_down(
        self, job: str, args: tuple[JobArg, ...], key: str | None, delay_seconds: float, exc: Exception
    ) -> None:
        raise exc


_TO_RING = "events_to_ring"


def _ring_after_commit(session: Session, queue: EventQueue, event_id: int, delay_seconds: float) -> None:
    pending: list[tuple[EventQueue, int, float]] | None = session.info.get(_TO_RING)
    if pending is None:
        pending = session.info[_TO_RING] = []
        orm_event.listen(session, "after_commit", _ring_pending)
        orm_event.listen(session, "after_rollback", _forget_pending)
    pending.append((queue, event_id, delay_seconds))


def _ring_pending(session: Session) -> None:
    pending: list[tuple[EventQueue, int, float]] = session.info.get(_TO_RING, [])
    ringing, pending[:] = list(pending), []
    for queue, event_id, delay_seconds in ringing:
        queue.ring(event_id, delay_seconds)


def _forget_pending(session: Session) -> None:
    session.info.get(_TO_RING, []).clear()


class InlineQueue(EventQueue):
    """Runs each event at once in this process (the embedded default).

    ``job_context`` makes the enqueuing app's services the ones the job
    finds (``core.services.bound``): the queue cannot import them itself.
    A job that fails stays in the table with its error type, for the sweep.
    """

    def __init__(self, db: Database, job_context: Callable[[], AbstractContextManager[object]]) -> None:
        super().__init__(db)
        self.job_context = job_context

    def ring(self, event_id: int, delay_seconds: float = 0) -> bool:
        """Run the event now, or on a daemon timer once ``delay_seconds``
        have passed (a timer dies with its process; the event does not, and
        the sweep runs it)."""
        if delay_seconds > 0:
            timer = threading.Timer(delay_seconds, self.run, args=(event_id,))
            timer.daemon = True
            timer.name = f"delayed-event-{event_id}"
            timer.start()
            return True
        self.run(event_id)
        return True

    def run(self, event_id: int) -> None:
        try:
            with self.job_context():
                resolve(RUN_EVENT)(event_id)
        except Exception as exc:
            # Not the caller's failure: the event keeps it for the sweep. The
            # stack without messages: a database error's quotes its row.
            log.error("in-process event %d failed; it waits for a retry\n%s", event_id, safe_traceback(exc))


class RedisQueue(EventQueue):
    """The doorbell is an RQ job carrying the event's id."""

    def __init__(self, redis: Redis, db: Database) -> None:
        super().__init__(db)
        self.redis = redis
        self.rq = Queue(QUEUE_NAME, connection=redis)

    def ring(self, event_id: int, delay_seconds: float = 0) -> bool:
        try:
            self.push(RUN_EVENT, (event_id,), delay_seconds)
        except RedisError as exc:
            # Written already: the sweep rings again once Redis is back.
            log.warning(
                "Redis unavailable (%s); event %d waits in the database", type(exc).__name__, event_id
            )
            return False
        return True

    def database_down(
        self, job: str, args: tuple[JobArg, ...], key: str | None, delay_seconds: float, exc: Exception
    ) -> None:
        """The event travels in Redis with its ids and is written when it runs."""
        log.warning("database unavailable (%s); job %s carried by Redis", type(exc).__name__, job)
        self.push(RECORD_AND_RUN, (job, key, *args), delay_seconds)

    def push(self, path: str, args: tuple[JobArg, ...], delay_seconds: float = 0) -> None:
        # One pipeline for RQ's writes: left to itself, RQ sends the queue's
        # registration and the job as two transactions, each a round trip
        # (BENCHMARKS.md, "Status callback and whisper").
        with self.redis.pipeline() as pipe:
            if delay_seconds > 0:
                self.rq.enqueue_in(
                    timedelta(seconds=delay_seconds), path, *args, pipeline=pipe, **_job_options()
                )
            else:
                self.rq.enqueue(path, *args, pipeline=pipe, **_job_options())
            pipe.execute()


def _job_options() -> dict[str, Any]:
    """Retries with backoff, failures kept a month, the final-failure hook;
    no result kept (nobody reads one, and Redis memory would grow with it)."""
    return {
        "retry": Retry(max=len(events.BACKOFF_SECONDS), interval=list(events.BACKOFF_SECONDS)),
        "failure_ttl": 30 * 86400,
        "result_ttl": 0,
        # Runs on every failed attempt; acts once no retry is left.
        "on_failure": Callback(FAILURE_CALLBACK),
    }


def redis_client(url: str) -> Redis:
    """Short timeouts: a dead Redis must cost a webhook milliseconds, not seconds."""
    return Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5, retry_on_timeout=False)
