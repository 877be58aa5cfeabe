"""Periodic jobs on RQ's own scheduler, with no extra process (with Redis;
without it the web processes run them: worker/embedded_schedule.py).

Each periodic job runs in fixed slots aligned to the epoch (the events
sweep every minute, abandoned reports every ten minutes, risk signals every
fifteen, retention every day at 00:00 UTC). The job of a slot has a
deterministic id, ``periodic-<name>-<slot>``, so any number of workers
can "ensure" the next slot at once and only one job exists. Every worker
ensures the next slots at start-up, and every periodic run ensures them
again when it ends (even when it failed), and every worker's maintenance
(each minute) ensures them once more, so neither a failed run nor a Redis
that was emptied breaks the chain; the RQ scheduler (``with_scheduler=True``) moves each job to the queue when
its time comes.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job

from core import services
from core.queue import JOBS, QUEUE_NAME, RedisQueue, resolve
from core.settings import Settings
from worker.private_worker import PrivateSimpleWorker

log = logging.getLogger(__name__)

# job name (core/queue.py JOBS) -> period in seconds
PERIODIC: dict[str, int] = {
    "sweep_events": 60,
    # Every 30 s: a check-in is called well within a minute of its due time.
    "fire_due_checkins": 30,
    "sweep_abandoned_reports": 600,
    "apply_retention": 86400,
    # Risk signals (worker/signals.py); blocks, declines and reports also
    # count at once, so this catches the callers going from member to member.
    "compute_signals": 900,
}


def periods(settings: Settings) -> dict[str, int]:
    """The periodic jobs and their periods: :data:`PERIODIC`, with
    ``SCHEDULE_PERIODS`` replacing or adding to it."""
    return {**PERIODIC, **dict(settings.schedule_periods)}


def next_slot(period: int, now: float | None = None) -> int:
    """The first slot boundary strictly after ``now`` (epoch seconds)."""
    now = time.time() if now is None else now
    return (int(now) // period + 1) * period


def slot_job_id(name: str, slot: int) -> str:
    return f"periodic-{name}-{slot}"


def ensure_scheduled(
    queue: Queue, now: float | None = None, schedule: dict[str, int] | None = None
) -> list[str]:
    """Schedule the next slot of every periodic job of ``schedule`` (default
    :data:`PERIODIC`) unless it already is; return their ids."""
    ids = []
    for name, period in (schedule or PERIODIC).items():
        slot = next_slot(period, now)
        job_id = slot_job_id(name, slot)
        ids.append(job_id)
        if Job.exists(job_id, connection=queue.connection):
            continue
        queue.enqueue_at(
            datetime.fromtimestamp(slot, UTC),
            run_periodic,
            name,
            job_id=job_id,
            description=f"periodic {name}",
            result_ttl=3600,
            failure_ttl=7 * 86400,
        )
    return ids


def run_periodic(name: str) -> None:
    """Run one periodic job, then make sure the next slots are scheduled."""
    try:
        resolve(JOBS[name])()
    finally:
        svc = services.current()
        if isinstance(svc.queue, RedisQueue):
            ensure_scheduled(svc.queue.rq, schedule=periods(svc.settings))


class SchedulingWorker(PrivateSimpleWorker):
    """The worker ``python -m worker`` runs: RQ's maintenance, each minute,
    also makes sure the next periodic slots exist. A Redis that lost its
    data (a restart without persistence, a failover, FLUSHALL) lost the
    scheduled chain with it; without this nothing would ring the events
    sweep again until a worker restarted."""

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        try:
            schedule = periods(services.current().settings)
            ensure_scheduled(Queue(QUEUE_NAME, connection=self.connection), schedule=schedule)
        except RedisError as exc:
            log.warning(
                "periodic schedule not ensured (%s); next maintenance tries again", type(exc).__name__
            )
