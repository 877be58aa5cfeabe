"""Replays the outbox: jobs that could not be queued when they were made.

Webhooks write a job to the ``outbox`` table when Redis is unreachable
(core/queue.py). This job, run every minute by the worker's schedule,
pushes each unsent entry to RQ in the order they were written and stamps
``sent_at``. While Redis is still down it stops at the first failure (the
rest would fail the same way) and counts the attempt.

Entries are claimed with ``FOR UPDATE SKIP LOCKED``, so two workers
flushing at once never deliver one entry twice. A crash between the push
and the commit can deliver an entry again on the next run; every job is
idempotent, so that is harmless.

Without Redis (the embedded in-process queue) the replay runs the job
directly; after ``MAX_ATTEMPTS`` failures the entry is given up on, and
the job's final-failure handler makes that visible (as RQ's would).
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from sqlalchemy import select

from core import services
from core.queue import JOBS, OUTBOX_MAX_ATTEMPTS, JobArg, RedisQueue, resolve
from storage.models import OutboxEntry, utcnow
from worker.jobs import gave_up

log = logging.getLogger(__name__)

BATCH = 200
MAX_ATTEMPTS = OUTBOX_MAX_ATTEMPTS


def flush_outbox(limit: int = BATCH) -> int:
    """Job "flush_outbox": queue every unsent outbox entry; return how many were sent."""
    svc = services.current()
    queue = svc.queue
    sent = 0
    with svc.db.session() as session:
        entries = list(
            session.scalars(
                select(OutboxEntry)
                .where(OutboxEntry.sent_at.is_(None), OutboxEntry.attempts < MAX_ATTEMPTS)
                .order_by(OutboxEntry.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        for entry in entries:
            path = JOBS.get(entry.job_name)
            args: tuple[JobArg, ...] = tuple((entry.args or {}).get("args", []))
            if path is None:
                entry.attempts = MAX_ATTEMPTS
                entry.last_error = "unknown job"
                continue
            try:
                if isinstance(queue, RedisQueue):
                    queue.push(path, args)
                else:
                    resolve(path)(*args)
            except RedisError as exc:
                entry.attempts += 1
                entry.last_error = type(exc).__name__
                log.warning(
                    "outbox: Redis still unavailable (%s); %d entries wait", type(exc).__name__, len(entries)
                )
                break
            except Exception as exc:
                entry.attempts += 1
                entry.last_error = type(exc).__name__
                log.warning("outbox: job %s failed in-process (%s)", entry.job_name, type(exc).__name__)
                if entry.attempts >= MAX_ATTEMPTS:
                    gave_up(path, args)
                continue
            entry.sent_at = utcnow()
            entry.last_error = None
            sent += 1
    if sent:
        log.info("outbox: %d job(s) replayed", sent)
    return sent
