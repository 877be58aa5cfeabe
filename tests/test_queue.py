"""The one enqueue point: RQ on Redis, outbox when Redis is down, inline without Redis."""

import pytest
from flask import Flask
from redis import Redis
from rq import Queue
from sqlalchemy import select

from core.queue import QUEUE_NAME, InlineQueue, RedisQueue, redis_client
from ivr.services import services_of
from storage.db import Database
from storage.models import CallEvent, OutboxEntry


def test_redis_queue_enqueues_by_dotted_path_with_ids_only(app: Flask, redis: Redis) -> None:
    queue = services_of(app).queue
    assert isinstance(queue, RedisQueue)
    queue.enqueue("ping", "abc")
    jobs = Queue(QUEUE_NAME, connection=redis).jobs
    assert [(j.func_name, j.args) for j in jobs] == [("worker.jobs.ping", ("abc",))]


def test_jobs_refuse_anything_but_ids(app: Flask) -> None:
    queue = services_of(app).queue
    with pytest.raises(TypeError):
        queue.enqueue("ping", {"From": "+442079460123"})  # type: ignore[arg-type]  # the point of the test
    with pytest.raises(KeyError):
        queue.enqueue("no_such_job", "x")


def test_redis_down_puts_the_job_in_the_outbox(db: Database) -> None:
    dead = redis_client("redis://127.0.0.1:1/0")  # nothing listens on port 1
    RedisQueue(dead, db).enqueue("ping", "abc")
    with db.session() as s:
        entry = s.scalars(select(OutboxEntry)).one()
    assert entry.job_name == "ping" and entry.args == {"args": ["abc"]} and entry.sent_at is None


def test_without_redis_jobs_run_in_process(inline_app: Flask, db: Database) -> None:
    queue = services_of(inline_app).queue
    assert isinstance(queue, InlineQueue)
    queue.enqueue("call_event", "CAinline0001", 0, "ringing")
    # Done before enqueue returned: the job's row is there, nothing left behind.
    with db.session() as s:
        event = s.scalars(select(CallEvent)).one()
        assert (event.call_sid, event.sequence_number, event.status) == ("CAinline0001", 0, "ringing")
        assert s.scalars(select(OutboxEntry)).all() == []
