"""Gauges of background work for ``/metrics`` (core/metrics.py): RQ's
queue and registries when Redis is configured, and the events table (the
work not yet done, whatever Redis holds: storage/events.py)."""

from __future__ import annotations

from collections.abc import Mapping

from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from core.metrics import scraped_gauge
from core.queue import RedisQueue
from core.services import Services
from storage import events


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
    "safety_events",
    "Events not yet done: waiting (never failed), retrying (failed, tried again later), failed (given up)",
)
def pending_events(services: Services) -> Mapping[str, float]:
    with services.db.session() as session:
        return {label: float(n) for label, n in events.counts(session).items()}
