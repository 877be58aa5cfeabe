"""Durable events: written before the answer, done once, rung again when lost.

Real PostgreSQL and Redis: the webhook writes the event row, RQ carries only
its id, ``run_event`` claims it and marks it done with its effect, replays
change nothing, failures are counted and finally shown, and the sweep rings
again for what Redis lost. The long drills (Redis killed, flushed) are in
tests/test_event_drills.py.
"""

from __future__ import annotations

import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from redis import Redis
from rq import Queue
from sqlalchemy import delete, event, func, select

from core.queue import QUEUE_NAME, RedisQueue
from ivr import create_app
from ivr.services import services_of
from storage import events
from storage.db import Database
from storage.models import Call, CallDirection, CallEvent, Event, RecordingState, Report, utcnow
from tests.support.databases import committing_database
from tests.support.suite import AppConfig, SuiteConfig
from tests.support.twilio import TwilioClient, twiml_of
from tests.worker_helpers import add_report, as_worker, job_services, rung_jobs
from worker.events import GRACE, run_event, sweep_events
from worker.private_worker import PrivateSimpleWorker

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1
UNREACHABLE_PG = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"

# Counts events and sweeps: other tests' committed events must not show.
pytestmark = pytest.mark.usefixtures("empty_events")


def _sid() -> str:
    return "CA" + uuid.uuid4().hex


def _log_call(db: Database, sid: str) -> None:
    with db.session() as s:
        s.add(Call(call_sid=sid, direction=CallDirection.INBOUND))  # as /voice/incoming logs it


def _logged_call(app_config: AppConfig, suite: SuiteConfig, db: Database) -> tuple[str, TwilioClient]:
    """A call as /voice/incoming logs it, and Twilio's client of the app."""
    sid = _sid()
    _log_call(db, sid)
    return sid, TwilioClient(create_app(app_config(database=db)).test_client(), suite)


def _status(
    client: TwilioClient, sid: str, seq: int | None, status: str, duration: int | None = None
) -> None:
    form = {"CallSid": sid, "CallStatus": status}
    if seq is not None:
        form["SequenceNumber"] = str(seq)
    if duration is not None:
        form["CallDuration"] = str(duration)
    root = twiml_of(client.send("/voice/status", form))
    assert list(root) == []  # the empty <Response/> Twilio expects


def _events(db: Database) -> list[Event]:
    with db.session() as s:
        return list(s.scalars(select(Event).order_by(Event.id)))


def _call(db: Database, sid: str) -> Call:
    with db.session() as s:
        return s.scalars(select(Call).where(Call.call_sid == sid)).one()


def _call_events(db: Database, sid: str) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(CallEvent).where(CallEvent.call_sid == sid)) or 0


def _work(redis: Redis) -> None:
    """A worker draining the queue, as ``python -m worker`` would (in-process)."""
    PrivateSimpleWorker([Queue(QUEUE_NAME, connection=redis)], connection=redis).work(burst=True)


def test_a_replayed_status_callback_writes_and_rings_nothing(
    app_config: AppConfig, suite: SuiteConfig, db: Database, redis: Redis
) -> None:
    sid = _sid()
    client = TwilioClient(create_app(app_config(database=db)).test_client(), suite)
    for _ in range(3):
        _status(client, sid, 4, "completed", 30)
    _status(client, sid, None, "completed")  # the number's own callback, no SequenceNumber
    _status(client, sid, None, "completed")
    assert [(e.job, e.key) for e in _events(db)] == [
        ("call_event", f"call:{sid}:4"),
        ("call_event", f"call:{sid}:completed"),
    ]
    assert len(Queue(QUEUE_NAME, connection=redis).jobs) == 2


