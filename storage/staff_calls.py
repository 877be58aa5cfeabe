"""Masked calls from the console, as rows: who may place one, and each step
the call takes (``callflows.staff_call`` decides; this keeps the record).

A call is requested under a row lock on the caseworker's ``staff`` row, so
the per-caseworker limit holds under parallel clicks: the count of their
calls in the last hour and the new row are read and written by one request
at a time (docs/architecture.md: counters that guard access or money change atomically).

Afterwards the call only moves forward, each step one conditional UPDATE
from the state before it and, once Twilio has named the caseworker's leg,
only for that CallSid: a replayed webhook or a repeated callback finds no
row to move, so it can neither ring the member twice nor rewrite an outcome.
Nothing here commits; the request or the job owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.orm import Session

from callflows.staff_call import LIVE_WORDS, OUTCOME_WORDS, CallFacts, CallRefusal, refusal
from callflows.status import (
    CallReason,
    LineKind,
    LineStatus,
    MemberStatus,
    StaffCallOutcome,
    StaffCallState,
)
from storage import callback_requests
from storage.models import Member, SafetyNumber, Staff, StaffCall
from storage.rows import for_update, rowcount

RATE_WINDOW = timedelta(hours=1)
PLACE_WITHIN = timedelta(minutes=2)
# A call not yet placed or answered: what the console shows as "in progress".
LIVE_STATES = tuple(s for s in StaffCallState if s is not StaffCallState.ENDED)


@dataclass(frozen=True, slots=True)
class CallRequest:
    """What the console asks for: who calls whom, why, and whether the
    viewer may (decided by the view: the report's caseworker, an admin …)."""

    staff_id: int
    member_id: int | None
    reason: CallReason
    allowed: bool
    report_id: int | None = None
    checkin_id: int | None = None


def access_line(session: Session) -> str | None:
    """The members' access line calls from the scheme show: the oldest one
    in use, so members see the same number every time."""
    return session.scalars(
        select(SafetyNumber.e164)
        .where(SafetyNumber.kind == LineKind.ACCESS, SafetyNumber.status != LineStatus.QUARANTINED)
        .order_by(SafetyNumber.id)
        .limit(1)
    ).first()


def request_call(
    session: Session, request: CallRequest, now: datetime, per_hour: int
) -> StaffCall | CallRefusal:
    """Write a queued call, or say why not. The caseworker's row is locked
    first, so parallel requests count each other's calls."""
    staff = session.scalars(for_update(select(Staff).where(Staff.id == request.staff_id))).one()
    member = session.get(Member, request.member_id) if request.member_id is not None else None
    recent = session.scalar(
        select(func.count())
        .select_from(StaffCall)
        .where(StaffCall.staff_id == staff.id, StaffCall.created_at > now - RATE_WINDOW)
    )
    facts = CallFacts(
        allowed=request.allowed,
        member_found=member is not None,
        member_active=member is not None and member.status == MemberStatus.ACTIVE,
        member_accepts=member is not None and member.scheme_calls,
        staff_has_phone=staff.phone_encrypted is not None,
        has_access_line=access_line(session) is not None,
        calls_this_hour=recent or 0,
    )
    refused = refusal(facts, per_hour)
    if refused is not None:
        return refused
    assert member is not None  # refusal() saw to it
    call = StaffCall(
        staff_id=staff.id,
        member_id=member.id,
        reason=request.reason,
        report_id=request.report_id,
        checkin_id=request.checkin_id,
        state=StaffCallState.QUEUED,
        created_at=now,
    )
    session.add(call)
    session.flush()
    return call


# --- the steps of a call ---------------------------------------------------------


def _move(
    session: Session,
    call_id: int,
    before: Sequence[StaffCallState],
    *where: ColumnElement[bool],
    **values: object,
) -> StaffCall | None:
    """Move one call on from one of the ``before`` states; the call, or None
    when it was not there (already moved on, or never existed)."""
    moved = session.execute(
        update(StaffCall)
        .where(StaffCall.id == call_id, StaffCall.state.in_([s.value for s in before]), *where)
        .values(**values)
        .returning(StaffCall.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    if moved is None:
        return None
    call = session.get(StaffCall, call_id, populate_existing=True)
    return call


def claim_for_placing(session: Session, call_id: int, now: datetime) -> StaffCall | None:
    """The job takes a queued call once; a second run finds nothing. A call
    queued more than ``PLACE_WITHIN`` ago (the queue was down, the job was
    replayed from the outbox) is ended instead: the caseworker has moved on,
    and a phone ringing out of nowhere is worse than a failure on the page."""
    fresh = _move(
        session,
        call_id,
        [StaffCallState.QUEUED],
        StaffCall.created_at >= now - PLACE_WITHIN,
        state=StaffCallState.PLACING,
    )
    if fresh is None:
        end(session, call_id, StaffCallOutcome.TOO_LATE, now, only_if=StaffCallState.QUEUED)
    return fresh


def placed(session: Session, call_id: int, call_sid: str) -> None:
    """Twilio accepted the call: keep the caseworker leg's CallSid (unless
    the answer webhook, quicker than this, already did)."""
    _move(
        session,
        call_id,
        [StaffCallState.PLACING],
        StaffCall.call_sid.is_(None),
        call_sid=call_sid,
        state=StaffCallState.RINGING,
    )


def _same_leg(call_sid: str) -> ColumnElement[bool]:
    return or_(StaffCall.call_sid.is_(None), StaffCall.call_sid == call_sid)


def answered(session: Session, call_id: int, call_sid: str) -> StaffCall | None:
    """The caseworker picked up: their leg is now this CallSid, once."""
    return _move(
        session,
        call_id,
        [StaffCallState.PLACING, StaffCallState.RINGING],
        _same_leg(call_sid),
        call_sid=call_sid,
        state=StaffCallState.ANSWERED,
    )


def confirmed(session: Session, call_id: int, call_sid: str) -> StaffCall | None:
    """The caseworker pressed 1: the member is dialled, once."""
    return _move(
        session,
        call_id,
        [StaffCallState.ANSWERED],
        StaffCall.call_sid == call_sid,
        state=StaffCallState.DIALLING,
    )


def dialling(session: Session, call_id: int, parent_sid: str) -> StaffCall | None:
    """The call whose member leg this is (by the caseworker's CallSid), while the member is rung."""
    return session.scalars(
        select(StaffCall).where(
            StaffCall.id == call_id,
            StaffCall.state == StaffCallState.DIALLING,
            StaffCall.call_sid == parent_sid,
        )
    ).first()


def connected(session: Session, call_id: int, parent_sid: str, member_call_sid: str, now: datetime) -> bool:
    """The member pressed 1: connected; their open call-back request is done."""
    call = _move(
        session,
        call_id,
        [StaffCallState.DIALLING],
        StaffCall.call_sid == parent_sid,
        state=StaffCallState.CONNECTED,
        member_call_sid=member_call_sid or None,
        connected_at=now,
    )
    if call is None:
        return False
    callback_requests.close_by_call(session, call.member_id, call.id, call.staff_id, now)
    return True


def end(
    session: Session,
    call_id: int,
    outcome: StaffCallOutcome,
    now: datetime,
    *,
    call_sid: str | None = None,
    talk_seconds: int | None = None,
    only_if: StaffCallState | None = None,
    member_call_sid: str | None = None,
) -> StaffCall | None:
    """Record how the call ended, once: a later or repeated report of it
    changes nothing. ``call_sid``: only if that is the caseworker's leg;
    ``only_if``: only from that state."""
    where = [_same_leg(call_sid)] if call_sid is not None else []
    before = [only_if] if only_if is not None else LIVE_STATES
    return _move(
        session,
        call_id,
        before,
        *where,
        state=StaffCallState.ENDED,
        outcome=outcome.value,
        ended_at=now,
        talk_seconds=talk_seconds,
        # The member's leg, when Twilio named it (the Dial's DialCallSid):
        # its record is deleted at Twilio too (retention's backstop).
        member_call_sid=func.coalesce(StaffCall.member_call_sid, member_call_sid or None),
    )


def call_of_leg(session: Session, call_id: int, call_sid: str) -> StaffCall | None:
    """The call, if ``call_sid`` is its caseworker leg (or no leg is known yet)."""
    return session.scalars(select(StaffCall).where(StaffCall.id == call_id, _same_leg(call_sid))).first()


# --- what the console shows -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallLine:
    """One masked call as the console lists it: ids, times and words only."""

    id: int
    created_at: datetime
    staff_email: str
    reason: str
    report_id: int | None
    state: str
    outcome: str | None
    ended_at: datetime | None
    talk_seconds: int | None

    @property
    def words(self) -> str:
        """The outcome as the console says it, or how far a live call got."""
        if self.outcome is not None:
            return OUTCOME_WORDS.get(StaffCallOutcome(self.outcome), self.outcome)
        return LIVE_WORDS.get(StaffCallState(self.state), self.state)


def calls_about(
    session: Session,
    *,
    member_id: int | None = None,
    report_id: int | None = None,
    checkin_id: int | None = None,
    limit: int = 20,
) -> list[CallLine]:
    """The newest masked calls to a member, or about a report or a check-in."""
    query = select(StaffCall, Staff.email).join(Staff, Staff.id == StaffCall.staff_id)
    if member_id is not None:
        query = query.where(StaffCall.member_id == member_id)
    if report_id is not None:
        query = query.where(StaffCall.report_id == report_id)
    if checkin_id is not None:
        query = query.where(StaffCall.checkin_id == checkin_id)
    rows = session.execute(query.order_by(StaffCall.id.desc()).limit(limit)).all()
    return [
        CallLine(
            c.id, c.created_at, email, c.reason, c.report_id, c.state, c.outcome, c.ended_at, c.talk_seconds
        )
        for c, email in rows
    ]


# --- retention ----------------------------------------------------------------------


def legs_ended_between(session: Session, start: datetime, end: datetime) -> list[str]:
    """The CallSids of both legs of the calls that ended in [start, end)."""
    rows = session.execute(
        select(StaffCall.call_sid, StaffCall.member_call_sid).where(
            StaffCall.ended_at >= start, StaffCall.ended_at < end
        )
    ).all()
    return [sid for row in rows for sid in row if sid]


def delete_older_than(session: Session, cutoff: datetime) -> int:
    """Delete calls made before ``cutoff`` (ids and times only, kept as long
    as the call log) and call-back requests closed before it; how many calls."""
    old = select(StaffCall.id).where(StaffCall.created_at < cutoff)
    callback_requests.forget_old(session, cutoff, old)
    return rowcount(session.execute(delete(StaffCall).where(StaffCall.created_at < cutoff)))
