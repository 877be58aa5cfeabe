"""Retention with a controllable clock: each rule, at ages either side of its limit."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from core.services import recording_store
from simulator.fake_twilio import FakeTwilio
from storage import repositories as repo
from storage.db import Database
from storage.models import Block, Call, CallEvent, Member, RecordingState, Report, ReportStatus
from tests.support.call_rows import inbound_call
from tests.support.people import Enrol
from tests.worker_helpers import add_report, job_services
from worker.retention import TWILIO_GRACE_DAYS, apply_retention

NOW = datetime(2026, 6, 1, 12, 0, 0)
CALLER = "+447700900999"


@pytest.fixture
def env(enrol: Enrol, db: Database, tmp_path: Path, fake_twilio: FakeTwilio):
    with job_services(tmp_path, db, TWILIO_API_BASE_URL=fake_twilio.base_url, REDIS_URL=None) as svc:
        seeded = enrol()
        member_id, line_id = seeded.id, seeded.line_id
        yield SimpleNamespace(svc=svc, db=db, member_id=member_id, line_id=line_id, fake=fake_twilio)


def _call(env, sid: str, age_days: float, **fields) -> int:
    protected = env.svc.vault.protect(CALLER)
    with env.db.session() as s:
        call = inbound_call(
            sid,
            env.member_id,
            protected,
            safety_number_id=env.line_id,
            created_at=NOW - timedelta(days=age_days),
            **fields,
        )
        s.add(call)
        s.add(CallEvent(call_sid=sid, sequence_number=0, status="completed", received_at=call.created_at))
        s.flush()
        return call.id


def _calls(env) -> dict[str, Call]:
    with env.db.session() as s:
        return {c.call_sid: c for c in s.scalars(select(Call))}


def _event_sids(env) -> set[str]:
    with env.db.session() as s:
        return set(s.scalars(select(CallEvent.call_sid)))


def test_call_log_older_than_the_limit_is_deleted_here_and_at_twilio(env) -> None:
    _call(env, "CAold", 91)
    _call(env, "CAkeep", 89)
    old_id = _call(env, "CAreported", 120)
    report_id = add_report(env.db, env.member_id, call_id=old_id)

    result = apply_retention(NOW)

    assert set(_calls(env)) == {"CAkeep"}
    assert _event_sids(env) == {"CAkeep"}
    assert sorted(env.fake.deleted_calls) == ["CAold", "CAreported"]
    assert (result.calls_deleted, result.twilio_records_deleted) == (2, 2)
    with env.db.session() as s:
        report = s.get(Report, report_id)
        assert report is not None and report.call_id is None  # the report stays


def test_a_call_already_gone_at_twilio_is_still_deleted_here(env) -> None:
    _call(env, "CAgone", 100)
    env.fake.deleted_calls.append("CAgone")  # Twilio answers 404
    apply_retention(NOW)
    assert _calls(env) == {}


def test_with_twilio_down_calls_wait_for_the_next_run_within_a_grace_period(env) -> None:
    _call(env, "CArecent", 95)
    _call(env, "CAancient", 90 + TWILIO_GRACE_DAYS + 5)
    env.fake.fail_next(1000)
    result = apply_retention(NOW)
    assert set(_calls(env)) == {"CArecent"}  # kept to try Twilio again; the ancient one goes anyway
    assert result.twilio_failures == 1
    env.fake.fail_next(0)
    apply_retention(NOW)
    assert _calls(env) == {}
    assert "CArecent" in env.fake.deleted_calls


def test_caller_numbers_are_dropped_sooner_keeping_index_and_last_digits(env) -> None:
    _call(env, "CAmonth", 31)
    _call(env, "CAweek", 7)
    apply_retention(NOW)
    calls = _calls(env)
    assert calls["CAmonth"].other_party_encrypted is None
    assert calls["CAmonth"].other_party_index == env.svc.vault.index(CALLER)
    assert calls["CAmonth"].other_party_last3 == "999"
    assert env.svc.vault.reveal(calls["CAweek"].other_party_encrypted) == CALLER


def test_recordings_of_long_closed_reports_are_deleted(env) -> None:
    store = recording_store(env.svc)
    reports = {}
    for name, status, closed_days in [
        ("old_closed", ReportStatus.CLOSED, 400),
        ("new_closed", ReportStatus.CLOSED, 300),
        ("old_open", ReportStatus.IN_REVIEW, None),
    ]:
        key = store.put(f"RE{name.replace('_', '')}", b"audio")
        closed_at = NOW - timedelta(days=closed_days) if closed_days else None
        reports[name] = add_report(
            env.db,
            env.member_id,
            f"RE{name}",
            status=status,
            closed_at=closed_at,
            recording_state=RecordingState.STORED,
            recording_path=key,
            created_at=NOW - timedelta(days=500),
        )
    result = apply_retention(NOW)
    assert result.recordings_deleted == 1
    with env.db.session() as s:
        old = s.get(Report, reports["old_closed"])
        assert (
            old is not None and old.recording_state == RecordingState.DELETED and old.recording_path is None
        )
        for name in ("new_closed", "old_open"):
            kept = s.get(Report, reports[name])
            assert kept is not None and kept.recording_state == RecordingState.STORED
            assert store.exists(kept.recording_path)
    assert not store.exists("REoldclosed")


def test_cancelled_members_personal_data_is_erased(env) -> None:
    _call(env, "CAtheirs", 1)
    with env.db.session() as s:
        member = s.get(Member, env.member_id)
        repo.block_caller(s, env.member_id, env.svc.vault.index(CALLER), "999")
        # A cancellation that left data behind (e.g. an older version's).
        member.status = "cancelled"
    result = apply_retention(NOW)
    assert result.members_erased == 1
    with env.db.session() as s:
        member = s.get(Member, env.member_id)
        assert member is not None
        assert (member.working_name, member.phone_encrypted, member.phone_index, member.pin_hash) == (
            None,
        ) * 4
        assert s.scalars(select(Block)).all() == []
        call = s.scalars(select(Call).where(Call.call_sid == "CAtheirs")).one()
        assert call.other_party_encrypted is None and call.member_id == env.member_id  # counts stay


def test_running_twice_is_harmless(env) -> None:
    _call(env, "CAold", 200)
    apply_retention(NOW)
    second = apply_retention(NOW)
    assert (second.calls_deleted, second.numbers_dropped, second.recordings_deleted) == (0, 0, 0)
    assert env.fake.deleted_calls == ["CAold"]