def test_a_status_callback_costs_one_statement_and_one_redis_round_trip(
    app_config: AppConfig, suite: SuiteConfig, db: Database, redis: Redis
) -> None:
    """The event's INSERT, on its own (the bare driver's or the engine's:
    both are watched), and RQ's job written in one Redis transaction."""
    statements: list[str] = []

    def engine_statement(_conn, _cursor, statement, *_rest) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE")):
            statements.append(statement)

    app = create_app(app_config(database=db))
    client = TwilioClient(app.test_client(), suite)
    queue = services_of(app).queue
    assert isinstance(queue, RedisQueue)
    transactions: list[int] = []
    pipeline = queue.redis.pipeline

    def counted_pipeline(*args, **kwargs):
        transactions.append(1)
        return pipeline(*args, **kwargs)

    queue.redis.pipeline = counted_pipeline  # type: ignore[method-assign]
    observers = db.statements.observers  # type: ignore[attr-defined]
    observers.append(lambda _conn, statement, _params, _seconds: statements.append(statement))
    event.listen(db.engine, "before_cursor_execute", engine_statement)
    try:
        _status(client, _sid(), 2, "ringing")
    finally:
        event.remove(db.engine, "before_cursor_execute", engine_statement)
        observers.clear()
    assert [" ".join(s.split()[:3]) for s in statements] == ["INSERT INTO events"]
    assert len(transactions) == 1
    assert len(Queue(QUEUE_NAME, connection=redis).jobs) == 1


def test_an_event_rung_again_and_again_takes_effect_once(
    app_config: AppConfig, suite: SuiteConfig, db: Database, redis: Redis, tmp_path: Path
) -> None:
    sid, client = _logged_call(app_config, suite, db)
    _status(client, sid, 2, "completed", 61)
    [event] = _events(db)
    with job_services(tmp_path, db) as svc:
        for _ in range(3):  # a sweep, a failover, an operator: the same doorbell again
            svc.queue.ring(event.id)
        _work(redis)
        run_event(event.id)  # and once more by hand
    assert _call_events(db, sid) == 1
    call = _call(db, sid)
    assert (call.status, call.duration_seconds) == ("completed", 61) and call.ended_at is not None
    [done] = [e for e in _events(db) if e.job == "call_event"]
    assert done.done_at is not None and done.attempts == 0
    # The leg's record at Twilio is to be deleted once, whatever the replays.
    assert [e.args for e in _events(db) if e.job == "delete_provider_records"] == [[sid]]


def test_callbacks_in_any_order_end_in_the_order_of_their_sequence_numbers(
    app_config: AppConfig, suite: SuiteConfig, db: Database, redis: Redis, tmp_path: Path
) -> None:
    sid, client = _logged_call(app_config, suite, db)
    statuses = [(0, "initiated", None), (1, "ringing", None), (2, "in-progress", None), (3, "completed", 47)]
    shuffled = random.Random(19).sample(statuses, len(statuses))
    assert shuffled != statuses
    for seq, status, duration in shuffled:
        _status(client, sid, seq, status, duration)
    with job_services(tmp_path, db):
        for event in reversed(_events(db)):  # processed in yet another order
            run_event(event.id)
    call = _call(db, sid)
    assert (call.status, call.last_sequence, call.duration_seconds) == ("completed", 3, 47)
    assert call.started_at is not None and call.ended_at is not None and call.started_at <= call.ended_at
    assert _call_events(db, sid) == 4


def test_redis_down_the_event_waits_and_the_sweep_rings_it_once_back(
    app_config: AppConfig, suite: SuiteConfig, db: Database, redis: Redis, tmp_path: Path
) -> None:
    sid = _sid()
    _log_call(db, sid)
    down = create_app(app_config(REDIS_URL=DEAD_REDIS, database=db))
    client = TwilioClient(down.test_client(), suite)
    for seq, status in enumerate(["ringing", "in-progress", "completed"]):
        _status(client, sid, seq, status, 9 if status == "completed" else None)
    assert [e.done_at for e in _events(db)] == [None, None, None]
    with job_services(tmp_path, db):
        assert sweep_events() == 0  # within the grace period: a worker may be on it
        later = utcnow() + GRACE + timedelta(seconds=1)
        assert sweep_events(now=later) == 3
        assert sweep_events(now=later) == 0  # rung: given a new due time, not rung every minute
        assert [j.args for j in Queue(QUEUE_NAME, connection=redis).jobs] == [(e.id,) for e in _events(db)]
        _work(redis)
    call = _call(db, sid)
    assert (call.status, call.last_sequence, call.duration_seconds) == ("completed", 2, 9)
    assert all(e.done_at is not None for e in _events(db) if e.job == "call_event")


