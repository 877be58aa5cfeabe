"""Queries of calls *to* a Safety Number: one indexed lookup per call, one
idempotent write of its call-log row.

Every query here is served by an index (``safety_numbers.e164`` unique,
``members`` primary key, ``blocks (member_id, caller_index)`` unique,
``warnings.caller_index``, ``calls.call_sid`` unique), so an inbound call
costs two statements whatever the size of the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, false, func, literal, select
from sqlalchemy.orm import Session

from storage.models import (
    Block,
    Call,
    CallDirection,
    CallerWarning,
    LineStatus,
    Member,
    MemberStatus,
    SafetyNumber,
    utcnow,
)
from storage.vault import ProtectedNumber


@dataclass(frozen=True)
class InboundLookup:
    """A called line, its member (if live), and what is known of the caller."""

    line: SafetyNumber
    member: Member | None
    caller_blocked: bool
    warning_count: int

    @property
    def live(self) -> bool:
        return (
            self.member is not None
            and self.line.status == LineStatus.ASSIGNED
            and self.member.status == MemberStatus.ACTIVE
            and self.member.phone_encrypted is not None
        )


def lookup_inbound(
    session: Session, line_e164: str, caller_index: str | None, now: datetime | None = None
) -> InboundLookup | None:
    """The line, its member, whether the member blocked the caller and how many
    live warnings name the caller — in one statement. None: no such line."""
    now = now or utcnow()
    if caller_index is None:
        blocked: Any = false()
        warnings: Any = literal(0)
    else:
        blocked = exists().where(Block.member_id == Member.id, Block.caller_index == caller_index)
        warnings = (
            select(func.count(CallerWarning.id))
            .where(
                CallerWarning.caller_index == caller_index,
                CallerWarning.expires_at.is_(None) | (CallerWarning.expires_at > now),
            )
            .scalar_subquery()
        )
    row = session.execute(
        select(SafetyNumber, Member, blocked.label("blocked"), warnings.label("warnings"))
        .outerjoin(Member, SafetyNumber.member_id == Member.id)
        .where(SafetyNumber.e164 == line_e164)
    ).first()
    if row is None:
        return None
    line, member, is_blocked, count = row
    return InboundLookup(line, member, bool(is_blocked), int(count or 0))


def record_inbound_call(
    session: Session,
    *,
    call_sid: str,
    line_id: int,
    member_id: int,
    caller: ProtectedNumber | None,
    blocked: bool,
    warned: bool,
    now: datetime | None = None,
) -> None:
    """Insert the inbound call's row, or bring an existing one up to date.

    Idempotent on ``call_sid``: Twilio retries a webhook that timed out, and a
    status callback may have made the row first (the call-log job creates
    rows it has not seen). Only the facts this webhook knows are written; the
    status the call log keeps and the screening flags set later are left alone.
    """
    now = now or utcnow()
    facts: dict[str, Any] = {
        "direction": CallDirection.INBOUND,
        "safety_number_id": line_id,
        "member_id": member_id,
        "other_party_index": caller.index if caller else None,
        "other_party_encrypted": caller.token if caller else None,
        "other_party_last3": caller.last3 if caller else None,
        "withheld": caller is None,
        "blocked": blocked,
        "warned": warned,
    }
    values = {
        **facts,
        "call_sid": call_sid,
        "status": "ringing",
        "last_sequence": -1,
        "bridged": False,
        "declined": False,
        "started_at": now,
        "created_at": now,
    }
    session.execute(_upsert(session, values, facts))


def _upsert(session: Session, values: dict[str, Any], update: dict[str, Any]) -> Any:
    """INSERT … ON CONFLICT (call_sid) DO UPDATE, in the dialect at hand."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(Call)
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(Call)
    else:  # pragma: no cover - only PostgreSQL and SQLite are supported
        raise NotImplementedError(dialect)
    return stmt.values(**values).on_conflict_do_update(index_elements=["call_sid"], set_=update)


def inbound_call(session: Session, call_sid: str) -> Call | None:
    """The inbound call row for the caller's CallSid (the whisper and screen
    carry it as ``?call=``)."""
    if not call_sid:
        return None
    return session.scalars(
        select(Call).where(Call.call_sid == call_sid, Call.direction == CallDirection.INBOUND)
    ).first()
