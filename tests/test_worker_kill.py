"""Workers end to end on real Redis and PostgreSQL.

1. Webhooks -> RQ -> SimpleWorker (in-process): status callbacks become call
   rows; a recording callback becomes an encrypted file, a deletion at the
   fake Twilio, an assigned report and a logged email. Every job left in
   Redis is inspected for phone numbers and names.
2. ``python -m worker`` killed with SIGKILL mid-download: RQ's abandoned-job
   handling re-runs the job on a fresh worker, which completes it once.
"""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import delete, func, select
from sqlalchemy.orm import InstrumentedAttribute

from core.queue import QUEUE_NAME
from core.services import bound
from ivr import create_app
from ivr.services import services_of
from simulator.fake_twilio import FakeTwilio
from storage import checkins
from storage.db import Database
from storage.models import (
    AuditEntry,
    Call,
    CallDirection,
    Checkin,
    CheckinAlarm,
    Event,
    Member,
    RecordingState,
    Report,
    ReportStatus,
    SafetyNumber,
    utcnow,
)
from storage.vault import NumberVault
from tests.support import people
from tests.support.call_rows import inbound_call
from tests.support.databases import committing_database
from tests.support.people import Enrol
from tests.support.suite import AppConfig, SuiteConfig
from tests.support.twilio import TwilioClient
from tests.worker_helpers import (
    add_report,
    add_staff,
    delete_seeded,
    job_services,
    start_worker,
    wav_bytes,
    worker_env,
)
from tests.worker_processes import alive, kill_everything, wait_for

MEMBER_PHONE = "+447700900321"
MEMBER_NAME = "Velvet"
CALLER = "+447700900654"
ROOT = Path(__file__).resolve().parent.parent


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def _pii_forms(e164: str) -> list[str]:
    national = "0" + e164[3:]
    return [e164, e164[1:], national, e164[3:]]


def _all_job_text(redis: Redis) -> str:
    """Everything RQ keeps about every job: args, description, meta, raw data."""
    from tests.job_privacy import job_texts

    return "\n".join(job_texts(redis).values())


@pytest.mark.usefixtures("empty_events")
def test_webhooks_to_workers_end_to_end(
    suite: SuiteConfig,
    app_config: AppConfig,
    db: Database,
    redis: Redis,
    tmp_path: Path,
    fake_twilio: FakeTwilio,
    enrol: Enrol,
) -> None:
    app = create_app(app_config(TWILIO_API_BASE_URL=fake_twilio.base_url, database=db))
    services = services_of(app)
    client = TwilioClient(app.test_client(), suite)
    member_id = enrol(phone=MEMBER_PHONE, name=MEMBER_NAME).id
    caseworker = add_staff(db, "case@example.org")

    # An inbound call (row as the inbound webhook writes it) and its member leg.
    parent, leg = _sid("CA"), _sid("CA")
    with db.session() as s:
        line = s.scalars(select(SafetyNumber).where(SafetyNumber.member_id == member_id)).one()
        caller = services.vault.protect(CALLER)
        s.add(inbound_call(parent, member_id, caller, safety_number_id=line.id, bridged=True))
    for seq, status in enumerate(["initiated", "ringing", "in-progress", "completed"]):
        form = {
            "CallSid": leg,
            "ParentCallSid": parent,
            "CallStatus": status,
            "SequenceNumber": str(seq),
            "From": CALLER,
            "To": MEMBER_PHONE,
        }
        if status == "completed":
            form["CallDuration"] = "61"
        assert client.send("/voice/status", form).status_code == 200
    client.send("/voice/status", {"CallSid": parent, "CallStatus": "completed", "CallDuration": "70"})

    # An incident report recorded from the menu.
    menu_call, recording = _sid("CA"), _sid("RE")
    audio = wav_bytes(seconds=3)
    url = fake_twilio.add_recording(recording, audio)
    report_id = add_report(db, member_id, None, report_call_sid=menu_call)
    form = {
        "CallSid": menu_call,
        "RecordingSid": recording,
        "RecordingUrl": url,
        "RecordingStatus": "completed",
        "RecordingDuration": "3",
    }
    assert client.send("/voice/menu/recording", form, query=f"report={report_id}").status_code == 200

    # Nothing personal in anything RQ holds (event ids), nor in the events
    # those ids name (CallSids, RecordingSids, statuses).
    text = _all_job_text(redis)
    with db.session() as s:
        written = s.execute(select(Event.id, Event.args)).all()
    assert all(f"run_event({event_id})" in text for event_id, _ in written)  # the scan does see the jobs
    rows = repr(written)
    assert recording in rows and leg in rows  # and the events
    for secret in [*_pii_forms(MEMBER_PHONE), *_pii_forms(CALLER), MEMBER_NAME, url]:
        assert secret not in text and secret not in rows

    with bound(services):
        SimpleWorker([Queue(QUEUE_NAME, connection=redis)], connection=redis).work(burst=True)

    with db.session() as s:
        child = s.scalars(select(Call).where(Call.call_sid == leg)).one()
        assert (child.direction, child.member_id, child.status, child.duration_seconds) == (
            CallDirection.MEMBER_LEG,
            member_id,
            "completed",
            61,
        )
        inbound = s.scalars(select(Call).where(Call.call_sid == parent)).one()
        assert inbound.status == "completed" and inbound.bridged
        report = s.get(Report, report_id)
        assert report is not None
        assert (report.recording_state, report.recording_seconds) == (RecordingState.STORED, 3)
        assert (report.caseworker_id, report.status) == (caseworker, ReportStatus.ASSIGNED)
    stored = Path(services.settings.recordings_path) / str(report.recording_path)
    assert services.vault.cipher.decrypt_bytes(stored.read_bytes()) == audio
    assert audio not in stored.read_bytes()
    assert fake_twilio.deleted_recordings == [recording]
    mail = Path(services.settings.mail_log_path).read_text()
    assert f"{suite.public_base_url}/staff/reports/{report_id}" in mail
    for secret in [*_pii_forms(MEMBER_PHONE), MEMBER_NAME]:
        assert secret not in mail
    assert Queue(QUEUE_NAME, connection=redis).failed_job_registry.count == 0


