"""The call_event job: idempotent, order-independent call log."""

from __future__ import annotations

import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from storage.db import Database
from storage.models import Call, CallDirection, CallEvent, utcnow
from storage.vault import NumberVault
from tests.support import people
from tests.support.databases import committing_database
from tests.worker_helpers import as_worker, job_services
from worker.calllog import record_call_event

# A bridged inbound call's member leg, as Twilio reports it.
LEG_EVENTS = [
    (0, "initiated", None),
    (1, "ringing", None),
    (2, "in-progress", None),
    (3, "completed", 37),
]


def _sid(prefix: str = "CA") -> str:
    return prefix + uuid.uuid4().hex


def _call_row(db: Database, direction: CallDirection, member_id: int, line_id: int, **columns: Any) -> str:
    """A call row as the webhook writes it; its sid."""
    sid = _sid()
    with db.session() as s:
        s.add(
            Call(call_sid=sid, direction=direction, member_id=member_id, safety_number_id=line_id, **columns)
        )
    return sid


def _inbound(db: Database, member_id: int, line_id: int, **flags: bool) -> str:
    return _call_row(db, CallDirection.INBOUND, member_id, line_id, other_party_last3="123", **flags)


def _logged(db: Database) -> str:
    """A call the inbound webhook logged (a bare inbound row)."""
    sid = _sid()
    with db.session() as s:
        s.add(Call(call_sid=sid, direction=CallDirection.INBOUND))
    return sid


def _call(db: Database, sid: str) -> Call:
    with db.session() as s:
        return s.scalars(select(Call).where(Call.call_sid == sid)).one()


def test_events_build_the_call_row(vault: NumberVault, any_db: Database, tmp_path: Path) -> None:
    db = any_db  # PostgreSQL and SQLite (the embedded default)
    with job_services(tmp_path, db):
        seeded = people.enrol(db, vault)
        member_id, line_id = seeded.id, seeded.line_id
        parent = _inbound(db, member_id, line_id, bridged=True, warned=True)
        leg = _sid()
        for seq, status, duration in LEG_EVENTS:
            record_call_event(leg, seq, status, duration, parent)
        record_call_event(parent, 0, "in-progress", None, None)
        record_call_event(parent, 1, "completed", 45, None)

    child = _call(db, leg)
    assert child.direction == CallDirection.MEMBER_LEG
    assert (child.member_id, child.safety_number_id) == (member_id, line_id)
    assert child.parent_call_sid == parent
    assert (child.status, child.last_sequence, child.duration_seconds) == ("completed", 3, 37)
    assert child.started_at is not None and child.ended_at is not None
    assert child.started_at <= child.ended_at
    inbound = _call(db, parent)
    assert (inbound.status, inbound.duration_seconds) == ("completed", 45)
    # Flags the webhook set stay set.
    assert inbound.bridged and inbound.warned
    assert not inbound.blocked and not inbound.declined


def test_duplicate_callbacks_are_ignored(any_db: Database, tmp_path: Path) -> None:
    db = any_db  # PostgreSQL and SQLite (the embedded default)
    sid = _logged(db)
    with job_services(tmp_path, db):
        for _ in range(3):
            record_call_event(sid, 1, "ringing", None, None)
        record_call_event(sid, 2, "completed", 5, None)
        record_call_event(sid, 1, "ringing", None, None)  # a late duplicate changes nothing
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(CallEvent).where(CallEvent.call_sid == sid)) == 2
    assert _call(db, sid).status == "completed"


def test_failed_and_unanswered_calls_have_an_end_but_no_start(db: Database, tmp_path: Path) -> None:
    with job_services(tmp_path, db):
        for status in ("busy", "no-answer", "failed", "canceled"):
            sid = _logged(db)
            record_call_event(sid, 0, "ringing", None, None)
            record_call_event(sid, 1, status, 0, None)
            call = _call(db, sid)
            assert call.status == status and call.ended_at is not None and call.started_at is None


