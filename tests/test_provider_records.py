"""Nothing left at the provider (issue 12, item 12).

Twilio keeps a record of every call leg, and the leg that rings a member
carries their real number. Each leg's final status callback now schedules
the deletion of its record there, PROVIDER_RECORD_DELAY_SECONDS later, on
RQ and on the embedded queue alike; the job is idempotent, retried, and the
daily retention sweep deletes what a lost job left.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Queue
from rq.registry import ScheduledJobRegistry

from callflows.errors import TwilioUnavailable
from core.queue import QUEUE_NAME, InlineQueue
from simulator.fake_twilio import FakeTwilio
from storage.db import Database
from storage.models import CallEvent, Report
from tests.worker_helpers import job_services, rung_jobs, wav_bytes
from worker.calllog import record_call_event
from worker.provider_records import delete_provider_records
from worker.retention import apply_retention

LEG = "CA" + "1" * 32
CHILD = "CA" + "2" * 32
MEMBER_PHONE = "+447911123456"


@pytest.fixture
def at_fake(db: Database, tmp_path: Path, fake_twilio: FakeTwilio) -> Any:
    """Job services on the embedded queue, pointed at the fake Twilio."""
    with job_services(tmp_path, db, TWILIO_API_BASE_URL=fake_twilio.base_url, REDIS_URL=None) as svc:
        yield svc


def test_a_legs_final_status_schedules_its_deletion_after_the_delay(
    db: Database, redis: Redis, tmp_path: Path
) -> None:
    with job_services(tmp_path, db, PROVIDER_RECORD_DELAY_SECONDS=300):
        record_call_event(CHILD, 0, "ringing", None, LEG)
        registry = ScheduledJobRegistry(queue=Queue(QUEUE_NAME, connection=redis))
        assert registry.get_job_ids() == []  # not a final status
        before = datetime.now(UTC)
        record_call_event(CHILD, 1, "completed", 42, LEG)
    [job_id] = registry.get_job_ids()
    job = Queue(QUEUE_NAME, connection=redis).fetch_job(job_id)
    assert job is not None
    assert rung_jobs(db, [job]) == [("delete_provider_records", (CHILD,))]
    assert job.retries_left == 5
    due = registry.get_scheduled_time(job_id)
    assert before + timedelta(seconds=299) <= due <= datetime.now(UTC) + timedelta(seconds=301)


def test_the_job_deletes_the_call_and_its_recordings_and_a_second_run_is_done(
    at_fake: Any, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.add_call(LEG, "+447700900123", "+442079460001")
    fake_twilio.add_recording("RE" + "3" * 32, wav_bytes(), call_sid=LEG)
    fake_twilio.add_call(CHILD, "+442079460001", MEMBER_PHONE, parent_sid=LEG)

    delete_provider_records(LEG)
    assert LEG not in fake_twilio.calls and fake_twilio.recordings == {}
    assert CHILD in fake_twilio.calls  # each leg has its own job
    delete_provider_records(LEG)  # Twilio answers 404: already gone counts as done
    assert fake_twilio.deleted_calls == [LEG]


def test_a_recording_a_report_still_awaits_is_left_for_its_ingestion(
    at_fake: Any, db: Database, fake_twilio: FakeTwilio
) -> None:
    recording = "RE" + "4" * 32
    fake_twilio.add_call(LEG, "+447911123456", "+442079460009")
    fake_twilio.add_recording(recording, wav_bytes(), call_sid=LEG)
    with db.session() as s:
        s.add(Report(report_call_sid=LEG))
    delete_provider_records(LEG)
    assert recording in fake_twilio.recordings  # ingestion stores it, then deletes it there
    assert LEG not in fake_twilio.calls


def test_a_twilio_failure_reaches_rq_for_a_retry(at_fake: Any, fake_twilio: FakeTwilio) -> None:
    fake_twilio.add_call(LEG, "+447700900123", "+442079460001")
    fake_twilio.fail_next(1, 503)
    with pytest.raises(TwilioUnavailable):
        delete_provider_records(LEG)
    delete_provider_records(LEG)
    assert LEG not in fake_twilio.calls


def test_anything_but_a_call_sid_is_not_sent_to_twilio(at_fake: Any, fake_twilio: FakeTwilio) -> None:
    delete_provider_records("../Recordings")
    assert fake_twilio.requests == []


def test_the_embedded_queue_runs_a_delayed_job_once_its_time_has_come(
    at_fake: Any, db: Database, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.add_call(LEG, "+447700900123", "+442079460001")
    assert isinstance(at_fake.queue, InlineQueue)
    at_fake.queue.enqueue_in(0.3, "delete_provider_records", LEG)
    assert LEG in fake_twilio.calls  # not yet
    deadline = time.monotonic() + 10
    while LEG in fake_twilio.calls and time.monotonic() < deadline:
        time.sleep(0.05)
    assert LEG not in fake_twilio.calls


def test_the_retention_sweep_deletes_what_a_lost_job_left(
    at_fake: Any, db: Database, fake_twilio: FakeTwilio
) -> None:
    now = datetime(2026, 6, 1, 0, 0, 0)
    fake_twilio.add_call(LEG, "+447700900123", "+442079460001")
    fake_twilio.add_call(CHILD, "+442079460001", MEMBER_PHONE, parent_sid=LEG)
    recent = "CA" + "5" * 32
    fake_twilio.add_call(recent, "+447700900123", "+442079460001")
    with db.session() as s:
        # Legs that ended yesterday, their deletion jobs lost; one ended an
        # hour ago, whose job is still due.
        s.add(
            CallEvent(
                call_sid=LEG, sequence_number=3, status="completed", received_at=now - timedelta(hours=30)
            )
        )
        s.add(
            CallEvent(
                call_sid=CHILD, sequence_number=2, status="no-answer", received_at=now - timedelta(hours=30)
            )
        )
        s.add(
            CallEvent(
                call_sid=recent, sequence_number=1, status="completed", received_at=now - timedelta(hours=1)
            )
        )
    result = apply_retention(now)
    assert set(fake_twilio.calls) == {recent}
    assert result.provider_records_swept == 2
