"""Drill: ``python -m worker`` SIGKILLed mid-job while Redis is flushed.

A burst of status callbacks and recording callbacks is answered 200 while
the worker (the Procfile's process, supervisor and child) works through it.
The kill lands mid-job deterministically, with no hook in the code: the test
holds a row lock on one call's row, so the job of that call's event claims
its event, inserts its call_event and then waits on the call row, inside
its transaction. Then Redis is flushed (every doorbell still queued, the
started registry and the schedule are gone), the worker and all its
processes are SIGKILLed, more callbacks arrive with no worker running, and
the lock is released (the killed job's transaction dies with its
connection). A new worker starts; its own periodic sweep re-rings what
Redis lost. Every effect is then counted against what Twilio was answered
2xx for: each call's final status and each callback logged exactly once,
each recording stored, deleted at Twilio and its report handed over with
one mail, every event done.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import Connection, delete, func, select, text, update

from benchmarks.servers import PrivateRedis, free_port
from ivr import create_app
from simulator.fake_twilio import FakeTwilio
from storage.db import Database
from storage.models import (
    AuditEntry,
    Call,
    CallDirection,
    CallEvent,
    Event,
    RecordingState,
    Report,
    ReportStatus,
)
from storage.vault import NumberVault
from tests.support import people
from tests.support.databases import committing_database
from tests.support.menu import MENU
from tests.support.suite import AppConfig, SuiteConfig
from tests.support.twilio import TwilioClient
from tests.worker_helpers import add_report, add_staff, delete_seeded, start_worker, wav_bytes, worker_env
from tests.worker_processes import kill_everything, wait_for
from worker.events import GRACE

CALLS = 40
STUCK = 12  # the call whose job is mid-transaction when the worker dies
LATE_CALLS = 10  # callbacks answered while no worker runs, after the flush
RECORDINGS = 3
MAIL_SUBJECT = "Subject: Safety Number: a report is waiting"


@dataclass
class Burst:
    """What was sent, and what Twilio was answered 200 for."""

    calls: dict[str, int] = field(default_factory=dict)  # CallSid -> seconds it lasted
    recordings: dict[int, str] = field(default_factory=dict)  # report id -> RecordingSid
    answered: list[str] = field(default_factory=list)  # the events' natural keys

    def status(self, client: TwilioClient, sid: str) -> None:
        form = {"CallSid": sid, "CallStatus": "completed", "SequenceNumber": "3"}
        form["CallDuration"] = str(self.calls[sid])
        if client.send("/voice/status", form).status_code == 200:
            self.answered.append(f"call:{sid}:3")

    def recording(self, client: TwilioClient, report_id: int, call_sid: str) -> None:
        sid = self.recordings[report_id]
        form = {"CallSid": call_sid, "RecordingSid": sid, "RecordingStatus": "completed"}
        if client.send(f"{MENU}/recording", form, query=f"report={report_id}").status_code == 200:
            self.answered.append(f"recording:{sid}")


@pytest.fixture
def volatile_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A private redis-server (FLUSHALL on the shared one would empty every
    database of every run)."""
    server = PrivateRedis(port=free_port(), directory=tmp_path / "redis", persistent=False)
    server.start()
    yield server
    server.kill()


def _blocked_by(connection: Connection) -> list[int]:
    """Backends waiting on a lock ``connection`` holds."""
    mine = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with connection.engine.connect() as other:
        found = other.execute(
            text("SELECT pid FROM pg_stat_activity WHERE :mine = ANY(pg_blocking_pids(pid))"), {"mine": mine}
        )
        return [int(pid) for pid in found.scalars()]


def _backend_gone(db: Database, pid: int) -> bool:
    with db.engine.connect() as connection:
        found = connection.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        )
        return found.scalar_one() == 0


def _claimed_by_another(db: Database, key: str) -> bool:
    """The event is locked by a transaction that is not ours (a job's claim)."""
    with db.engine.connect() as connection, connection.begin():
        free = connection.execute(
            select(Event.id).where(Event.key == key).with_for_update(skip_locked=True)
        ).first()
        exists = connection.execute(select(Event.id).where(Event.key == key)).first()
        return exists is not None and free is None


def _handed_over(db: Database, burst: Burst) -> int:
    with db.session() as s:
        assigned = select(func.count()).where(
            Report.id.in_(list(burst.recordings)), Report.status == ReportStatus.ASSIGNED
        )
        return int(s.scalar(assigned.select_from(Report)) or 0)