def test_a_call_no_webhook_logged_keeps_its_events_but_gets_no_row(db: Database, tmp_path: Path) -> None:
    """E.g. a member's own call that never passed the PIN, or a call to a dead line."""
    sid = _sid()
    with job_services(tmp_path, db):
        record_call_event(sid, 0, "completed", 4, None)
    with db.session() as s:
        assert s.scalars(select(Call).where(Call.call_sid == sid)).first() is None
        assert s.scalars(select(CallEvent.status).where(CallEvent.call_sid == sid)).all() == ["completed"]


def test_masked_call_legs_are_masked_legs(vault: NumberVault, db: Database, tmp_path: Path) -> None:
    with job_services(tmp_path, db):
        seeded = people.enrol(db, vault)
        member_id, line_id = seeded.id, seeded.line_id
        parent = _call_row(db, CallDirection.MASKED, member_id, line_id)
        leg = _sid()
        record_call_event(leg, 0, "initiated", None, parent)
    assert _call(db, leg).direction == CallDirection.MASKED_LEG
    assert _call(db, leg).member_id == member_id


@pytest.mark.parametrize(
    ("events", "settled"),
    [
        ([(0, "initiated", None), (2, "in-progress", None), (3, "completed", 42)], 42),
        ([(3, "completed", 42), (0, "initiated", None)], 42),  # out of order
        ([(0, "initiated", None), (1, "no-answer", None)], 0),  # never connected: nothing spent
        ([(0, "initiated", None), (2, "in-progress", None)], None),  # not ended: still held
    ],
)
def test_a_masked_legs_final_status_settles_its_parents_reservation(
    vault: NumberVault, db: Database, tmp_path: Path, events: list[Any], settled: int | None
) -> None:
    """The Dial's own result may be lost: the dialled leg's final callback
    settles the minutes its parent reserved, from what the leg lasted."""
    with job_services(tmp_path, db):
        seeded = people.enrol(db, vault)
        parent = _call_row(
            db, CallDirection.MASKED, seeded.id, seeded.line_id, reserved_seconds=3600, reserved_at=utcnow()
        )
        leg = _sid()
        for sequence, status, duration in events:
            record_call_event(leg, sequence, status, duration, parent)
        assert _call(db, parent).settled_seconds == settled
        # A later final report settles what is still open, and changes nothing settled.
        record_call_event(leg, 9, "completed", 3000, parent)
    assert _call(db, parent).settled_seconds == (3000 if settled is None else settled)
    assert _call(db, parent).reserved_seconds == 3600


def test_a_leg_seen_before_its_parent_adopts_it_later(
    vault: NumberVault, db: Database, tmp_path: Path
) -> None:
    with job_services(tmp_path, db):
        seeded = people.enrol(db, vault)
        member_id, line_id = seeded.id, seeded.line_id
        parent, leg = _sid(), _sid()
        record_call_event(leg, 0, "initiated", None, parent)
        assert _call(db, leg).member_id is None
        with db.session() as s:
            s.add(
                Call(
                    call_sid=parent,
                    direction=CallDirection.MASKED,
                    member_id=member_id,
                    safety_number_id=line_id,
                )
            )
        record_call_event(leg, 1, "ringing", None, parent)
    call = _call(db, leg)
    assert (call.member_id, call.direction) == (member_id, CallDirection.MASKED_LEG)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_any_order_gives_the_same_final_row(
    vault: NumberVault, any_db: Database, tmp_path: Path, seed: int
) -> None:
    db = any_db  # PostgreSQL and SQLite (the embedded default)
    events = LEG_EVENTS * 2  # each one twice, as Twilio retries do
    random.Random(seed).shuffle(events)
    with job_services(tmp_path, db):
        seeded = people.enrol(db, vault)
        member_id, line_id = seeded.id, seeded.line_id
        parent = _inbound(db, member_id, line_id)
        leg = _sid()
        for seq, status, duration in events:
            record_call_event(leg, seq, status, duration, parent)
    call = _call(db, leg)
    assert (call.status, call.last_sequence, call.duration_seconds, call.direction, call.member_id) == (
        "completed",
        3,
        37,
        CallDirection.MEMBER_LEG,
        member_id,
    )
    assert call.ended_at is not None and call.started_at is not None and call.started_at <= call.ended_at
    with db.session() as s:
        statuses = s.scalars(
            select(CallEvent.status).where(CallEvent.call_sid == leg).order_by(CallEvent.sequence_number)
        ).all()
    assert statuses == [status for _, status, _ in LEG_EVENTS]


