"""The one enqueue point: the event written first, then RQ rung with its id
(the row alone when Redis is down), or run in-process without Redis."""

import pytest
from flask import Flask
from redis import Redis
from rq import Queue
from sqlalchemy import select

from core.queue import QUEUE_NAME, InlineQueue, RedisQueue, redis_client
from ivr.services import services_of
from storage.db import Database
from storage.models import CallEvent, Event

# Counts events and sweeps: other tests' committed events must not show.
pytestmark = pytest.mark.usefixtures("empty_events")


def test_redis_queue_writes_the_event_and_rings_with_its_id_only(
    app: Flask, redis: Redis, db: Database
) -> None:
    queue = services_of(app).queue
    assert isinstance(queue, RedisQueue)
    queue.enqueue("ping", "abc")
    with db.session() as s:
        event = s.scalars(select(Event)).one()
    assert (event.job, event.args, event.done_at) == ("ping", ["abc"], None)
    jobs = Queue(QUEUE_NAME, connection=redis).jobs
    assert [(j.func_name, j.args, j.result_ttl) for j in jobs] == [
        ("worker.events.run_event", (event.id,), 0)
    ]


def test_jobs_refuse_anything_but_ids(app: Flask) -> None:
    queue = services_of(app).queue
    with pytest.raises(TypeError):
        queue.enqueue("ping", {"From": "+442079460123"})  # type: ignore[arg-type]  # the point of the test
    with pytest.raises(KeyError):
        queue.enqueue("no_such_job", "x")


def test_redis_down_the_event_waits_in_the_table(db: Database) -> None:
    dead = redis_client("redis://127.0.0.1:1/0")  # nothing listens on port 1
    RedisQueue(dead, db).enqueue("ping", "abc")
    with db.session() as s:
        event = s.scalars(select(Event)).one()
    assert (event.job, event.args, event.done_at, event.attempts) == ("ping", ["abc"], None, 0)


def test_without_redis_jobs_run_in_process(inline_app: Flask, db: Database) -> None:
    queue = services_of(inline_app).queue
    assert isinstance(queue, InlineQueue)
    queue.enqueue("call_event", "CAinline0001", 0, "ringing")
    # Done before enqueue returned: the job's row is there, its event done.
    with db.session() as s:
        event = s.scalars(select(CallEvent)).one()
        assert (event.call_sid, event.sequence_number, event.status) == ("CAinline0001", 0, "ringing")
        [work] = s.scalars(select(Event)).all()
        assert work.job == "call_event" and work.done_at is not None