@pytest.mark.usefixtures("pg_engine")  # migrated
def test_worker_killed_mid_job_with_redis_flushed_every_effect_once(
    vault: NumberVault,
    suite: SuiteConfig,
    app_config: AppConfig,
    pg_url: str,
    volatile_redis: PrivateRedis,
    tmp_path: Path,
    fake_twilio: FakeTwilio,
) -> None:
    db = committing_database(pg_url)
    log = tmp_path / "worker.log"
    settings = {
        "REDIS_URL": volatile_redis.url,
        "RECORDINGS_PATH": str(tmp_path / "recordings"),
        # The sweep each second rather than each minute: the test waits for it.
        "SCHEDULE_PERIODS": "sweep_events=1",
    }
    env = worker_env(suite, pg_url, fake_twilio, tmp_path, **settings)
    app = create_app(app_config(database=db, TWILIO_API_BASE_URL=fake_twilio.base_url, **settings))
    client = TwilioClient(app.test_client(), suite)
    burst = Burst(calls={f"CA{n:04d}{uuid.uuid4().hex[:28]}": 10 + n for n in range(CALLS + LATE_CALLS)})
    sids = list(burst.calls)
    stuck = sids[STUCK]
    ids: dict[str, int] = {}
    report_calls: dict[int, str] = {}
    workers: list[subprocess.Popen[bytes]] = []
    blocker = db.engine.connect()
    try:
        seeded = people.enrol(db, vault, name="Velvet", phone="+447700900321")
        ids["member"], ids["line"] = seeded.id, seeded.line_id
        ids["staff"] = add_staff(db, f"case-{uuid.uuid4().hex[:8]}@example.org")
        with db.session() as s:
            s.add_all(Call(call_sid=sid, direction=CallDirection.INBOUND) for sid in sids)
        for n in range(RECORDINGS):
            call_sid, recording_sid = f"CA{uuid.uuid4().hex}", f"RE{n:02d}{uuid.uuid4().hex[:30]}"
            report_id = add_report(db, ids["member"], report_call_sid=call_sid)
            report_calls[report_id], burst.recordings[report_id] = call_sid, recording_sid
            fake_twilio.add_recording(recording_sid, wav_bytes(), call_sid=call_sid)

        # The stuck call's row, locked: its job will wait there, mid-transaction.
        blocker.begin()
        blocker.execute(select(Call.id).where(Call.call_sid == stuck).with_for_update())
        workers.append(start_worker(env, log))
        for sid in sids[: STUCK + 1]:
            burst.status(client, sid)
        for report_id, call_sid in report_calls.items():
            burst.recording(client, report_id, call_sid)
        for sid in sids[STUCK + 1 : CALLS]:
            burst.status(client, sid)

        wait_for(lambda: len(_blocked_by(blocker)) == 1, 90, "the stuck call's job to wait on its row", log)
        [job_backend] = _blocked_by(blocker)
        assert _claimed_by_another(db, f"call:{stuck}:3")  # mid-job: its event claimed, uncommitted

        Redis.from_url(volatile_redis.url).flushall()  # the doorbells still queued, gone
        kill_everything(workers[0])
        for sid in sids[CALLS:]:
            burst.status(client, sid)  # answered with no worker running
        blocker.rollback()  # the killed job's transaction now ends with its connection
        wait_for(lambda: _backend_gone(db, job_backend), 60, "the killed job's connection to end", log)
        with db.session() as s:
            assert (
                s.scalar(select(func.count()).select_from(CallEvent).where(CallEvent.call_sid == stuck)) == 0
            )
            assert s.scalars(select(Event.done_at).where(Event.key == f"call:{stuck}:3")).one() is None

        # What takes two minutes by itself (the sweep's grace), made to
        # happen now: every event of the burst not yet done is past due.
        with db.session() as s:
            s.execute(
                update(Event)
                .where(Event.key.in_(burst.answered), Event.done_at.is_(None))
                .values(due_at=Event.due_at - GRACE - GRACE)
            )
        workers.append(start_worker(env, log))

        def all_done() -> bool:
            with db.session() as s:
                done = select(func.count()).where(Event.key.in_(burst.answered), Event.done_at.is_not(None))
                return s.scalar(done.select_from(Event)) == len(burst.answered)

        wait_for(all_done, 120, "every event the burst was answered for to be done", log)
        wait_for(
            lambda: _handed_over(db, burst) == RECORDINGS, 60, "the reports' hand-offs (follow-ups)", log
        )
        workers[1].terminate()
        assert workers[1].wait(timeout=30) == 0, log.read_text()[-3000:]

        assert len(burst.answered) == len(set(burst.answered)) == len(sids) + RECORDINGS
        with db.session() as s:
            rows = s.scalars(select(Call).where(Call.call_sid.in_(sids))).all()
            assert {c.call_sid: (c.status, c.duration_seconds) for c in rows} == {
                sid: ("completed", seconds) for sid, seconds in burst.calls.items()
            }
            logged = s.execute(
                select(CallEvent.call_sid, func.count())
                .where(CallEvent.call_sid.in_(sids))
                .group_by(CallEvent.call_sid)
            ).all()
            assert dict(logged) == dict.fromkeys(sids, 1)  # each callback once, the stuck one too
            reports = s.scalars(select(Report).where(Report.id.in_(list(burst.recordings)))).all()
            assert {
                r.id: (r.recording_state, r.status, r.caseworker_id is not None) for r in reports
            } == dict.fromkeys(burst.recordings, (RecordingState.STORED, ReportStatus.ASSIGNED, True))
            failed = select(func.count()).where(Event.key.in_(burst.answered), Event.failed_at.is_not(None))
            assert s.scalar(failed.select_from(Event)) == 0
        assert sorted(fake_twilio.deleted_recordings) == sorted(burst.recordings.values())
        stored = sorted(p.name for p in (tmp_path / "recordings").iterdir())
        assert stored == sorted(f"{sid}.enc" for sid in burst.recordings.values())
        assert (tmp_path / "mail.log").read_text().count(MAIL_SUBJECT) == RECORDINGS
    finally:
        blocker.close()
        for proc in workers:
            if proc.poll() is None:
                kill_everything(proc)
        with db.session() as s:
            s.execute(delete(Event).where(Event.key.in_(burst.answered)))
            s.execute(delete(CallEvent).where(CallEvent.call_sid.in_(sids)))
            s.execute(delete(Call).where(Call.call_sid.in_(sids)))
            s.execute(delete(AuditEntry).where(AuditEntry.target_id.in_(list(report_calls))))
            s.execute(delete(Report).where(Report.id.in_(list(report_calls))))
            delete_seeded(s, ids)
        db.engine.dispose()
