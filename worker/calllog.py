"""The call log job: status callbacks become call_events and one calls row.

Twilio may post a status callback twice and in any order, and several
workers may run the same job at once. So:

- events are inserted with ``ON CONFLICT DO NOTHING`` on (call_sid,
  sequence_number): a duplicate is a no-op, whoever commits first;
- the row of a child leg (which no webhook writes) is created the same
  way; the call row is then locked (``FOR UPDATE``) and
  recomputed from *all* its events, so the final row depends only on which
  events arrived, never on their order;
- the final status of a masked call's dialled leg settles the minutes its
  parent reserved (``storage.masked_minutes``), first report winning.

The flags the inbound webhook sets (bridged, blocked, declined, warned) are
never written here.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callflows.menu import seconds_spent
from callflows.status import ANSWERED_STATUSES, TERMINAL_STATUSES, CallDirection
from core import services
from core.provider_records import leave_deletion_at_provider
from storage import masked_minutes
from storage.models import Call, CallEvent, utcnow
from storage.rows import for_update
from storage.upsert import conflict_insert
from worker import calllog_rows

# The leg a child call is, by the direction of its parent.
CHILD_DIRECTION = {
    CallDirection.INBOUND: CallDirection.MEMBER_LEG,
    CallDirection.MASKED: CallDirection.MASKED_LEG,
    CallDirection.MENU: CallDirection.MASKED_LEG,
}


def record_call_event(*event: Any) -> None:
    """:func:`apply_call_event_job` in a transaction of its own (the same
    arguments: CallSid, SequenceNumber, status, duration, parent CallSid)."""
    with services.current().db.session() as session:
        apply_call_event_job(session, *event)


def apply_call_event_job(
    session: Session,
    call_sid: str,
    sequence_number: int,
    status: str,
    duration_seconds: int | None = None,
    parent_call_sid: str | None = None,
) -> None:
    """Job "call_event", in the caller's transaction (worker/events.py marks
    the event done in it, so the effect and "done" commit together).

    A leg's final status also schedules the deletion of its record at Twilio
    (worker/provider_records.py) — for every leg, logged here or not: a
    rejected caller's leg carries their number at Twilio too. It is an event
    of the same transaction, keyed by the CallSid, so a repeated final
    callback schedules nothing more.
    """
    svc = services.current()
    apply_call_event(
        session,
        call_sid,
        int(sequence_number),
        status,
        None if duration_seconds is None else int(duration_seconds),
        parent_call_sid or None,
    )
    if status in TERMINAL_STATUSES:
        leave_deletion_at_provider(svc, session, call_sid)


def insert_ignoring_duplicates(
    session: Session, model: type[Any], values: dict[str, Any], keys: list[str]
) -> bool:
    """INSERT … ON CONFLICT (keys) DO NOTHING; True when a row was inserted."""
    stmt = _insert_ignoring(session.get_bind().dialect.name, model.__table__, tuple(values), tuple(keys))
    result: Any = session.execute(stmt, values)
    return bool(result.rowcount)


@functools.cache
def _insert_ignoring(dialect: str, table: Any, columns: tuple[str, ...], keys: tuple[str, ...]) -> Any:
    """The INSERT … ON CONFLICT DO NOTHING statement, built once with bound
    parameters: building it per job (ORM bulk path, cache key over literal
    values) was a third of a call-event job's CPU (BENCHMARKS.md, "Workers")."""
    stmt = conflict_insert(dialect, table, columns)
    return stmt.on_conflict_do_nothing(index_elements=list(keys))


