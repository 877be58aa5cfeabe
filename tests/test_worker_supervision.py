"""The worker as deployed (issue 20, item 3): jobs run in the worker's own
process, no fork per job, so what the fork protected against is handled
otherwise — a hanging job is stopped by its timeout and the worker goes on,
a worker that dies is started again by ``python -m worker``'s supervisor —
and a finished job leaves nothing in Redis."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, Worker

from core.queue import QUEUE_NAME, RedisQueue
from simulator.fake_twilio import FakeTwilio
from storage.db import Database
from tests.support.suite import SuiteConfig
from tests.worker_helpers import job_services, start_worker, worker_env
from tests.worker_processes import alive
from worker.__main__ import build_worker

DONE: list[str] = []


def hang() -> None:
    """A job stuck on something that never answers."""
    time.sleep(60)


def note(token: str) -> None:
    DONE.append(token)


def test_a_finished_job_leaves_nothing_in_redis(redis: Redis, db: Database, tmp_path: Path) -> None:
    """Nobody reads a job's return value: RQ's default kept each finished
    job (~7 KB) for 500 s, so Redis memory grew with the job rate."""
    queue = RedisQueue(redis, db)
    for i in range(5):
        queue.enqueue("ping", f"token{i}")
    assert len(redis.keys("rq:job:*")) == 5

    with job_services(tmp_path, db):
        build_worker(queue).work(burst=True)

    assert queue.rq.failed_job_registry.count == 0
    # the periodic jobs the worker's maintenance schedules are not results
    assert [k for k in redis.keys("rq:job:*") if not k.startswith(b"rq:job:periodic-")] == []
    assert queue.rq.finished_job_registry.count == 0
    assert queue.rq.count == 0


def test_a_hanging_job_is_stopped_by_its_timeout_and_the_worker_goes_on(
    redis: Redis, db: Database, tmp_path: Path
) -> None:
    DONE.clear()
    rq = Queue(QUEUE_NAME, connection=redis)
    stuck = rq.enqueue(f"{__name__}.hang", job_timeout=1)
    rq.enqueue(f"{__name__}.note", "after the stuck one", result_ttl=0)
    started = time.monotonic()

    with job_services(tmp_path, db):
        build_worker(RedisQueue(redis, db)).work(burst=True)

    assert time.monotonic() - started < 30
    stuck.refresh()
    assert stuck.get_status() == "failed", stuck.get_status()
    assert DONE == ["after the stuck one"]


def _worker_pids(redis: Redis) -> set[int]:
    return {w.pid for w in Worker.all(connection=redis) if w.pid and alive(w.pid)}


def _group(pgid: int) -> list[int]:
    """Running processes of the process group ``pgid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            found.append(int(stat.parent.name))
    return found


def _wait(predicate, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}; worker log:\n{log.read_text()[-3000:]}")


@pytest.mark.usefixtures("pg_engine")  # migrated
def test_the_supervisor_starts_a_new_worker_when_one_dies_and_stops_on_sigterm(
    suite: SuiteConfig, pg_url: str, redis: Redis, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    log = tmp_path / "worker.log"
    supervisor = start_worker(worker_env(suite, pg_url, fake_twilio, tmp_path), log)
    try:
        first = _wait(lambda: _worker_pids(redis), 60, "a worker", log)
        (child,) = first
        assert child != supervisor.pid  # the jobs run in a child the supervisor watches
        os.kill(child, signal.SIGKILL)  # a crash, the OOM killer

        second = _wait(lambda: _worker_pids(redis) - first, 60, "a new worker", log)
        assert supervisor.poll() is None
        # nothing the dead worker started lives on (RQ's scheduler runs in a process of its own)
        _wait(lambda: not _group(child), 30, "the dead worker's processes to go", log)

        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
        (replacement,) = second
        _wait(lambda: not _group(replacement), 30, "the new worker and its scheduler to stop", log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            supervisor.kill()
        supervisor.wait(timeout=30)
