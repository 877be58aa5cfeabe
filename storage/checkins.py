"""Check-in timers and their alarms, over a Session the caller owns.

Every change of a check-in's state happens under its row lock, and every
webhook of a check-in call names the call's attempt number: a replayed or
late request about an earlier call finds a state that no longer matches and
changes nothing. An alarm is a row unique per check-in, so it is raised once
whatever races (two workers, a late status callback, a replay).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from callflows.checkin import Miss, RetryPolicy
from callflows.status import AlarmKind, AlarmOutcome, CallDirection, CheckinState
from storage.events import FollowUp
from storage.models import Call, Checkin, CheckinAlarm, Member
from storage.rows import for_update, update_rows

OPEN = (CheckinState.OPEN, CheckinState.CALLING)


def open_checkin(session: Session, member_id: int) -> Checkin | None:
    """The member's open check-in, if any."""
    return session.scalars(
        select(Checkin).where(Checkin.member_id == member_id, Checkin.state.in_(OPEN))
    ).first()


def start_checkin(session: Session, member: Member, minutes: int, now: datetime) -> Checkin:
    """A new check-in due ``minutes`` from ``now``, replacing any open one.

    The member row is locked first, so two calls starting check-ins at once
    end with one open (the partial unique index would refuse a second)."""
    session.scalars(select(Member.id).where(Member.id == member.id).with_for_update()).first()
    _close_open(session, member.id, CheckinState.REPLACED, now)
    due = now + timedelta(minutes=minutes)
    checkin = Checkin(
        member_id=member.id,
        state=CheckinState.OPEN,
        set_at=now,
        due_at=due,
        next_attempt_at=due,
        attempts=0,
        pin_failures=0,
    )
    session.add(checkin)
    session.flush()
    return checkin


def end_checkins(session: Session, member_id: int, now: datetime, state: CheckinState) -> int:
    """Close the member's open check-ins as ``state`` (ended, cancelled); how many."""
    return _close_open(session, member_id, state, now)


def _close_open(session: Session, member_id: int, state: CheckinState, now: datetime) -> int:
    closed = update_rows(
        session, Checkin, Checkin.member_id == member_id, Checkin.state.in_(OPEN), state=state, closed_at=now
    )
    session.flush()
    return closed


def open_checkins(session: Session) -> Sequence[Checkin]:
    """Every open check-in, soonest due first."""
    return session.scalars(select(Checkin).where(Checkin.state.in_(OPEN)).order_by(Checkin.due_at)).all()


# --- the due-check ----------------------------------------------------------------


def due_checkin_ids(session: Session, now: datetime, limit: int = 100) -> list[int]:
    """Open check-ins whose next step has come (due, a retry, or a call's window ended)."""
    return list(
        session.scalars(
            select(Checkin.id)
            .where(Checkin.state.in_(OPEN), Checkin.next_attempt_at <= now)
            .order_by(Checkin.next_attempt_at)
            .limit(limit)
        )
    )


def claim_due(session: Session, checkin_id: int, now: datetime) -> Checkin | None:
    """The check-in, locked, if it is still due; None when another worker holds
    it or has already acted (``SKIP LOCKED``: two workers never both act)."""
    due = select(Checkin).where(
        Checkin.id == checkin_id, Checkin.state.in_(OPEN), Checkin.next_attempt_at <= now
    )
    return session.scalars(for_update(due, skip_locked=True)).first()


def start_call(checkin: Checkin, now: datetime, policy: RetryPolicy) -> int:
    """Mark a call as being placed; the attempt number its webhooks will carry.

    Committed before the call is placed: a worker killed in between leaves a
    call with no CallSid, which the due-check places again once the window
    has passed (:func:`call_never_placed`)."""
    checkin.state = CheckinState.CALLING
    checkin.attempts += 1
    checkin.call_sid = None
    checkin.pin_failures = 0
    checkin.next_attempt_at = now + policy.call_window
    return checkin.attempts


def call_never_placed(checkin: Checkin) -> bool:
    """A call marked as being placed that never got a CallSid (its worker died)."""
    return checkin.state == CheckinState.CALLING and checkin.call_sid is None


def forget_unplaced_call(checkin: Checkin) -> None:
    """Give back the attempt of a call that was never placed."""
    checkin.state = CheckinState.OPEN
    checkin.attempts = max(checkin.attempts - 1, 0)


