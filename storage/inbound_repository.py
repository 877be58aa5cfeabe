"""Queries of calls *to* a Safety Number: one indexed lookup per call, one
idempotent write of its call-log row.

Every query here is served by an index (``safety_numbers.e164`` unique,
``members`` primary key, ``blocks (member_id, caller_index)`` unique,
``warnings.caller_index``, ``calls.call_sid`` unique), so an inbound call
costs two statements whatever the size of the tables.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, exists, false, func, literal, select
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
from storage.upsert import conflict_insert
from storage.vault import ProtectedNumber


@dataclass(frozen=True, slots=True)
class LiveMember:
    """What ringing a member needs: never their phone in clear."""

    id: int
    phone_encrypted: str
    phone_index: str | None
    greeting: str
    accept_withheld: bool
    caller_id_shown: str


@dataclass(frozen=True, slots=True)
class InboundLookup:
    """A called line, its member when the line is live, and what is known of
    the caller. Plain values, not ORM objects: an inbound call reads and
    changes nothing else, and loading entities cost CPU (BENCHMARKS.md)."""

    line_id: int
    line_e164: str
    member: LiveMember | None
    caller_blocked: bool
    warning_count: int

    @property
    def live(self) -> bool:
        """Assigned to an active member whose phone is on file."""
        return self.member is not None


def lookup_inbound(
    connection: Connection, line_e164: str, caller_index: str | None, now: datetime | None = None
) -> InboundLookup | None:
    """The line, its member, whether the member blocked the caller and how many
    live warnings name the caller — in one statement. None: no such line."""
    now = now or utcnow()
    params: dict[str, Any] = {"line_e164": line_e164}
    if caller_index is not None:
        params.update(caller_index=caller_index, now=now)
    row = connection.execute(_lookup_statement(caller_index is not None), params).first()
    if row is None:
        return None
    live = (
        row.line_status == LineStatus.ASSIGNED
        and row.member_status == MemberStatus.ACTIVE
        and row.phone_encrypted is not None
    )
    member = (
        LiveMember(
            row.member_id,
            row.phone_encrypted,
            row.phone_index,
            row.greeting,
            row.accept_withheld,
            row.caller_id_shown,
        )
        if live
        else None
    )
    return InboundLookup(row.line_id, row.line_e164, member, bool(row.blocked), int(row.warnings or 0))


def record_inbound_call(
    connection: Connection,
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
    connection.execute(_upsert(connection.dialect.name), values)


# The two statements of an inbound call are built once, with bound
# parameters, and reused: building them per request (and SQLAlchemy's cache
# key over their literal values) cost more CPU than the rest of the webhook
# (see BENCHMARKS.md, "Profile").
@functools.cache
def _lookup_statement(with_caller: bool) -> Any:
    lines, members = _table(SafetyNumber), _table(Member)
    if with_caller:
        blocks, on_file = _table(Block), _table(CallerWarning)
        caller_index: Any = bindparam("caller_index")
        blocked: Any = exists().where(
            blocks.c.member_id == members.c.id, blocks.c.caller_index == caller_index
        )
        warnings: Any = (
            select(func.count(on_file.c.id))
            .where(
                on_file.c.caller_index == caller_index,
                on_file.c.expires_at.is_(None) | (on_file.c.expires_at > bindparam("now")),
            )
            .scalar_subquery()
        )
    else:
        blocked, warnings = false(), literal(0)
    # Table columns, not mapped attributes: a Core statement runs on the
    # session's connection without the ORM's execution machinery.
    return (
        select(
            lines.c.id.label("line_id"),
            lines.c.e164.label("line_e164"),
            lines.c.status.label("line_status"),
            members.c.id.label("member_id"),
            members.c.status.label("member_status"),
            members.c.phone_encrypted,
            members.c.phone_index,
            members.c.greeting,
            members.c.accept_withheld,
            members.c.caller_id_shown,
            blocked.label("blocked"),
            warnings.label("warnings"),
        )
        .select_from(lines.outerjoin(members, lines.c.member_id == members.c.id))
        .where(lines.c.e164 == bindparam("line_e164"))
    )


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


_INSERTED = (
    "call_sid",
    "direction",
    "safety_number_id",
    "member_id",
    "other_party_index",
    "other_party_encrypted",
    "other_party_last3",
    "withheld",
    "blocked",
    "warned",
    "status",
    "last_sequence",
    "bridged",
    "declined",
    "started_at",
    "created_at",
)
_UPDATED = (
    "direction",
    "safety_number_id",
    "member_id",
    "other_party_index",
    "other_party_encrypted",
    "other_party_last3",
    "withheld",
    "blocked",
    "warned",
)


@functools.cache
def _upsert(dialect: str) -> Any:
    """INSERT … ON CONFLICT (call_sid) DO UPDATE of the identity facts, in the
    dialect at hand; a Core statement on the table (no ORM bulk path)."""
    stmt = conflict_insert(dialect, _table(Call), _INSERTED)
    return stmt.on_conflict_do_update(
        index_elements=["call_sid"], set_={name: stmt.excluded[name] for name in _UPDATED}
    )


def inbound_call(session: Session, call_sid: str) -> Call | None:
    """The inbound call row for the caller's CallSid (the whisper and screen
    carry it as ``?call=``)."""
    if not call_sid:
        return None
    return session.scalars(
        select(Call).where(Call.call_sid == call_sid, Call.direction == CallDirection.INBOUND)
    ).first()
