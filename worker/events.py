"""Running events: what RQ (or the in-process queue) is prompted to do.

Every job is an event row first (core/queue.py, storage/events.py); the
doorbell carries only its id. :func:`run_event` claims the row (``FOR UPDATE
SKIP LOCKED``: a second worker with the same id skips it), does the work and
marks the row done:

- a call event's effect (call_events, the call row, the follow-up deletion
  at Twilio) is written in the *same* transaction as ``done_at``, so it
  happens exactly once however often it is rung;
- the other jobs reach outside the database (Twilio, the recording store,
  mail) and commit their own steps; each is idempotent by its own keys
  (RecordingSid, report state), and the row is marked done only after the
  job returned, so a worker that dies half-way leaves the event to do again.

A failed attempt is counted on the row with its exception type and raised
for RQ's retry with backoff; the last one marks the event failed (and runs
the job's final-failure handler, e.g. "recording failed" on the report).

:func:`sweep_events`, a periodic job, rings again for every event past due
by :data:`GRACE`: a Redis that crashed, was flushed or failed over, or a
worker that was stopped, delays work but loses none of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from core import services
from core.queue import JOBS, JobArg, resolve
from storage import events
from worker.calllog import apply_call_event_job
from worker.jobs import gave_up
from worker.recordings import accept_recording_callback_in

log = logging.getLogger(__name__)

# How long past its due time an event may wait before the sweep rings again.
# A worker takes milliseconds; this covers a backlog, not a lost prompt.
GRACE = timedelta(minutes=2)
BATCH = 500

# Jobs whose whole effect is in the database: done in the claiming transaction.
IN_TRANSACTION: dict[str, Callable[..., None]] = {
    "call_event": apply_call_event_job,
    "recording_callback": accept_recording_callback_in,
}


def run_event(event_id: int) -> None:
    """The doorbell's job: do event ``event_id`` once, unless done or taken."""
    svc = services.current()
    event_id = int(event_id)
    job, args = "", ()
    try:
        with svc.db.session() as session:
            event = events.claim(session, event_id)
            if event is None:
                return  # done, failed, being done by another worker, or gone
            job, args = event.job, tuple(event.args)
            if job not in JOBS:
                events.give_up(session, event_id, "unknown job")
                return
            _do(session, job, args)
            events.mark_done(session, event_id)
    except Exception as exc:
        if not job:
            raise  # the claim itself failed (database down): RQ retries
        _failed(event_id, job, args, exc)


def _do(session: Session, job: str, args: tuple[Any, ...]) -> None:
    in_transaction = IN_TRANSACTION.get(job)
    if in_transaction is not None:
        in_transaction(session, *args)
        return
    if session.get_bind().dialect.name == "sqlite":
        # No row locks there: end the read now, or the final write would
        # meet the job's own commits as a stale snapshot (SQLITE_BUSY).
        session.commit()
    resolve(JOBS[job])(*args)


def _failed(event_id: int, job: str, args: tuple[Any, ...], exc: Exception) -> None:
    svc = services.current()
    with svc.db.session() as session:
        last = events.note_failure(session, event_id, type(exc).__name__)
    if not last:
        raise exc  # RQ retries with backoff; the row says when and why
    log.error("event %d (%s) failed for good: %s", event_id, job, type(exc).__name__)
    gave_up(JOBS[job], args)


def record_and_run(job: str, key: str | None, *args: JobArg) -> None:
    """What Redis carried while the database was down: write the event now
    (a replay of one already written writes nothing), then ring for it."""
    svc = services.current()
    event_id = events.insert(svc.db.statements, job, args, key)
    if event_id is not None:
        svc.queue.ring(event_id)


def gave_up_on_event(event_id: int, error: str) -> None:
    """RQ gave up (retries spent, or its worker kept dying): mark it failed."""
    with services.current().db.session() as session:
        event = events.give_up(session, int(event_id), error)
        job, args = (event.job, tuple(event.args)) if event is not None else ("", ())
    if job in JOBS:
        gave_up(JOBS[job], args)


def sweep_events(now: datetime | None = None, grace: timedelta = GRACE) -> int:
    """Periodic job: ring again for every event not done ``grace`` after it
    was due; return how many. Stops at the first doorbell that fails (Redis
    still down): the events wait for the next run."""
    svc = services.current()
    rung = 0
    while True:
        with svc.db.session() as session:
            ids = events.due_for_ring(session, grace, BATCH, now)
        for event_id in ids:
            if not svc.queue.ring(event_id):
                log.warning("events: doorbell unavailable; %d rung, the rest wait", rung)
                return rung
            rung += 1
        if len(ids) < BATCH:
            break
    if rung:
        log.warning("events: %d event(s) not done in time rung again", rung)
    return rung
