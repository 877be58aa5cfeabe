"""Recording ingestion against the fake Twilio: store encrypted, verify, delete, hand off."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from callflows.errors import TwilioUnavailable
from core.services import recording_store
from simulator.fake_twilio import FakeTwilio
from storage import repositories as repo
from storage.db import Database
from storage.models import Member, RecordingState, Report, ReportStatus
from storage.vault import NumberVault
from tests.support import people
from tests.support.people import Enrol
from tests.worker_helpers import add_report, add_staff, job_services, wav_bytes
from worker.jobs import job_failed
from worker.recordings import ABANDONED_AFTER, ingest_recording, sweep_abandoned_reports

MEMBER_NAME = "Ruby Tuesday"
MEMBER_PHONE = "+447700900123"


def _sid() -> str:
    return "RE" + uuid.uuid4().hex


@pytest.fixture
def setup(enrol: Enrol, db: Database, tmp_path: Path, fake_twilio: FakeTwilio):
    """Services for jobs (in-process queue, so the hand-off runs at once), a member, a caseworker."""
    with job_services(tmp_path, db, TWILIO_API_BASE_URL=fake_twilio.base_url, REDIS_URL=None) as svc:
        member_id = enrol(name=MEMBER_NAME, phone=MEMBER_PHONE).id
        caseworker = add_staff(db, "case@example.org")
        yield SimpleNamespace(svc=svc, member_id=member_id, caseworker=caseworker, fake=fake_twilio)


def _report(db: Database, report_id: int) -> Report:
    with db.session() as s:
        report = s.get(Report, report_id)
        assert report is not None
        return report


def _files(svc) -> list[Path]:
    root = Path(svc.settings.recordings_path)
    return sorted(root.iterdir()) if root.exists() else []


def _media_requests(fake: FakeTwilio, sid: str) -> int:
    return sum(
        1 for r in fake.requests if r.method == "GET" and re.search(rf"/Recordings/{sid}(\.\w+)?$", r.path)
    )


def test_recording_is_stored_encrypted_deleted_at_twilio_and_handed_off(setup, db: Database) -> None:
    sid, audio = _sid(), wav_bytes(seconds=2)
    setup.fake.add_recording(sid, audio)
    report_id = add_report(db, setup.member_id, sid)

    ingest_recording(report_id, sid)

    report = _report(db, report_id)
    assert report.recording_state == RecordingState.STORED
    assert report.recording_seconds == 2 and report.recording_error is None
    [stored] = _files(setup.svc)
    assert stored.name == report.recording_path
    raw = stored.read_bytes()
    # Encrypted at rest: neither the audio nor a WAV header anywhere a
    # player would look (the ciphertext, base64, may hold "RIFF" by chance).
    assert audio not in raw and not raw.startswith(b"RIFF")
    assert setup.svc.vault.cipher.decrypt_bytes(raw) == audio
    assert setup.fake.deleted_recordings == [sid]
    assert (report.caseworker_id, report.status) == (setup.caseworker, ReportStatus.ASSIGNED)
    mail = Path(setup.svc.settings.mail_log_path).read_text()
    assert f"https://safety.example.org/staff/reports/{report_id}" in mail
    assert "case@example.org" in mail
    assert MEMBER_NAME.split()[0] not in mail and MEMBER_PHONE[-9:] not in mail and sid not in mail


def test_running_twice_makes_no_second_file_or_download(setup, db: Database) -> None:
    sid = _sid()
    setup.fake.add_recording(sid, wav_bytes())
    report_id = add_report(db, setup.member_id, sid)
    ingest_recording(report_id, sid)
    ingest_recording(report_id, sid)
    assert len(_files(setup.svc)) == 1
    assert _media_requests(setup.fake, sid) == 1
    assert _report(db, report_id).recording_state == RecordingState.STORED
    assert Path(setup.svc.settings.mail_log_path).read_text().count("Subject:") == 1


def test_a_crash_before_deleting_at_twilio_resumes_without_downloading_again(setup, db: Database) -> None:
    sid = _sid()
    setup.fake.add_recording(sid, wav_bytes())
    report_id = add_report(db, setup.member_id, sid)
    # The download works; the deletion at Twilio fails (as if the worker died there).
    setup.fake.fail_next(1, method="DELETE")
    with pytest.raises(TwilioUnavailable):
        ingest_recording(report_id, sid)
    assert _report(db, report_id).recording_state == RecordingState.STORED
    assert setup.fake.deleted_recordings == []

    ingest_recording(report_id, sid)  # RQ's retry
    assert setup.fake.deleted_recordings == [sid]
    assert _media_requests(setup.fake, sid) == 1
    assert len(_files(setup.svc)) == 1


def test_twilio_errors_leave_the_job_to_be_retried(setup, db: Database) -> None:
    sid = _sid()
    setup.fake.add_recording(sid, wav_bytes())
    report_id = add_report(db, setup.member_id, sid)
    setup.fake.fail_next(1, status=503)
    with pytest.raises(TwilioUnavailable):
        ingest_recording(report_id, sid)
    report = _report(db, report_id)
    assert report.recording_state == RecordingState.AWAITED and report.caseworker_id is None
    assert _files(setup.svc) == []
    ingest_recording(report_id, sid)
    assert _report(db, report_id).recording_state == RecordingState.STORED


def test_a_recording_twilio_does_not_have_fails_visibly(setup, db: Database) -> None:
    sid = _sid()
    report_id = add_report(db, setup.member_id, sid)
    ingest_recording(report_id, sid)  # no exception: retrying cannot help
    report = _report(db, report_id)
    assert report.recording_state == RecordingState.FAILED
    assert report.recording_error and not re.search(r"\d", report.recording_error)
    # Staff still get the report.
    assert report.caseworker_id == setup.caseworker


def test_rq_giving_up_marks_the_report_failed(setup, db: Database) -> None:
    sid = _sid()
    report_id = add_report(db, setup.member_id, sid)
    job = SimpleNamespace(
        id="j1", func_name="worker.recordings.ingest_recording", args=(report_id, sid), retries_left=2
    )
    job_failed(job, None, TwilioUnavailable, TwilioUnavailable("x"), None)
    assert _report(db, report_id).recording_state == RecordingState.AWAITED  # retries left: wait
    job.retries_left = 0
    job_failed(job, None, TwilioUnavailable, TwilioUnavailable("x"), None)
    report = _report(db, report_id)
    assert report.recording_state == RecordingState.FAILED
    assert report.recording_error and not re.search(r"\d", report.recording_error)


def test_a_job_for_another_recording_of_the_report_is_ignored(setup, db: Database) -> None:
    sid, other = _sid(), _sid()
    setup.fake.add_recording(other, wav_bytes())
    report_id = add_report(db, setup.member_id, sid)
    ingest_recording(report_id, other)
    assert _media_requests(setup.fake, other) == 0
    assert _report(db, report_id).recording_state == RecordingState.AWAITED


def test_the_job_attaches_the_recording_when_the_webhook_did_not(setup, db: Database) -> None:
    sid = _sid()
    setup.fake.add_recording(sid, wav_bytes())
    report_id = add_report(db, setup.member_id, None)
    ingest_recording(report_id, sid)
    with db.session() as s:
        assert s.scalars(select(Report.recording_sid).where(Report.id == report_id)).one() == sid
    assert _report(db, report_id).recording_state == RecordingState.STORED


def test_ingestion_and_hand_off_work_on_the_embedded_database(
    vault: NumberVault, any_db: Database, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    """The same job on SQLite (the embedded default) as on PostgreSQL."""
    with job_services(tmp_path, any_db, TWILIO_API_BASE_URL=fake_twilio.base_url, REDIS_URL=None):
        member_id = people.enrol(any_db, vault, name=MEMBER_NAME, phone=MEMBER_PHONE).id
        caseworker = add_staff(any_db, "case@example.org")
        sid = _sid()
        fake_twilio.add_recording(sid, wav_bytes())
        report_id = add_report(any_db, member_id, sid)
        ingest_recording(report_id, sid)
    report = _report(any_db, report_id)
    assert (report.recording_state, report.caseworker_id) == (RecordingState.STORED, caseworker)
    assert fake_twilio.deleted_recordings == [sid]


def test_rq_calls_the_failure_hook_when_the_last_attempt_fails(
    enrol: Enrol, db: Database, redis, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    """The on_failure callback core/queue.py attaches, run by a real RQ worker."""
    from rq import Callback, Queue, SimpleWorker

    from core.queue import FAILURE_CALLBACK, QUEUE_NAME

    with job_services(tmp_path, db, TWILIO_API_BASE_URL=fake_twilio.base_url):
        member_id = enrol(name=MEMBER_NAME, phone=MEMBER_PHONE).id
        sid = _sid()
        fake_twilio.add_recording(sid, wav_bytes())
        fake_twilio.fail_next(100)  # Twilio is down for good
        report_id = add_report(db, member_id, sid)
        queue = Queue(QUEUE_NAME, connection=redis)
        # As RedisQueue.push enqueues it, on its last attempt (no retry left).
        queue.enqueue(
            "worker.recordings.ingest_recording", report_id, sid, on_failure=Callback(FAILURE_CALLBACK)
        )
        SimpleWorker([queue], connection=redis).work(burst=True)
    report = _report(db, report_id)
    assert report.recording_state == RecordingState.FAILED
    assert report.recording_error and "several attempts" in report.recording_error
    assert queue.failed_job_registry.count == 1  # and RQ keeps it visible too


def test_a_report_whose_recording_never_came_is_handed_off_after_a_while(setup, db: Database) -> None:
    """The member hung up before <Record> began: no recording callback is
    ever due. The periodic sweep shows that and hands the report off; a
    report still within Twilio's usual delay, or with a recording, waits."""
    from datetime import timedelta

    from storage.models import utcnow

    now = utcnow()
    old = now - ABANDONED_AFTER - timedelta(minutes=1)
    abandoned = add_report(db, setup.member_id, None, created_at=old)
    recent = add_report(db, setup.member_id, None, created_at=now - timedelta(minutes=5))
    downloading = add_report(db, setup.member_id, _sid(), created_at=old)

    assert sweep_abandoned_reports(now) == [abandoned]

    report = _report(db, abandoned)
    assert report.recording_state == RecordingState.FAILED and report.recording_error
    assert (report.caseworker_id, report.status) == (setup.caseworker, ReportStatus.ASSIGNED)
    for waiting in (recent, downloading):
        assert _report(db, waiting).recording_state == RecordingState.AWAITED
        assert _report(db, waiting).caseworker_id is None
    assert sweep_abandoned_reports(now) == []  # nothing twice


def test_a_recording_arriving_after_the_member_cancelled_is_deleted_at_twilio_never_stored(
    setup, db: Database
) -> None:
    sid = _sid()
    setup.fake.add_recording(sid, wav_bytes())
    report_id = add_report(db, setup.member_id)  # the report still awaits its recording
    with db.session() as s:
        member = s.get(Member, setup.member_id)
        assert member is not None
        repo.cancel_member(s, member, recording_store(setup.svc))

    ingest_recording(report_id, sid)

    assert _files(setup.svc) == []
    assert setup.fake.deleted_recordings == [sid]
    report = _report(db, report_id)
    assert (report.recording_state, report.recording_path, report.member_id) == (
        RecordingState.DELETED,
        None,
        None,
    )
