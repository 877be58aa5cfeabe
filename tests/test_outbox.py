"""Outbox replay: events written while Redis is down reach RQ once it is back, once each."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import delete, func, select

from core.queue import QUEUE_NAME
from storage.db import Database
from storage.models import Call, CallDirection, OutboxEntry
from tests.support.databases import committing_database
from tests.support.suite import AppConfig, SuiteConfig
from tests.support.twilio import TwilioClient
from tests.worker_helpers import as_worker, job_services
from worker.outbox import MAX_ATTEMPTS, flush_outbox

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def _sid() -> str:
    return "CA" + uuid.uuid4().hex


def _unsent(db: Database) -> int:
    with db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.sent_at.is_(None))) or 0
        )


def test_entries_wait_while_redis_is_down_then_replay_once_in_order(
    db: Database, redis: Redis, tmp_path: Path
) -> None:
    sids = [_sid() for _ in range(3)]
    with job_services(tmp_path, db, REDIS_URL=DEAD_REDIS) as down:
        for seq, sid in enumerate(sids):
            down.queue.enqueue("call_event", sid, seq, "ringing", None, None)
        assert _unsent(db) == 3
        assert flush_outbox() == 0  # still down: nothing lost, the attempt counted
        with db.session() as s:
            attempts = s.scalars(select(OutboxEntry.attempts).order_by(OutboxEntry.id)).all()
        assert attempts == [1, 0, 0]

    with job_services(tmp_path, db):  # Redis is back
        assert flush_outbox() == 3
        assert flush_outbox() == 0
    assert _unsent(db) == 0
    jobs = Queue(QUEUE_NAME, connection=redis).jobs
    assert [(j.func_name, j.args) for j in jobs] == [
        ("worker.calllog.record_call_event", (sid, seq, "ringing", None, None))
        for seq, sid in enumerate(sids)
    ]


def test_webhooks_fall_back_to_the_outbox_and_the_replay_fills_the_call_log(
    app_config: AppConfig, suite: SuiteConfig, db: Database, redis: Redis, tmp_path: Path
) -> None:
    from ivr import create_app

    sid = _sid()
    with db.session() as s:
        s.add(Call(call_sid=sid, direction=CallDirection.INBOUND))  # as /voice/incoming logs it
    down = create_app(app_config(REDIS_URL=DEAD_REDIS, database=db))
    client = TwilioClient(down.test_client(), suite)
    for seq, status in enumerate(["initiated", "ringing", "in-progress", "completed"]):
        form = {"CallSid": sid, "CallStatus": status, "SequenceNumber": str(seq), "CallDuration": "9"}
        response = client.send("/voice/status", form)
        assert response.status_code == 200 and response.mimetype == "text/xml"
    assert _unsent(db) == 4

    with job_services(tmp_path, db):
        flush_outbox()
        SimpleWorker([Queue(QUEUE_NAME, connection=redis)], connection=redis).work(burst=True)
    with db.session() as s:
        call = s.scalars(select(Call).where(Call.call_sid == sid)).one()
        assert (call.status, call.last_sequence, call.duration_seconds) == ("completed", 3, 9)


def test_in_process_replay_gives_up_after_repeated_failures(db: Database, tmp_path: Path) -> None:
    with job_services(tmp_path, db, REDIS_URL=None):
        with db.session() as s:
            # One job that works, one that no longer exists, one that always fails.
            s.add(OutboxEntry(job_name="ping", args={"args": ["ok"]}))
            s.add(OutboxEntry(job_name="no_such_job", args={"args": []}))
            s.add(OutboxEntry(job_name="call_event", args={"args": ["not-an-int-seq", "x", "ringing"]}))
        assert flush_outbox() == 1
        for _ in range(MAX_ATTEMPTS):
            flush_outbox()
        with db.session() as s:
            rows = {e.job_name: e for e in s.scalars(select(OutboxEntry))}
    assert rows["ping"].sent_at is not None
    assert rows["no_such_job"].sent_at is None and rows["no_such_job"].last_error == "unknown job"
    assert rows["call_event"].sent_at is None and rows["call_event"].attempts == MAX_ATTEMPTS


@pytest.mark.usefixtures("pg_engine")  # migrated
def test_concurrent_flushes_deliver_each_entry_once(
    suite: SuiteConfig, pg_url: str, redis: Redis, tmp_path: Path
) -> None:
    """Real commits: four workers flushing at once (SKIP LOCKED) must not double-deliver."""
    db = committing_database(pg_url, pool_size=6)
    marker = uuid.uuid4().hex
    try:
        with db.session() as s:
            s.add_all(OutboxEntry(job_name="ping", args={"args": [f"{marker}-{i}"]}) for i in range(60))
        with job_services(tmp_path, db, REDIS_URL=suite.redis_url) as services, ThreadPoolExecutor(4) as pool:
            flush = as_worker(services, flush_outbox)
            sent = sum(pool.map(lambda _: flush(limit=20), range(8)))
        assert sent == 60
        tokens = [j.args[0] for j in Queue(QUEUE_NAME, connection=redis).jobs]
        assert sorted(tokens) == sorted(f"{marker}-{i}" for i in range(60))
    finally:
        with db.session() as s:
            s.execute(delete(OutboxEntry).where(OutboxEntry.job_name == "ping"))
        db.engine.dispose()
