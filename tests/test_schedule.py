"""Periodic jobs: one job per slot whatever the number of workers, chained run to run."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from core.queue import QUEUE_NAME
from storage.db import Database
from tests.worker_helpers import job_services
from worker.schedule import PERIODIC, ensure_scheduled, next_slot, run_periodic, slot_job_id

T = 1_800_000_030.0  # 30 s past a minute boundary


def test_slots_are_aligned_to_the_period() -> None:
    assert next_slot(60, T) == 1_800_000_060
    assert next_slot(86400, T) % 86400 == 0 and next_slot(86400, T) > T
    assert next_slot(60, 1_800_000_060.0) == 1_800_000_120  # strictly after


def test_many_workers_ensuring_the_schedule_make_one_job_per_slot(redis: Redis) -> None:
    queue = Queue(QUEUE_NAME, connection=redis)
    first = ensure_scheduled(queue, now=T)
    for _ in range(3):
        assert ensure_scheduled(queue, now=T + 5) == first
    registry = ScheduledJobRegistry(queue=queue)
    assert sorted(registry.get_job_ids()) == sorted(first)
    assert first == [slot_job_id(name, next_slot(period, T)) for name, period in PERIODIC.items()]
    job = Job.fetch(first[0], connection=redis)
    assert job.func_name == "worker.schedule.run_periodic" and job.args == ("sweep_events",)


def test_a_periodic_run_schedules_the_next_one_even_when_it_fails(
    db: Database, redis: Redis, tmp_path: Path
) -> None:
    queue = Queue(QUEUE_NAME, connection=redis)
    with job_services(tmp_path, db):
        run_periodic("sweep_events")
        assert ScheduledJobRegistry(queue=queue).count == len(PERIODIC)
        redis.flushdb()  # as if the schedule were lost
        with pytest.raises(KeyError):
            run_periodic("a job that fails")
    ids = ScheduledJobRegistry(queue=queue).get_job_ids()
    assert any(i.startswith("periodic-sweep_events-") for i in ids)
    assert any(i.startswith("periodic-apply_retention-") for i in ids)


def test_a_worker_runs_rq_maintenance_every_minute_not_every_ten(redis: Redis, db: Database) -> None:
    """RQ's maintenance is what puts back the jobs of a worker that died
    (worker/__main__.py); at RQ's default a stranded report hand-off or call
    event would wait up to ten minutes."""
    from datetime import timedelta

    from rq.utils import now

    from core.queue import RedisQueue
    from worker.__main__ import build_worker

    worker = build_worker(RedisQueue(redis, db))
    assert worker.queue_names() == [QUEUE_NAME]
    worker.last_cleaned_at = now() - timedelta(seconds=50)  # type: ignore[assignment]
    assert not worker.should_run_maintenance_tasks
    worker.last_cleaned_at = now() - timedelta(seconds=70)  # type: ignore[assignment]
    assert worker.should_run_maintenance_tasks


def test_a_workers_maintenance_restores_a_schedule_redis_lost(
    redis: Redis, db: Database, tmp_path: Path
) -> None:
    """A Redis restarted empty (or flushed) loses the scheduled chain; the
    next maintenance of any worker puts it back, so the events sweep keeps
    ringing for what Redis lost."""
    from core.queue import RedisQueue
    from worker.__main__ import build_worker

    queue = Queue(QUEUE_NAME, connection=redis)
    worker = build_worker(RedisQueue(redis, db))
    with job_services(tmp_path, db):  # as `python -m worker` binds its services around its loop
        worker.run_maintenance_tasks()
        assert ScheduledJobRegistry(queue=queue).count == len(PERIODIC)
        redis.flushdb()
        assert ScheduledJobRegistry(queue=queue).count == 0
        worker.run_maintenance_tasks()
    ids = ScheduledJobRegistry(queue=queue).get_job_ids()
    assert any(i.startswith("periodic-sweep_events-") for i in ids) and len(ids) == len(PERIODIC)
