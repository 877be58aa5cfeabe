"""Queries and writes of the member menu, over a Session the caller owns.

The menu keeps its state server-side, keyed by the member's CallSid: a
``calls`` row of direction "menu" exists only once that call has passed the
access line (``ivr.access``: Safety Number, PIN and registered phone), so a
forged or replayed request with another CallSid finds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callflows.lockout import Attempts
from callflows.status import CallDirection, LineStatus, MemberStatus, RecordingState
from storage.events import FollowUp
from storage.models import Call, Member, Report, SafetyNumber
from storage.rows import for_update, update_rows
from storage.vault import ProtectedNumber

# Directions a call has once it passed the PIN.
AUTHENTICATED = (CallDirection.MENU, CallDirection.MASKED)

# --- the PIN -----------------------------------------------------------------


def member_for_update(session: Session, member_id: int) -> Member | None:
    """The member row, locked so two calls cannot both count one failure."""
    # Re-read under the lock (for_update): the row may already be loaded, with a stale count.
    return session.scalars(for_update(select(Member).where(Member.id == member_id))).first()


def pin_attempts(member: Member) -> Attempts:
    """The member's wrong-PIN counter and menu lock, for the lockout policy."""
    return Attempts(member.pin_failures or 0, member.menu_locked_until)


def keep_pin_attempts(member: Member, attempts: Attempts) -> None:
    member.pin_failures = attempts.failures
    member.menu_locked_until = attempts.locked_until


# --- the authenticated menu call -----------------------------------------------


def open_menu_call(session: Session, call_sid: str, member_id: int, line_id: int) -> Call:
    """Mark ``call_sid`` as having passed the PIN.

    A row already logged for this CallSid (say by the call log) is adopted:
    it is the member's own call, so it carries no other party.
    """
    call = session.scalars(select(Call).where(Call.call_sid == call_sid)).first()
    if call is None:
        call = Call(call_sid=call_sid)
        session.add(call)
    call.direction, call.member_id, call.safety_number_id = CallDirection.MENU, member_id, line_id
    forget_other_party(call)
    session.flush()
    return call


@dataclass(frozen=True)
class MenuCall:
    """A call that passed the PIN, with its still-active member and line."""

    call: Call
    member: Member
    line: SafetyNumber


def menu_call(session: Session, call_sid: str) -> MenuCall | None:
    """The authenticated menu call of ``call_sid``, or None.

    None too when the member has since been cancelled or lost the line.
    """
    if not call_sid:
        return None
    row = session.execute(
        select(Call, Member, SafetyNumber)
        .join(Member, Member.id == Call.member_id)
        .join(SafetyNumber, SafetyNumber.id == Call.safety_number_id)
        .where(
            Call.call_sid == call_sid,
            Call.direction.in_(AUTHENTICATED),
            Member.status == MemberStatus.ACTIVE,
            SafetyNumber.member_id == Member.id,
            SafetyNumber.status == LineStatus.ASSIGNED,
        )
    ).first()
    if row is None:
        return None
    call, member, line = row
    return MenuCall(call, member, line)


# --- the last caller ---------------------------------------------------------


def last_inbound_call(session: Session, member_id: int, *, with_number: bool) -> Call | None:
    """The member's newest inbound call that reached them (not rejected as blocked).

    ``with_number`` skips withheld callers: they cannot be blocked.
    """
    query = select(Call).where(
        Call.member_id == member_id,
        Call.direction == CallDirection.INBOUND,
        Call.blocked.is_(False),
    )
    if with_number:
        query = query.where(Call.withheld.is_(False), Call.other_party_index.is_not(None))
    return session.scalars(query.order_by(Call.created_at.desc(), Call.id.desc()).limit(1)).first()


# --- masked calls --------------------------------------------------------------


def forget_other_party(call: Call) -> None:
    """The member's own call has no other party (until a masked call gives it one)."""
    call.other_party_index = call.other_party_encrypted = call.other_party_last3 = None


def mark_masked(call: Call, destination: ProtectedNumber) -> None:
    """Turn the menu call into the record of a masked call to ``destination``."""
    call.direction = CallDirection.MASKED
    call.other_party_index = destination.index
    call.other_party_encrypted = destination.token
    call.other_party_last3 = destination.last3


# --- incident reports ------------------------------------------------------------


def open_report(session: Session, call_sid: str, member_id: int) -> Report:
    """The report of this reporting call, created once and linked to the last caller."""
    report = session.scalars(select(Report).where(Report.report_call_sid == call_sid)).first()
    if report is not None:
        return report
    last = last_inbound_call(session, member_id, with_number=False)
    report = Report(
        member_id=member_id,
        report_call_sid=call_sid,
        call_id=last.id if last else None,
        caller_index=last.other_party_index if last else None,
    )
    session.add(report)
    session.flush()
    return report


def report_of_call(session: Session, report_id: int, call_sid: str) -> Report | None:
    """The report ``report_id`` if it belongs to the call ``call_sid``."""
    if not call_sid:
        return None
    return session.scalars(
        select(Report).where(Report.id == report_id, Report.report_call_sid == call_sid)
    ).first()


def claim_recording(session: Session, report_id: int, recording_sid: str) -> bool:
    """Attach ``recording_sid`` to the report unless it already has a recording.

    One conditional UPDATE, so two deliveries of the same callback racing
    each other cannot both win. True only for the delivery that attached it.
    """
    attached = _update_unrecorded(
        session, report_id, recording_sid=recording_sid, recording_state=RecordingState.AWAITED
    )
    return attached == 1


def mark_recording_lost(session: Session, report_id: int, twilio_status: str) -> bool:
    """No recording came: nothing was recorded (``absent``) or Twilio failed.
    Make that visible on the report.

    False when the report already has a recording (a late callback never
    undoes one)."""
    if twilio_status == RecordingState.ABSENT:
        state, error = RecordingState.ABSENT, "nothing was recorded"
    else:
        state, error = RecordingState.FAILED, f"Twilio reported {twilio_status}"
    return bool(_update_unrecorded(session, report_id, recording_state=state, recording_error=error))


def _update_unrecorded(session: Session, report_id: int, **values: object) -> int:
    """Set ``values`` on the report only while no recording is attached to it
    (one conditional UPDATE: racing callbacks cannot both win); 1 or 0."""
    return update_rows(session, Report, Report.id == report_id, Report.recording_sid.is_(None), **values)


# --- recording-status callbacks ----------------------------------------------------


RECORDING_COMPLETED = "completed"
RECORDING_LOST = frozenset({"failed", "absent"})


def accept_recording_status(
    session: Session, report_id: int, call_sid: str, recording_sid: str, status: str
) -> FollowUp | None:
    """What a recording-status callback changes on its report (which must be
    this call's), and the job it leaves: the ingestion of a completed
    recording, attached once; or, when nothing was recorded or Twilio
    failed, the hand-off of a report that will have no recording. None for a
    replay, another call's report, or a recording of another report."""
    report = report_of_call(session, report_id, call_sid)
    if report is None:
        return None
    if status in RECORDING_LOST:
        if mark_recording_lost(session, report.id, status):
            return FollowUp("assign_report", (report.id,), f"report:{report.id}:recording-{status}")
        return None
    if status != RECORDING_COMPLETED or not recording_sid:
        return None
    try:
        with session.begin_nested():
            claimed = claim_recording(session, report.id, recording_sid)
    except IntegrityError:
        return None  # the same recording already belongs to another report
    if not claimed:
        return None
    return FollowUp("ingest_recording", (report.id, recording_sid), f"recording:{recording_sid}")