# A caller's own leg (no parent): its row is recomputed in SQL
# (worker/calllog_rows.py). Some without "in-progress", and some where it
# arrives after "completed": the duration then dates the answer.
CALLER_LEG_CASES = [
    [(0, "ringing", None), (1, "in-progress", None), (2, "completed", 37)],
    [(0, "ringing", None), (2, "completed", 37)],
    [(0, "ringing", None), (1, "no-answer", 0)],
    [(0, "ringing", None), (1, "in-progress", None), (3, "completed", 12), (2, "in-progress", None)],
    [(3, "completed", 12), (2, "in-progress", None), (1, "ringing", None), (0, "initiated", None)],
]


@pytest.mark.parametrize("case", range(len(CALLER_LEG_CASES)))
def test_a_callers_leg_recomputed_in_sql_follows_the_python_rule(
    vault: NumberVault, any_db: Database, tmp_path: Path, case: int
) -> None:
    """The SQL recomputation of a leg without parent gives the row that
    worker.calllog._recompute computes from the same events, on PostgreSQL
    and SQLite: status, sequence, duration, start and end."""
    from worker.calllog import _recompute

    db = any_db
    events = CALLER_LEG_CASES[case] * 2  # each one twice, as Twilio retries do
    with job_services(tmp_path, db):
        seeded = people.enrol(db, vault)
        sid = _inbound(db, seeded.id, seeded.line_id)
        for seq, status, duration in events:
            record_call_event(sid, seq, status, duration, None)

    def row(call: Call) -> tuple[Any, ...]:
        return (call.status, call.last_sequence, call.duration_seconds, call.started_at, call.ended_at)

    with db.sessions() as s:
        call = s.scalars(select(Call).where(Call.call_sid == sid)).one()
        stored = row(call)
        with s.no_autoflush:
            _recompute(s, call)
            expected = row(call)
        s.rollback()
    assert stored == expected
    assert stored[0] == max(CALLER_LEG_CASES[case])[1]
    assert stored[4] is not None


@pytest.mark.usefixtures("pg_engine")  # migrated
def test_the_same_callback_posted_100_times_concurrently_leaves_one_event(
    pg_url: str, tmp_path: Path
) -> None:
    """Real commits from 20 threads (each job its own session), so no rolled-back fixture here."""
    db = committing_database(pg_url, pool_size=20)
    sid, other = _logged(db), _logged(db)
    try:
        with job_services(tmp_path, db) as services, ThreadPoolExecutor(max_workers=20) as pool:
            record = as_worker(services, record_call_event)
            jobs = [pool.submit(record, sid, 3, "completed", 12, None) for _ in range(100)]
            # Different events of one call racing each other, too.
            jobs += [pool.submit(record, other, seq, st, d, None) for seq, st, d in LEG_EVENTS * 10]
            for job in jobs:
                job.result()
        with db.session() as s:
            count = s.scalar(select(func.count()).select_from(CallEvent).where(CallEvent.call_sid == sid))
            calls = s.scalars(select(Call).where(Call.call_sid.in_([sid, other]))).all()
            other_events = s.scalar(
                select(func.count()).select_from(CallEvent).where(CallEvent.call_sid == other)
            )
        assert count == 1
        assert other_events == len(LEG_EVENTS)
        by_sid = {c.call_sid: c for c in calls}
        assert (by_sid[sid].status, by_sid[sid].duration_seconds) == ("completed", 12)
        assert (by_sid[other].status, by_sid[other].last_sequence, by_sid[other].duration_seconds) == (
            "completed",
            3,
            37,
        )
    finally:
        with db.session() as s:
            s.execute(delete(CallEvent).where(CallEvent.call_sid.in_([sid, other])))
            s.execute(delete(Call).where(Call.call_sid.in_([sid, other])))
        db.engine.dispose()
