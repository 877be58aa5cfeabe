"""Queries and writes of the members' access line, over a Session the caller owns.

The Safety Number keyed at the first prompt is kept server-side, in an
``access_calls`` row keyed by the call's CallSid, never in a URL: the PIN
prompt's URL is the same for every caller. The PIN step *claims* that row
by one conditional UPDATE, so each call gets exactly one PIN check and a
replayed request (signatures carry no timestamp) finds nothing to retry.

Counters change atomically: a calling number's failures by one
``INSERT … ON CONFLICT DO UPDATE`` (the row is locked by the statement),
a member's by the member row locked ``FOR UPDATE`` (``menu_repository``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, case, literal, or_, select, update
from sqlalchemy.orm import Session

from callflows.status import LineKind, LineStatus, MemberStatus
from storage.models import AccessCall, AccessCaller, Member, SafetyNumber
from storage.upsert import dialect_insert

# Longer than any call to the access line can take between its two prompts;
# a row older than this is stale and opens nothing.
ATTEMPT_LIFETIME = timedelta(hours=1)


def keep_keyed_number(session: Session, call_sid: str, line_e164: str | None, now: datetime) -> None:
    """Remember, for ``call_sid``, which Safety Number was keyed (its line,
    or none when ``line_e164`` is no Safety Number in the pool).

    One row per call, written once: a second or replayed entry for the same
    call changes nothing, so its PIN step still has only one try."""
    line_id: Any = (
        select(SafetyNumber.id)
        .where(SafetyNumber.e164 == line_e164, SafetyNumber.kind == LineKind.SAFETY)
        .scalar_subquery()
        if line_e164 is not None
        else literal(None)
    )
    values = select(literal(call_sid), line_id, literal(False), literal(now))
    table: Table = AccessCall.__table__  # type: ignore[assignment]
    stmt = dialect_insert(session.get_bind().dialect.name, table).from_select(
        ["call_sid", "line_id", "pin_tried", "created_at"], values
    )
    session.execute(stmt.on_conflict_do_nothing(index_elements=["call_sid"]))


@dataclass(frozen=True, slots=True)
class Attempt:
    """A claimed attempt: the keyed line's live member, if there is one."""

    member: Member | None
    line: SafetyNumber | None


def claim_attempt(session: Session, call_sid: str, now: datetime) -> Attempt | None:
    """Take this call's one PIN try; None when there is none to take (no
    Safety Number keyed in this call, already tried, or stale)."""
    claimed = session.execute(
        update(AccessCall)
        .where(
            AccessCall.call_sid == call_sid,
            AccessCall.pin_tried.is_(False),
            AccessCall.created_at > now - ATTEMPT_LIFETIME,
        )
        .values(pin_tried=True)
        .returning(AccessCall.line_id)
        .execution_options(synchronize_session=False)
    ).first()
    if claimed is None:
        return None
    line_id = claimed.line_id
    if line_id is None:
        return Attempt(None, None)
    row = session.execute(
        select(Member, SafetyNumber)
        .join(SafetyNumber, SafetyNumber.member_id == Member.id)
        .where(
            SafetyNumber.id == line_id,
            SafetyNumber.status == LineStatus.ASSIGNED,
            Member.status == MemberStatus.ACTIVE,
            Member.phone_index.is_not(None),
        )
    ).first()
    if row is None:
        return Attempt(None, None)
    member, line = row
    return Attempt(member, line)


# --- the per-number limit of callers who are not the member ---------------------


def caller_limited(session: Session, caller_index: str, now: datetime) -> bool:
    """Whether this calling number is over its failure limit right now."""
    locked_until = session.scalar(
        select(AccessCaller.locked_until).where(AccessCaller.caller_index == caller_index)
    )
    return locked_until is not None and locked_until > now


def count_caller_failure(
    session: Session, caller_index: str, now: datetime, *, max_failures: int, lockout: timedelta
) -> bool:
    """Count one failure of a calling number in one atomic statement; at
    ``max_failures`` it is limited for ``lockout`` and its count starts again
    (``callflows.lockout``'s rule). Failures while limited are not counted.
    True when this failure limited it."""
    table: Table = AccessCaller.__table__  # type: ignore[assignment]
    stmt = dialect_insert(session.get_bind().dialect.name, table).values(
        caller_index=caller_index,
        failures=1 if max_failures > 1 else 0,
        locked_until=now + lockout if max_failures <= 1 else None,
    )
    reached = table.c.failures + 1 >= max_failures
    stmt = stmt.on_conflict_do_update(
        index_elements=["caller_index"],
        set_={
            "failures": case((reached, 0), else_=table.c.failures + 1),
            "locked_until": case((reached, now + lockout), else_=table.c.locked_until),
        },
        where=or_(table.c.locked_until.is_(None), table.c.locked_until <= now),
    ).returning(table.c.locked_until)
    row = session.execute(stmt).first()
    return row is not None and row.locked_until is not None and row.locked_until > now
