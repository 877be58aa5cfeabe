"""Putting the simulator in front of an app: transport, jobs and recordings.

With the in-process queue, jobs run inside the webhook that enqueues them.
With Redis, nothing runs them in a test or a one-off command, so the
harness runs every queued job after each webhook with RQ's ``SimpleWorker``
in burst mode — the same code path a worker process takes — and fails
loudly if a job failed, rather than letting a scenario pass on a lost job.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from flask import Flask
from rq import SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from core.queue import RedisQueue
from core.services import Services, bound
from ivr.services import services_of
from simulator.engine import RecordingHost, Simulator
from simulator.errors import JobFailed
from simulator.transcript import Phonebook
from simulator.transport import InProcess, Transport


def run_queued_jobs(services: Services) -> int:
    """Run every job waiting on the app's Redis queue; return how many ran.

    A no-op for the in-process queue (its jobs already ran). Raises
    :class:`JobFailed` if any job failed or was put back for a retry.
    """
    queue = services.queue
    if not isinstance(queue, RedisQueue):
        return 0
    waiting = queue.rq.count
    if waiting:
        worker = SimpleWorker([queue.rq], connection=queue.redis)
        with bound(services):
            worker.work(burst=True, logging_level="WARNING")
    failed = FailedJobRegistry(queue=queue.rq).get_job_ids()
    # Jobs put back for a retry after failing; jobs merely scheduled are fine.
    scheduled = Job.fetch_many(ScheduledJobRegistry(queue=queue.rq).get_job_ids(), connection=queue.redis)
    retrying = [job.id for job in scheduled if job is not None and _has_failed(job)]
    if failed or retrying:
        raise JobFailed(f"{len(failed)} job(s) failed, {len(retrying)} wait for a retry: {failed + retrying}")
    return waiting


def app_with(app: Flask, **changes: Any) -> Flask:
    """A second app with ``app``'s settings and database, ``changes`` applied.

    ``changes`` name settings fields (``twilio_api_base_url=…``). The simulate
    command uses it to point recording jobs at its fake Twilio.
    """
    from ivr import create_app

    services = services_of(app)
    settings = replace(services.settings, **changes)
    config: dict[str, Any] = {f.name: getattr(settings, f.name) for f in fields(settings)}
    config.update(database=services.db, instance_path=app.instance_path, TESTING=app.testing)
    return create_app(config)


def _has_failed(job: Job) -> bool:
    # RQ keeps no result for an attempt it will retry; an attempt that ran and
    # ended, yet left the job scheduled, failed.
    return job.started_at is not None and job.ended_at is not None


def simulator_for(
    app: Flask,
    *,
    phonebook: Phonebook | None = None,
    recordings: RecordingHost | None = None,
    transport: Transport | None = None,
    run_jobs: bool = True,
    strict: bool = True,
) -> Simulator:
    """A simulator that calls ``app`` (in-process unless ``transport`` is given).

    ``recordings`` is the fake Twilio the app fetches recordings from; its
    origin should be the app's ``TWILIO_API_BASE_URL``.
    """
    services = services_of(app)
    settings = services.settings
    return Simulator(
        transport or InProcess(app),
        account_sid=settings.twilio_account_sid,
        api_base_url=settings.twilio_api_base_url,
        phonebook=phonebook or Phonebook(),
        recordings=recordings,
        after_webhook=(lambda: _run_jobs(services)) if run_jobs else None,
        strict=strict,
    )


def _run_jobs(services: Services) -> None:
    run_queued_jobs(services)
