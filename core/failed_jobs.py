"""Background work that failed for good, for admins to see and act on
(ivr/staff/jobs.py): the events given up on (storage/events.py: every job
is one), and whatever RQ's failed registry holds with Redis (a doorbell
whose worker kept dying).

Only what identifies the work is shown: the job's name, its arguments
(opaque ids by construction, core/queue.py) and the type of the error, never
its message (a library's message may quote a row or a number).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from rq.job import Job
from rq.registry import FailedJobRegistry

from core.queue import JOBS, RedisQueue
from core.services import Services
from storage import events
from storage.models import Event

SHOWN = 100
RQ_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_NAMES = {path: name for name, path in JOBS.items()}


@dataclass(frozen=True)
class FailedJob:
    source: str  # "rq" or "event"
    key: str  # the RQ job id, or the event's id
    job: str  # its name in core/queue.py's JOBS
    ids: tuple[str, ...]
    error: str  # the exception's type, e.g. "ConnectionError"
    failed_at: datetime | None


def error_type(text: str | None) -> str:
    """The exception type of a traceback's last line ("x.y.Error: …" -> "Error")."""
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    if not lines:
        return "unknown"
    head = lines[-1].split(":", 1)[0].strip()
    name = head.rsplit(".", 1)[-1]
    return name if name.isidentifier() else "unknown"


def listed(services: Services) -> list[FailedJob]:
    """The failed jobs, RQ's first (newest first), then the events'."""
    found: list[FailedJob] = []
    if isinstance(services.queue, RedisQueue):
        registry = FailedJobRegistry(queue=services.queue.rq)
        ids = registry.get_job_ids(0, SHOWN - 1)
        for job in Job.fetch_many(ids, connection=services.queue.redis):
            if job is not None:
                found.append(_from_rq(job))
    with services.db.session() as session:
        found.extend(_from_event(event) for event in events.failed(session, SHOWN))
    return found


def _from_rq(job: Job) -> FailedJob:
    result = job.latest_result()
    return FailedJob(
        source="rq",
        key=job.id,
        job=_NAMES.get(job.func_name or "", "unknown"),
        ids=tuple(str(arg)[:64] for arg in job.args),
        error=error_type(result.exc_string if result is not None else None),
        failed_at=job.ended_at,
    )


def _from_event(event: Event) -> FailedJob:
    return FailedJob(
        source="event",
        key=str(event.id),
        job=event.job,
        ids=tuple(str(arg)[:64] for arg in event.args),
        # An event keeps the type only (worker/events.py).
        error=error_type(event.last_error),
        failed_at=event.failed_at,
    )


def find(services: Services, source: str, key: str) -> FailedJob | None:
    """One failed job by its source and key, or None (gone, or not failed)."""
    return next((job for job in listed(services) if (job.source, job.key) == (source, key)), None)


def requeue(services: Services, job: FailedJob) -> None:
    """Run it again: back on RQ's queue, or the event back to do, rung now."""
    if job.source == "rq" and isinstance(services.queue, RedisQueue):
        FailedJobRegistry(queue=services.queue.rq).requeue(job.key)
        return
    with services.db.session() as session:
        retried = events.retry(session, int(job.key))
    if retried:
        services.queue.ring(int(job.key))


def discard(services: Services, job: FailedJob) -> None:
    """Give it up for good: the work is not done, and no longer listed."""
    if job.source == "rq" and isinstance(services.queue, RedisQueue):
        FailedJobRegistry(queue=services.queue.rq).remove(job.key, delete_job=True)
        return
    with services.db.session() as session:
        events.discard(session, int(job.key))
