"""A failed job's exception message reaches neither the worker's log nor
Redis (issue 12, item 5): PostgreSQL's messages quote the row they refused."""

from __future__ import annotations

import logging

import pytest
from redis import Redis
from rq import Queue

from core.queue import QUEUE_NAME
from worker.private_worker import PrivateSimpleWorker

# What a unique violation's DETAIL quotes: a blind index (made up here).
QUOTED_INDEX = "9f2c" * 16
MESSAGE = f"duplicate key: Key (phone_index)=({QUOTED_INDEX}) already exists; name Ruby Starling"


def fail_quoting_a_row() -> None:
    """A job failing as a database error does, its message quoting a row."""
    raise ValueError(MESSAGE)


def test_a_failed_jobs_message_is_neither_logged_nor_kept(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    queue = Queue(QUEUE_NAME, connection=redis)
    job = queue.enqueue(f"{__name__}.fail_quoting_a_row")
    PrivateSimpleWorker([queue], connection=redis).work(burst=True)
    job.refresh()
    assert job.is_failed
    result = job.latest_result()
    kept = (result.exc_string if result is not None else None) or ""
    logged = caplog.text
    for text in (kept, logged):
        assert "ValueError" in text and "fail_quoting_a_row" in text  # what failed, and where
        assert QUOTED_INDEX[:32] not in text and "Ruby" not in text