def test_database_down_the_event_travels_in_redis_and_is_written_when_it_runs(
    app_config: AppConfig, suite: SuiteConfig, db: Database, redis: Redis, tmp_path: Path
) -> None:
    sid = _sid()
    _log_call(db, sid)
    down = create_app(app_config(DATABASE_URL=UNREACHABLE_PG))
    client = TwilioClient(down.test_client(), suite)
    _status(client, sid, 5, "completed", 12)
    _status(client, sid, 5, "completed", 12)  # Twilio's retry of the same callback
    [carried, _again] = Queue(QUEUE_NAME, connection=redis).jobs
    # Ids only: the CallSid, the sequence number, the status, the duration.
    assert carried.func_name == "worker.events.record_and_run"
    assert carried.args == ("call_event", f"call:{sid}:5", sid, 5, "completed", 12, None)
    assert _events(db) == []
    with job_services(tmp_path, db):  # the database is back when the worker runs
        _work(redis)
    assert [(e.key, e.done_at is not None) for e in _events(db) if e.job == "call_event"] == [
        (f"call:{sid}:5", True)
    ]
    assert _call(db, sid).status == "completed" and _call_events(db, sid) == 1


def test_a_failing_event_is_retried_with_backoff_then_shown_failed_with_its_error_type(
    db: Database, tmp_path: Path
) -> None:
    report_id = add_report(db, None, "RE" + "7" * 32)  # a recording Twilio cannot serve
    with job_services(tmp_path, db, REDIS_URL=None, TWILIO_API_BASE_URL="http://127.0.0.1:1") as svc:
        svc.queue.enqueue("ingest_recording", report_id, "RE" + "7" * 32)  # fails at once, in-process
        [event] = _events(db)
        assert (event.attempts, event.done_at, event.failed_at) == (1, None, None)
        assert event.last_error == "TwilioUnavailable"
        assert event.due_at >= utcnow() + timedelta(seconds=events.BACKOFF_SECONDS[0] - 2)
        for attempt in range(2, events.MAX_ATTEMPTS + 1):
            later = utcnow() + timedelta(hours=attempt)
            assert sweep_events(now=later) == 1
            [event] = [e for e in _events(db) if e.job == "ingest_recording"]
            assert event.attempts == attempt
        assert sweep_events(now=utcnow() + timedelta(days=1)) == 0  # given up on: no more rings
    assert event.failed_at is not None and event.last_error == "TwilioUnavailable"
    with db.session() as s:
        report = s.get(Report, report_id)
        assert report is not None and report.recording_state == RecordingState.FAILED  # staff see it
        assert [e.id for e in events.failed(s)] == [event.id]


def test_the_embedded_queue_runs_what_a_lost_timer_left_when_the_sweep_comes(
    db: Database, tmp_path: Path
) -> None:
    """A delayed job on the in-process queue is a timer that dies with its
    process; its event does not, and the sweep runs it."""
    sid = _sid()
    _log_call(db, sid)
    with job_services(tmp_path, db, REDIS_URL=None) as svc:
        with db.session() as s:
            svc.queue.enqueue_with(s, "call_event", sid, 1, "completed", 33, None, delay_seconds=3600)
        assert _call(db, sid).status != "completed"  # the timer has not fired (nor ever will: "restart")
        assert sweep_events(now=utcnow() + timedelta(hours=1) + GRACE * 2) == 1
    assert _call(db, sid).status == "completed"


