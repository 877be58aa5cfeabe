"""Drills: nothing Twilio was answered 2xx for is lost when Redis is.

A private ``redis-server`` without persistence (the shared one is never
touched) is SIGKILLed and restarted empty, or flushed, while webhooks keep
arriving and no worker runs; then the worker starts. Every event answered
200 must end with its effect present exactly once, counted against what
was sent. And every webhook that leaves work for later is shown to have
written its event before answering.
"""

from __future__ import annotations

import ast
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from benchmarks.servers import PrivateRedis, free_port
from core.queue import QUEUE_NAME
from ivr import create_app
from simulator.fake_twilio import FakeTwilio
from storage.db import Database
from storage.models import (
    Call,
    CallDirection,
    CallEvent,
    Event,
    Member,
    RecordingState,
    Report,
    ReportStatus,
    utcnow,
)
from storage.vault import NumberVault
from tests.staff.helpers import make_call
from tests.support.menu import MENU, MemberMenu, new_sid
from tests.support.people import Enrol
from tests.support.suite import AppConfig, SuiteConfig
from tests.support.twilio import TwilioClient, twiml_of
from tests.worker_helpers import add_report, add_staff, job_services, mail_log, wav_bytes
from worker.events import GRACE, sweep_events
from worker.private_worker import PrivateSimpleWorker
from worker.signals import compute_signals

ROOT = Path(__file__).resolve().parent.parent
CALLS = 150
KILLED_AFTER = 50
BACK_AFTER = 100

# Counts events and sweeps: other tests' committed events must not show.
pytestmark = pytest.mark.usefixtures("empty_events")


@pytest.fixture
def volatile_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(port=free_port(), directory=tmp_path / "redis", persistent=False)
    server.start()
    yield server
    server.kill()


def _call_sid(n: int) -> str:
    return f"CA{n:04d}{uuid.uuid4().hex[:28]}"


def _after_grace() -> Any:
    return utcnow() + GRACE + timedelta(seconds=1)


def _start_worker(tmp_path: Path, db: Database, redis_url: str, **settings: Any) -> None:
    """The worker starting after the outage: its periodic sweep runs (here
    at once, past the grace period), and it drains the queue."""
    with job_services(tmp_path, db, REDIS_URL=redis_url, **settings):
        connection = Redis.from_url(redis_url)
        worker = PrivateSimpleWorker([Queue(QUEUE_NAME, connection=connection)], connection=connection)
        worker.work(burst=True)  # the doorbells Redis still holds
        sweep_events(now=_after_grace())  # the ones it lost
        worker.work(burst=True)
        assert sweep_events(now=_after_grace()) == 0  # nothing left to ring


def test_redis_killed_and_restarted_empty_with_no_worker_loses_no_final_status(
    app_config: AppConfig, suite: SuiteConfig, db: Database, volatile_redis: PrivateRedis, tmp_path: Path
) -> None:
    """The issue's drill: 150 calls complete while the worker is stopped;
    after 50 callbacks Redis is SIGKILLed, comes back empty after 100; the
    worker starts. Every call ends with its final status, duration and end
    time, each callback logged once."""
    calls = {_call_sid(n): 10 + n for n in range(CALLS)}  # CallSid -> seconds it lasted
    with db.session() as s:
        s.add_all(Call(call_sid=sid, direction=CallDirection.INBOUND) for sid in calls)
    app = create_app(app_config(REDIS_URL=volatile_redis.url, database=db))
    client = TwilioClient(app.test_client(), suite)
    answered = 0
    for n, (sid, seconds) in enumerate(calls.items()):
        if n == KILLED_AFTER:
            volatile_redis.kill()  # SIGKILL: everything it held is gone
        if n == BACK_AFTER:
            volatile_redis.start()  # back, empty
        form = {
            "CallSid": sid,
            "CallStatus": "completed",
            "SequenceNumber": "3",
            "CallDuration": str(seconds),
        }
        response = client.send("/voice/status", form)
        assert response.status_code == 200 and list(twiml_of(response)) == []
        answered += 1
    assert answered == CALLS
    assert len(Queue(QUEUE_NAME, connection=Redis.from_url(volatile_redis.url)).jobs) == CALLS - BACK_AFTER

    _start_worker(tmp_path, db, volatile_redis.url)

    with db.session() as s:
        rows = {c.call_sid: c for c in s.scalars(select(Call).where(Call.call_sid.in_(list(calls))))}
        logged = s.execute(
            select(CallEvent.call_sid, func.count())
            .where(CallEvent.call_sid.in_(list(calls)))
            .group_by(CallEvent.call_sid)
        ).all()
        undone = s.scalar(
            select(func.count()).select_from(Event).where(Event.job == "call_event", Event.done_at.is_(None))
        )
    assert {sid: (c.status, c.duration_seconds) for sid, c in rows.items()} == {
        sid: ("completed", seconds) for sid, seconds in calls.items()
    }
    assert all(c.ended_at is not None for c in rows.values())
    assert dict(logged) == dict.fromkeys(calls, 1)  # each callback once
    assert undone == 0