def apply_call_event(
    session: Session,
    call_sid: str,
    sequence_number: int,
    status: str,
    duration_seconds: int | None,
    parent_call_sid: str | None,
    now: datetime | None = None,
) -> bool:
    """Record the event and bring the call row up to date; False for a duplicate."""
    now = now or utcnow()
    inserted = insert_ignoring_duplicates(
        session,
        CallEvent,
        {
            "call_sid": call_sid,
            "sequence_number": sequence_number,
            "status": status[:20],
            "duration_seconds": duration_seconds,
            "received_at": now,
        },
        ["call_sid", "sequence_number"],
    )
    if not inserted:
        return False
    if not parent_call_sid:
        row = calllog_rows.locked_row(session, call_sid)
        if row is None:
            return True
        if not calllog_rows.needs_orm_path(row):
            calllog_rows.recompute(session, row.id, call_sid)
            return True
    call = _locked_call(session, call_sid, parent_call_sid, now)
    if call is None:
        return True
    _adopt_parent(session, call)
    _recompute(session, call)
    _settle_masked_call(session, call)
    session.flush()
    return True


def _settle_masked_call(session: Session, leg: Call) -> None:
    """The leg a masked call rang has ended: its parent, the member's call,
    now counts what the leg lasted instead of the minutes it reserved. The
    Dial's own result usually settled it first; this covers a lost one."""
    if leg.direction != CallDirection.MASKED_LEG or leg.status not in TERMINAL_STATUSES:
        return
    spent = seconds_spent(leg.status, leg.duration_seconds)
    if leg.parent_call_sid and spent is not None:
        masked_minutes.settle(session, leg.parent_call_sid, spent)


def _locked_call(session: Session, call_sid: str, parent_call_sid: str | None, now: datetime) -> Call | None:
    """The call row, locked; created for a leg Twilio made (it has a parent).

    A call with no parent and no row is one the webhooks chose not to log
    (a member's own call that never passed the PIN, a call to a dead line):
    its events are kept, but no call row is invented for it.
    """
    if parent_call_sid:
        insert_ignoring_duplicates(
            session,
            Call,
            {
                "call_sid": call_sid,
                "parent_call_sid": parent_call_sid,
                # Refined by _adopt_parent once the parent row is known.
                "direction": CallDirection.MEMBER_LEG,
                "status": "initiated",
                "last_sequence": -1,
                "withheld": False,
                "bridged": False,
                "blocked": False,
                "declined": False,
                "warned": False,
                "created_at": now,
            },
            ["call_sid"],
        )
    call = session.scalars(for_update(select(Call).where(Call.call_sid == call_sid))).first()
    if call is not None and parent_call_sid and not call.parent_call_sid:
        call.parent_call_sid = parent_call_sid
    return call


def _adopt_parent(session: Session, call: Call) -> None:
    """A child leg takes its member, line and direction from its parent call."""
    if not call.parent_call_sid or call.member_id is not None:
        return
    parent = session.scalars(select(Call).where(Call.call_sid == call.parent_call_sid)).first()
    if parent is None:
        return
    call.member_id = parent.member_id
    call.safety_number_id = parent.safety_number_id
    if call.direction in (CallDirection.MEMBER_LEG, CallDirection.MASKED_LEG):
        call.direction = CHILD_DIRECTION.get(CallDirection(parent.direction), CallDirection.MEMBER_LEG)


def _recompute(session: Session, call: Call) -> None:
    """Status, duration and times as a function of the set of events only."""
    events = list(
        session.scalars(
            select(CallEvent).where(CallEvent.call_sid == call.call_sid).order_by(CallEvent.sequence_number)
        )
    )
    if not events:
        return
    last = events[-1]
    call.status = last.status
    call.last_sequence = last.sequence_number
    durations = [e.duration_seconds for e in events if e.duration_seconds is not None]
    if durations:
        call.duration_seconds = durations[-1]
    answered = [e.received_at for e in events if e.status in ANSWERED_STATUSES]
    ended = [e.received_at for e in events if e.status in TERMINAL_STATUSES]
    call.ended_at = max(ended) if ended else None
    call.started_at = min(answered) if answered else None
    duration = call.duration_seconds or 0
    if (
        call.ended_at is not None
        and duration > 0
        and (call.started_at is None or call.started_at > call.ended_at)
    ):
        # Callbacks can arrive late or out of order; the duration Twilio
        # measured is the better witness of when the call was answered.
        call.started_at = call.ended_at - timedelta(seconds=duration)