def test_an_event_written_in_a_transaction_that_rolls_back_never_rings(
    db: Database, redis: Redis, tmp_path: Path
) -> None:
    with job_services(tmp_path, db) as svc, pytest.raises(RuntimeError), db.session() as s:
        svc.queue.enqueue_with(s, "ping", "never")
        raise RuntimeError("the webhook failed after writing")
    assert _events(db) == [] and Queue(QUEUE_NAME, connection=redis).jobs == []


@pytest.mark.usefixtures("pg_engine")  # migrated
def test_workers_racing_for_the_same_events_do_each_once(
    suite: SuiteConfig, pg_url: str, redis: Redis, tmp_path: Path
) -> None:
    """Real commits: eight threads run the same 40 events at once (each
    doorbell heard twice); SKIP LOCKED and the done mark let each take
    effect once."""
    db = committing_database(pg_url, pool_size=10)
    sids = [_sid() for _ in range(40)]
    try:
        for sid in sids:
            _log_call(db, sid)
        with job_services(tmp_path, db, REDIS_URL=DEAD_REDIS) as svc:
            for sid in sids:
                svc.queue.enqueue("call_event", sid, 1, "completed", 5, None, key=f"call:{sid}:1")
            with db.session() as s:
                ids = list(s.scalars(select(Event.id).where(Event.args[0].as_string().in_(sids))))
            run = as_worker(svc, run_event)
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(run, ids + ids))
        with db.session() as s:
            counts = s.execute(
                select(CallEvent.call_sid, func.count())
                .where(CallEvent.call_sid.in_(sids))
                .group_by(CallEvent.call_sid)
            ).all()
            assert sorted(n for _, n in counts) == [1] * 40
            assert (
                s.scalar(
                    select(func.count()).select_from(Event).where(Event.id.in_(ids), Event.done_at.is_(None))
                )
                == 0
            )
    finally:
        with db.session() as s:
            s.execute(delete(Event).where(Event.args[0].as_string().in_(sids)))
            s.execute(delete(CallEvent).where(CallEvent.call_sid.in_(sids)))
            s.execute(delete(Call).where(Call.call_sid.in_(sids)))
        db.engine.dispose()


def test_every_doorbell_carries_an_event_id_and_nothing_else(app: Flask, redis: Redis, db: Database) -> None:
    queue = services_of(app).queue
    assert isinstance(queue, RedisQueue)
    queue.enqueue("call_event", _sid(), 0, "ringing", None, None)
    queue.enqueue("assign_report", 7)
    jobs = Queue(QUEUE_NAME, connection=redis).jobs
    assert all(j.func_name == "worker.events.run_event" and len(j.args) == 1 for j in jobs)
    assert [name for name, _ in rung_jobs(db, jobs)] == ["call_event", "assign_report"]


def test_admins_list_failed_events_by_id_and_error_type_and_put_one_back(
    runner: FlaskCliRunner, db: Database, redis: Redis
) -> None:
    with db.session() as s:
        failed = Event(job="ingest_recording", args=[41, "RE" + "4" * 32], due_at=utcnow(), attempts=6)
        failed.last_error, failed.failed_at = "TwilioUnavailable", utcnow()
        pending = Event(job="ping", args=["x"], due_at=utcnow(), attempts=0)
        s.add_all([failed, pending])
    listed = runner.invoke(args=["events", "failed"])
    assert listed.exit_code == 0
    [line] = listed.output.splitlines()
    assert line.startswith(f"{failed.id}\tingest_recording\t41 RE{'4' * 32}\t6 attempts\tTwilioUnavailable\t")

    assert runner.invoke(args=["events", "retry", str(pending.id)]).exit_code != 0  # not a failed one
    retried = runner.invoke(args=["events", "retry", str(failed.id)])
    assert retried.exit_code == 0, retried.output
    assert [j.args for j in Queue(QUEUE_NAME, connection=redis).jobs] == [(failed.id,)]
    with db.session() as s:
        again = s.get(Event, failed.id)
        assert again is not None and (again.failed_at, again.attempts) == (None, 0)
    assert runner.invoke(args=["events", "failed"]).output == "No failed events.\n"