def keep_call_sid(session: Session, checkin_id: int, attempt: int, call_sid: str) -> bool:
    """Attach the CallSid of attempt ``attempt``; False when it is no longer that call."""
    kept = update_rows(
        session,
        Checkin,
        Checkin.id == checkin_id,
        Checkin.attempts == attempt,
        Checkin.state == CheckinState.CALLING,
        (Checkin.call_sid.is_(None)) | (Checkin.call_sid == call_sid),
        call_sid=call_sid,
    )
    return kept == 1


# --- the check-in call's webhooks ----------------------------------------------------


def calling_checkin(session: Session, checkin_id: int, attempt: int, call_sid: str) -> Checkin | None:
    """The check-in whose call ``call_sid`` (attempt ``attempt``) is ringing, locked.

    None for anything else: an earlier call, a closed check-in, another
    CallSid. A call whose CallSid the worker had not yet kept adopts this one."""
    if not call_sid:
        return None
    calling = select(Checkin).where(
        Checkin.id == checkin_id, Checkin.attempts == attempt, Checkin.state == CheckinState.CALLING
    )
    checkin = session.scalars(for_update(calling)).first()
    if checkin is None or checkin.call_sid not in (None, call_sid):
        return None
    checkin.call_sid = call_sid
    return checkin


def check_in(checkin: Checkin, now: datetime) -> None:
    checkin.state = CheckinState.CHECKED_IN
    checkin.closed_at = now


def record_miss(
    session: Session, checkin: Checkin, miss: Miss, now: datetime, policy: RetryPolicy
) -> CheckinAlarm | None:
    """One call missed: call again later, or raise the alarm (returned)."""
    checkin.last_miss = miss
    retry_at = policy.after_miss(checkin.attempts, now)
    if retry_at is not None:
        checkin.state = CheckinState.OPEN
        checkin.next_attempt_at = retry_at
        session.flush()
        return None
    return raise_alarm(session, checkin, AlarmKind.MISSED, now)


def raise_alarm(session: Session, checkin: Checkin, kind: AlarmKind, now: datetime) -> CheckinAlarm | None:
    """Close the check-in as escalated and raise its one alarm; None if it already has one."""
    checkin.state = CheckinState.ESCALATED
    checkin.closed_at = now
    if session.scalars(select(CheckinAlarm.id).where(CheckinAlarm.checkin_id == checkin.id)).first():
        session.flush()
        return None
    member = session.get(Member, checkin.member_id)
    alarm = CheckinAlarm(
        checkin_id=checkin.id,
        member_id=checkin.member_id,
        kind=kind,
        raised_at=now,
        last_call_id=_last_caller_call_id(session, checkin.member_id),
        buddy_call="pending" if member is not None and member.buddy_encrypted else "none",
    )
    session.add(alarm)
    session.flush()
    return alarm


def _last_caller_call_id(session: Session, member_id: int) -> int | None:
    """The member's newest inbound call (the client they are likely with)."""
    return session.scalars(
        select(Call.id)
        .where(Call.member_id == member_id, Call.direction == CallDirection.INBOUND)
        .order_by(Call.created_at.desc(), Call.id.desc())
        .limit(1)
    ).first()


# --- alarms ------------------------------------------------------------------------


def alarm_for_update(session: Session, alarm_id: int) -> CheckinAlarm | None:
    return session.scalars(for_update(select(CheckinAlarm).where(CheckinAlarm.id == alarm_id))).first()


def alarm_follow_ups(alarm: CheckinAlarm) -> list[FollowUp]:
    """The jobs a raised alarm leaves, written in the transaction that raised
    it: the staff email and the buddy's call, each an event of its own, so a
    mail server that is down is retried without holding up (or repeating)
    the buddy's call, and a lost doorbell is rung again by the events sweep."""
    follow_ups = [FollowUp("checkin_alarm_mail", (alarm.id,), f"checkin-alarm:{alarm.id}:mail")]
    if alarm.buddy_call == "pending":
        follow_ups.append(FollowUp("checkin_buddy_call", (alarm.id,), f"checkin-alarm:{alarm.id}:buddy"))
    return follow_ups


def open_alarms(session: Session) -> Sequence[CheckinAlarm]:
    """Alarms staff have not closed, newest first."""
    return session.scalars(
        select(CheckinAlarm).where(CheckinAlarm.closed_at.is_(None)).order_by(CheckinAlarm.raised_at.desc())
    ).all()


def close_alarm(alarm: CheckinAlarm, outcome: AlarmOutcome, staff_id: int, now: datetime) -> None:
    alarm.outcome = outcome
    alarm.closed_at = now
    alarm.closed_by_staff_id = staff_id
