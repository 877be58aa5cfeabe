"""What cancelling a member erases, at once (issue 12, item 6).

docs/architecture.md, Rules the code keeps: cancelling erases the member's personal data — name, phone, PIN,
blocks, recordings of their voice, their callers' numbers — and keeps only
anonymous counts. Before, the recordings stayed playable and the callers'
encrypted numbers stayed linked to the member until retention ran.

Kept, so the scheme's counts stay right: the member row (id, status, dates,
preferences), each call row (direction, line, times, status, duration, the
outcome flags, still counted for the member's id) and each report's
category, month, police consent, status, caseworker and recording state.
Erased: blocks; each call's other party (encrypted number, blind index and
last three digits); each report's recording (the encrypted file and the
row's path to it), its link to the member and to the call, the caller's
index and the caseworker's notes (free text may name people). Warnings
about callers are the scheme's, not the member's, and stay. Police exports
already downloaded are files elsewhere and are not touched.

Both functions are idempotent: the retention sweep erases again for every
cancelled member, as a backstop for anything that arrived late.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from storage.models import Block, Call, Member, MemberStatus, RecordingState, Report
from storage.recordings import RecordingStore
from storage.rows import rowcount

# The member row's personal data: erased by ``repositories.cancel_member`` and,
# as a backstop, by the retention sweep (worker/retention.py).
MEMBER_PERSONAL_COLUMNS = ("working_name", "phone_encrypted", "phone_index", "pin_hash")


class RecordingStoreNeeded(RuntimeError):
    """Recordings are to be erased but no store was given to erase them from."""


@dataclass
class Erased:
    """How much one erasure removed (counts only)."""

    blocks: int = 0
    calls: int = 0
    reports: int = 0
    recordings: int = 0


def erase_member_data(session: Session, member_id: int, recordings: RecordingStore | None) -> Erased:
    """Erase what one cancelled member leaves outside their own row.

    The member row itself is anonymised by ``repositories.cancel_member``.
    """
    return _erase(session, lambda column: column == member_id, recordings)


def erase_cancelled_members_data(session: Session, recordings: RecordingStore | None) -> Erased:
    """The same for every cancelled member at once (the retention backstop)."""
    cancelled = select(Member.id).where(Member.status == MemberStatus.CANCELLED).scalar_subquery()
    return _erase(session, lambda column: column.in_(cancelled), recordings)


def _erase(
    session: Session,
    theirs: Callable[[InstrumentedAttribute[Any]], ColumnElement[bool]],
    recordings: RecordingStore | None,
) -> Erased:
    """Erase blocks, callers and recordings of the members ``theirs`` selects.

    Recording files are deleted before the transaction commits: a rollback
    after that leaves reports pointing at no file, which the console shows
    as a recording that cannot be played — never a recording kept.
    """
    erased = Erased()
    erased.blocks = rowcount(session.execute(delete(Block).where(theirs(Block.member_id))))
    erased.calls = rowcount(
        session.execute(
            update(Call)
            .where(
                theirs(Call.member_id),
                (Call.other_party_encrypted.is_not(None))
                | (Call.other_party_index.is_not(None))
                | (Call.other_party_last3.is_not(None)),
            )
            .values(other_party_encrypted=None, other_party_index=None, other_party_last3=None)
            .execution_options(synchronize_session=False)
        )
    )
    reports = session.scalars(
        select(Report).where(theirs(Report.member_id)).order_by(Report.id).with_for_update()
    ).all()
    for report in reports:
        if report.recording_path:
            if recordings is None:
                raise RecordingStoreNeeded("a recording store is needed to erase these recordings")
            recordings.delete(report.recording_path)
            erased.recordings += 1
        if report.recording_state in (RecordingState.STORED, RecordingState.AWAITED):
            # An awaited recording that arrives later is then deleted at
            # Twilio and never stored (worker/recordings.py).
            report.recording_state = RecordingState.DELETED
        report.recording_path = None
        report.member_id = None
        report.call_id = None
        report.caller_index = None
        report.notes = None
    erased.reports = len(reports)
    session.flush()
    return erased
