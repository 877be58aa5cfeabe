"""Gauges of background work for ``/metrics`` (core/metrics.py): RQ's
queue and registries when Redis is configured, and the outbox table (the
jobs that could not be queued, or failed in-process, and wait for a replay)."""

from __future__ import annotations

from collections.abc import Mapping

from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import case, func, select

from core.metrics import scraped_gauge
from core.queue import OUTBOX_MAX_ATTEMPTS, RedisQueue
from core.services import Services
from storage.models import OutboxEntry


@scraped_gauge("safety_jobs", "RQ jobs by state: queued, started, scheduled (retries and periodic), failed")
def rq_jobs(services: Services) -> Mapping[str, float]:
    queue = services.queue
    if not isinstance(queue, RedisQueue):
        return {}
    rq = queue.rq
    return {
        "queued": rq.count,
        "started": StartedJobRegistry(queue=rq).count,
        "scheduled": ScheduledJobRegistry(queue=rq).count,
        "failed": FailedJobRegistry(queue=rq).count,
    }


@scraped_gauge(
    "safety_outbox_entries",
    "Outbox entries not yet delivered: waiting (never tried again), retrying, given up",
)
def outbox_entries(services: Services) -> Mapping[str, float]:
    state = case(
        (OutboxEntry.attempts >= OUTBOX_MAX_ATTEMPTS, "given_up"),
        (OutboxEntry.attempts > 0, "retrying"),
        else_="waiting",
    )
    with services.db.session() as session:
        counted = {
            label: n
            for label, n in session.execute(
                select(state, func.count()).where(OutboxEntry.sent_at.is_(None)).group_by(state)
            )
        }
    return {label: float(counted.get(label, 0)) for label in ("waiting", "retrying", "given_up")}