def test_recordings_whose_doorbells_a_flushall_erased_are_fetched_and_deleted_at_twilio(
    app_config: AppConfig,
    suite: SuiteConfig,
    db: Database,
    member: Any,
    volatile_redis: PrivateRedis,
    fake_twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    """Recording callbacks answered 200 while no worker runs; Redis is
    flushed; the worker starts. Every recording is stored encrypted, deleted
    at Twilio, and its report handed to a caseworker once."""
    add_staff(db, f"case-{uuid.uuid4().hex[:8]}@example.org")
    reports: dict[int, tuple[str, str]] = {}
    for n in range(6):
        call_sid, recording_sid = new_sid(), f"RE{n:02d}{uuid.uuid4().hex[:30]}"
        reports[add_report(db, member.id, report_call_sid=call_sid)] = (call_sid, recording_sid)
        fake_twilio.add_recording(recording_sid, wav_bytes(), call_sid=call_sid)
    settings = {"TWILIO_API_BASE_URL": fake_twilio.base_url, "RECORDINGS_PATH": str(tmp_path / "recordings")}
    app = create_app(app_config(REDIS_URL=volatile_redis.url, database=db, **settings))
    client = TwilioClient(app.test_client(), suite)
    for report_id, (call_sid, recording_sid) in reports.items():
        form = {"CallSid": call_sid, "RecordingSid": recording_sid, "RecordingStatus": "completed"}
        for _ in range(2):  # and Twilio's retry of each
            assert client.send(f"{MENU}/recording", form, query=f"report={report_id}").status_code == 200
    redis = Redis.from_url(volatile_redis.url)
    assert len(Queue(QUEUE_NAME, connection=redis).jobs) == len(reports)
    redis.flushall()  # the private server only: a failover to an empty replica

    _start_worker(tmp_path, db, volatile_redis.url, **settings)

    with db.session() as s:
        stored = s.scalars(select(Report).where(Report.id.in_(list(reports)))).all()
        assert {r.id: (r.recording_state, r.status) for r in stored} == dict.fromkeys(
            reports, (RecordingState.STORED, ReportStatus.ASSIGNED)
        )
    assert sorted(fake_twilio.deleted_recordings) == sorted(sid for _, sid in reports.values())
    assert fake_twilio.recordings == {}
    assert sorted(p.name for p in (tmp_path / "recordings").iterdir()) == sorted(
        f"{sid}.enc" for _, sid in reports.values()
    )


# --- every webhook that leaves work writes it first ------------------------------------

# The jobs web views leave for later, and the test below that walks each;
# "recording_callback" is the recording callback kept while PostgreSQL is
# down (tested on its own below); "delete_provider_records" is left by the
# status callback of a console call's leg (walked in its own test below).
WEBHOOK_JOBS = {
    "call_event",
    "ingest_recording",
    "assign_report",
    "pin_lockout_alert",
    "refresh_signals",
    "compute_signals",
}
DATABASE_DOWN_JOBS = {"recording_callback"}
STAFF_CALL_JOBS = {"delete_provider_records"}
# Left by the check-in call's webhooks, walked in tests/test_checkin_call.py
# (test_a_check_in_calls_webhooks_have_written_their_jobs_before_they_answer).
CHECKIN_CALL_JOBS = {"checkin_alarm_mail", "checkin_buddy_call", "delete_provider_records"}
# Modules the webhooks call to leave work, besides the webhooks themselves.
WEBHOOK_HELPERS = ("ivr/provider_legs.py", "ivr/after_response.py", "core/provider_records.py")


def _twilio_facing_modules() -> list[Path]:
    """The web app's modules that answer Twilio (guarded by its signature),
    and the repositories, which may name the job a webhook leaves."""
    web = [m for m in (ROOT / "ivr").rglob("*.py") if "require_twilio_signature)" in m.read_text()]
    assert {m.name for m in web} >= {"voice.py", "menu.py", "access.py", "sms.py"}
    return web + [ROOT / m for m in WEBHOOK_HELPERS] + sorted((ROOT / "storage").rglob("*.py"))


def _jobs_named(modules: list[Path]) -> set[str]:
    """The job names ``….enqueue*(…)`` and ``FollowUp(…)`` calls in
    ``modules`` pass (the first string literal: the session may come first)."""
    names: set[str] = set()
    for module in modules:
        for node in ast.walk(ast.parse(module.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if not (called.startswith("enqueue") or called == "FollowUp"):
                continue
            literals = [
                a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
            ]
            names.update(literals[:1])
    return names


def test_the_walk_below_covers_every_job_the_web_app_enqueues() -> None:
    assert (
        _jobs_named(_twilio_facing_modules())
        == WEBHOOK_JOBS | DATABASE_DOWN_JOBS | STAFF_CALL_JOBS | CHECKIN_CALL_JOBS
    )


def test_only_the_queue_talks_to_rq() -> None:
    """No code path reaches Redis with work but through core/queue.py (which
    writes the event first); the schedule's periodic jobs carry no promise."""
    allowed = {"core/queue.py", "worker/schedule.py"}
    offenders = []
    for package in ("ivr", "worker", "core", "storage", "callflows"):
        for module in (ROOT / package).rglob("*.py"):
            text = module.read_text()
            if str(module.relative_to(ROOT)) not in allowed and (
                ".enqueue_at(" in text or "rq.enqueue" in text
            ):
                offenders.append(str(module.relative_to(ROOT)))
    assert offenders == []


def test_every_webhook_that_leaves_work_has_written_its_event_before_it_answers(
    app_config: AppConfig, suite: SuiteConfig, db: Database, menu: MemberMenu
) -> None:
    """Redis down for the whole walk: whatever each webhook left for later
    can only be in the table once it has answered."""
    app = create_app(app_config(REDIS_URL="redis://127.0.0.1:1/0", database=db))
    walked = menu.on(app)
    member_id = walked.seed()

    def written() -> set[str]:
        with db.session() as s:
            return set(s.scalars(select(Event.job).where(Event.done_at.is_(None))))

    # Status callback of a call leg.
    walked.twilio.post("/voice/status", CallSid=new_sid(), CallStatus="completed", SequenceNumber="1")
    assert written() == {"call_event"}
    # The member declines a caller on the whisper (a key not on offer): the
    # risk signals' refresh.
    call_id = walked.add_inbound_call(member_id, "+447700900789")
    with db.session() as s:
        parent = s.get(Call, call_id).call_sid  # type: ignore[union-attr]
    walked.twilio.post("/voice/screen", query=f"call={parent}", CallSid=new_sid(), Digits="5")
    assert "refresh_signals" in written()
    # Recording completed: the ingestion; nothing recorded: the hand-off.
    for status, job in (("completed", "ingest_recording"), ("absent", "assign_report")):
        sid = new_sid()
        walked.log_in(sid)
        walked.press(sid, "2")
        with db.session() as s:
            report_id = s.scalars(select(Report.id).where(Report.report_call_sid == sid)).one()
        form = {"CallSid": sid, "RecordingSid": "RE" + uuid.uuid4().hex, "RecordingStatus": status}
        assert walked.twilio.send(f"{MENU}/recording", form, query=f"report={report_id}").status_code == 200
        assert job in written()
    # Blocking the last caller from the menu: the refresh again.
    walked.press(walked.logged_in_call(), "3")
    with db.session() as s:
        refreshed = s.scalars(select(Event.args).where(Event.job == "refresh_signals")).all()
    assert {args[0] for args in refreshed} == {"call", "report", "block"}
    # Wrong PINs from the member's own phone until the menu locks: the staff alert.
    for _ in range(3):
        walked.log_in(new_sid(), pin="9999")
    with db.session() as s:
        alert = s.scalars(select(Event).where(Event.job == "pin_lockout_alert")).one()
    assert alert.args == [member_id]
    # Cancelling from the menu (once the lock is over): signals computed again.
    with db.session() as s:
        s.get(Member, member_id).menu_locked_until = None  # type: ignore[union-attr]
    sid = walked.logged_in_call()
    walked.press(sid, "9")
    walked.twilio.post(f"{MENU}/cancel", CallSid=sid, Digits="9")
    assert written() == WEBHOOK_JOBS


def test_a_count_that_raises_signals_writes_one_alert_event_with_them_before_any_doorbell(
    db: Database, enrol: Enrol, vault: NumberVault, tmp_path: Path
) -> None:
    """The risk-signal count is worker work, not a webhook's: it leaves one
    ``send_signal_alerts`` event however many signals it raised, written in
    the count's own transaction. Redis down: the event waits in the table,
    no email yet; the sweep runs it once Redis (here the in-process queue)
    is back, and the one email lists every signal."""
    add_staff(db, f"case-{uuid.uuid4().hex[:8]}@example.org")
    declining = [
        enrol(phone=f"+4420794601{k:02d}", line=f"+4420794600{k:02d}", name=f"Member {k}").id
        for k in (10, 11)
    ]
    for caller in ("+447911123001", "+447911123002", "+447911123003"):
        for member_id in declining:
            make_call(db, vault, caller, member_id=member_id, declined=True)
    with job_services(tmp_path, db, REDIS_URL="redis://127.0.0.1:1/0") as down:
        assert len(compute_signals().raised) == 3
        mail_path = down.settings.mail_log_path
    with db.session() as s:
        waiting = s.execute(select(Event.job, Event.args).where(Event.done_at.is_(None))).all()
    assert [(job, args) for job, args in waiting] == [("send_signal_alerts", [])]
    assert mail_log(mail_path) == []

    with job_services(tmp_path, db, REDIS_URL=None):
        assert sweep_events(now=_after_grace()) == 1
        assert sweep_events(now=_after_grace()) == 0
    (mail,) = mail_log(mail_path)
    assert mail["Subject"] == "Safety Number: 3 new risk signals"
    assert mail.get_payload(decode=True).decode().count("/staff/signals/") == 3


def test_a_recording_callback_while_postgresql_is_down_is_kept_in_redis_and_accepted_later(
    app_config: AppConfig,
    suite: SuiteConfig,
    db: Database,
    member: Any,
    redis: Redis,
    fake_twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    """Either store down alone loses nothing: with Redis down the event is
    in the table (above); with PostgreSQL down the callback travels in Redis,
    ids only, and is accepted, stored and deleted at Twilio once it is back."""
    call_sid, recording_sid = new_sid(), "RE" + uuid.uuid4().hex
    report_id = add_report(db, member.id, report_call_sid=call_sid)
    fake_twilio.add_recording(recording_sid, wav_bytes(), call_sid=call_sid)
    down = create_app(app_config(DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/nothing"))
    client = TwilioClient(down.test_client(), suite)
    form = {"CallSid": call_sid, "RecordingSid": recording_sid, "RecordingStatus": "completed"}
    for _ in range(2):  # and Twilio's retry
        response = client.send(f"{MENU}/recording", form, query=f"report={report_id}")
        assert response.status_code == 200 and list(twiml_of(response)) == []
    carried = Queue(QUEUE_NAME, connection=redis).jobs
    assert [(j.func_name, j.args) for j in carried] == [
        (
            "worker.events.record_and_run",
            (
                "recording_callback",
                f"recording-callback:{recording_sid}:completed",
                report_id,
                call_sid,
                recording_sid,
                "completed",
            ),
        )
    ] * 2

    settings = {"TWILIO_API_BASE_URL": fake_twilio.base_url, "RECORDINGS_PATH": str(tmp_path / "recordings")}
    with job_services(tmp_path, db, **settings):
        PrivateSimpleWorker([Queue(QUEUE_NAME, connection=redis)], connection=redis).work(burst=True)
    with db.session() as s:
        report = s.get(Report, report_id)
        assert report is not None and (report.recording_sid, report.recording_state) == (
            recording_sid,
            RecordingState.STORED,
        )
        jobs = sorted(s.scalars(select(Event.job).where(Event.done_at.is_not(None))))
    assert jobs == ["assign_report", "ingest_recording", "recording_callback"]
    assert fake_twilio.deleted_recordings == [recording_sid]


def test_a_console_calls_leg_ending_has_written_its_deletion_at_twilio_before_it_answers(
    app_config: AppConfig, suite: SuiteConfig, db: Database
) -> None:
    """The status callback of a console call's member leg, Redis down: the
    deletion of the leg's record at Twilio is in the table, once."""
    app = create_app(app_config(REDIS_URL="redis://127.0.0.1:1/0", database=db))
    client = TwilioClient(app.test_client(), suite)
    leg = new_sid()
    form = {"CallSid": leg, "ParentCallSid": new_sid(), "CallStatus": "completed"}
    for _ in range(2):  # and Twilio's retry
        assert client.send("/voice/staff-call/status", form, query="staff_call=1").status_code == 200
    with db.session() as s:
        written = s.execute(select(Event.job, Event.args).where(Event.done_at.is_(None))).all()
    assert [(job, args) for job, args in written] == [("delete_provider_records", [leg])]