# --- SIGKILL during ingestion ---------------------------------------------------


@contextmanager
def _workers(
    db: Database, ids: dict[str, int], *made: tuple[str, InstrumentedAttribute[Any]]
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The worker processes a test starts (it appends them to the list
    yielded), killed at the end if still running; then what the test seeded
    is deleted, as far as it got: first the rows in ``made`` (the id's key in
    ``ids``, the column that holds it), then the seeded member, line and staff."""
    workers: list[subprocess.Popen[bytes]] = []
    try:
        yield workers
    finally:
        for proc in workers:
            if proc.poll() is None:
                kill_everything(proc)
        with db.session() as s:
            for key, column in made:
                if key in ids:
                    s.execute(delete(column.class_).where(column == ids[key]))
            delete_seeded(s, ids)
        db.engine.dispose()


@pytest.mark.usefixtures("pg_engine")  # migrated
def test_worker_killed_mid_download_reruns_the_job_once(
    vault: NumberVault, suite: SuiteConfig, pg_url: str, redis: Redis, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    db = committing_database(pg_url)
    log = tmp_path / "worker.log"
    env = worker_env(suite, pg_url, fake_twilio, tmp_path)
    recording = _sid("RE")
    audio = wav_bytes(seconds=2)
    fake_twilio.add_recording(recording, audio)
    fake_twilio.hold_media()
    ids: dict[str, int] = {}
    with _workers(db, ids, ("report", AuditEntry.target_id), ("report", Report.id)) as workers:
        with job_services(
            tmp_path, db, TWILIO_API_BASE_URL=fake_twilio.base_url, RECORDINGS_PATH=env["RECORDINGS_PATH"]
        ) as svc:
            seeded = people.enrol(db, vault, name=MEMBER_NAME, phone=MEMBER_PHONE)
            ids["member"], ids["line"] = seeded.id, seeded.line_id
            ids["staff"] = add_staff(db, f"case-{uuid.uuid4().hex[:8]}@example.org")
            ids["report"] = add_report(db, ids["member"], recording)
            svc.queue.enqueue("ingest_recording", ids["report"], recording)

        workers.append(start_worker(env, log))
        assert fake_twilio.media_requested.wait(timeout=60), log.read_text()
        horses = kill_everything(workers[0])
        assert horses and not any(alive(pid) for pid in horses)
        fake_twilio.release_media()

        with db.session() as s:
            report = s.get(Report, ids["report"])
            assert report is not None and report.recording_state == RecordingState.AWAITED
        queue = Queue(QUEUE_NAME, connection=redis)
        started = StartedJobRegistry(queue=queue)
        assert started.count == 1  # abandoned mid-run, not lost

        # What happens by itself within minutes, made to happen now: the dead
        # worker's heartbeat expires (RQ's cleanup retries the job with
        # backoff) and its scheduler lock expires.
        started.cleanup(timestamp=time.time() + 3600)
        assert ScheduledJobRegistry(queue=queue).count >= 1
        redis.delete(f"rq:scheduler-lock:{QUEUE_NAME}")

        workers.append(start_worker(env, log))

        def done() -> bool:
            with db.session() as s:
                r = s.get(Report, ids["report"])
                return r is not None and r.caseworker_id is not None

        wait_for(done, 90, "the re-run to store and assign the report", log)
        # Warm shutdown on SIGTERM: the worker finishes and exits cleanly.
        workers[1].send_signal(signal.SIGTERM)
        assert workers[1].wait(timeout=30) == 0, log.read_text()[-3000:]

        with db.session() as s:
            report = s.get(Report, ids["report"])
            assert report is not None and report.recording_state == RecordingState.STORED
            assert report.caseworker_id == ids["staff"]
            reports = s.scalar(
                select(func.count()).select_from(Report).where(Report.member_id == ids["member"])
            )
            assert reports == 1
        files = sorted((tmp_path / "recordings").iterdir())
        assert [f.name for f in files] == [report.recording_path]
        assert svc.vault.cipher.decrypt_bytes(files[0].read_bytes()) == audio
        assert fake_twilio.deleted_recordings == [recording]
        downloads = [r for r in fake_twilio.requests if r.method == "GET" and recording in r.path]
        assert len(downloads) == 2  # the killed one and the re-run
        assert (tmp_path / "mail.log").read_text().count("Subject: Safety Number: a report is waiting") == 1
        assert queue.failed_job_registry.count == 0


@pytest.mark.usefixtures("pg_engine")  # migrated
def test_worker_killed_while_placing_a_due_check_in_call_loses_nothing(
    vault: NumberVault, suite: SuiteConfig, pg_url: str, redis: Redis, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    """The periodic due-check claims a due check-in, commits, and asks Twilio
    to call; the worker dies mid-request. The check-in is still in the
    database: once the call's window has passed, the next worker's due-check
    places the call again, once, and nothing raises an alarm."""
    db = committing_database(pg_url)
    log = tmp_path / "worker.log"
    # A short call window, so the retry comes within the test (240 s in production).
    env = worker_env(suite, pg_url, fake_twilio, tmp_path, CHECKIN_CALL_WINDOW_SECONDS="5")
    ids: dict[str, int] = {}
    fake_twilio.stall_next(1, seconds=8)  # the first call request hangs until the worker is dead
    with _workers(db, ids, ("checkin", Checkin.id)) as workers:
        seeded = people.enrol(db, vault, name=MEMBER_NAME, phone=MEMBER_PHONE)
        fake_twilio.add_number(people.LINE)  # calls are placed only from the account's own numbers
        ids["member"], ids["line"] = seeded.id, seeded.line_id
        with db.session() as s:
            member = s.get_one(Member, seeded.id)
            ids["checkin"] = checkins.start_checkin(s, member, 15, utcnow() - timedelta(minutes=16)).id

        def calls_asked() -> int:
            asked = [r for r in fake_twilio.requests if r.method == "POST" and r.path.endswith("/Calls.json")]
            return len(asked)

        workers.append(start_worker(env, log))
        wait_for(lambda: calls_asked() == 1, 90, "the due-check to ask Twilio for the call", log)
        kill_everything(workers[0])
        with db.session() as s:
            claimed = s.get_one(Checkin, ids["checkin"])
            assert (claimed.state, claimed.attempts, claimed.call_sid) == ("calling", 1, None)
        # What happens by itself within minutes, made to happen now: the dead
        # worker's scheduler lock expires.
        redis.delete(f"rq:scheduler-lock:{QUEUE_NAME}")
        workers.append(start_worker(env, log))

        def placed() -> bool:
            with db.session() as s:
                return s.get_one(Checkin, ids["checkin"]).call_sid is not None

        wait_for(placed, 120, "the next due-check to place the call", log)
        workers[1].send_signal(signal.SIGTERM)
        assert workers[1].wait(timeout=30) == 0, log.read_text()[-3000:]
        with db.session() as s:
            checkin = s.get_one(Checkin, ids["checkin"])
            assert (checkin.state, checkin.attempts) == ("calling", 1)
            assert checkin.call_sid == fake_twilio.placed[-1].sid
            assert s.scalars(select(CheckinAlarm).where(CheckinAlarm.checkin_id == checkin.id)).all() == []
        assert calls_asked() == 2
        assert fake_twilio.placed[-1].to == MEMBER_PHONE


def test_the_job_inspection_finds_a_number_when_there_is_one(redis: Redis) -> None:
    from tests.job_privacy import phone_numbers_in_jobs

    queue = Queue(QUEUE_NAME, connection=redis)
    queue.enqueue("worker.jobs.ping", "CA0123456789012345678901234567890a", 447700900, description="ids only")
    # Random hex (RQ's worker names) and UUIDs that happen to hold long digit runs are ids.
    worker_name, uuid = "08713487450e9f3c2a1b4d5e6f708192", "c25c4534-9a06-4c01-8e68-441234567890"
    queue.enqueue("worker.jobs.ping", worker_name, uuid)
    assert phone_numbers_in_jobs(redis) == {}
    for leaked in ("+447700900123", "07700900123", "447700900123"):
        job = queue.enqueue("worker.jobs.ping", f"from {leaked}")
        assert phone_numbers_in_jobs(redis)[job.id]
        job.delete()
    assert phone_numbers_in_jobs(redis) == {}
