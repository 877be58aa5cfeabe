"""Queries of calls *to* a Safety Number: one indexed lookup per call and
one idempotent write of its call-log row — on PostgreSQL in a single
statement, so an inbound call costs one round trip.

Every query here is served by an index (``safety_numbers.e164`` unique,
``members`` primary key, ``blocks (member_id, caller_index)`` unique,
``warnings.caller_index``, ``calls.call_sid`` unique), so an inbound call
costs the same whatever the size of the tables.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal,
    null,
    select,
    true,
    update,
)
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
from storage.upsert import dialect_insert
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

    def caller_is_member(self, caller_index: str | None) -> bool:
        """The call comes from the member's own registered phone."""
        return (
            self.member is not None and caller_index is not None and caller_index == self.member.phone_index
        )


def lookup_and_log(
    connection: Connection,
    *,
    line_e164: str,
    caller: ProtectedNumber | None,
    call_sid: str,
    now: datetime | None = None,
) -> InboundLookup | None:
    """Look up the called line, its member, whether the member blocked the
    caller and how many live warnings name the caller; and, when the line is
    live and the caller is not its member (the calls that get screened), write
    the call's row in the call log. None: no such line.

    The row is written as not blocked: a caller the screening rejects is
    marked by :func:`mark_rejected`. The write is idempotent on ``call_sid``
    (Twilio retries a webhook that timed out, and a status callback may have
    made the row first): only the facts this webhook knows are written; the
    status the call log keeps and the flags set later are left alone. No
    ``call_sid``: nothing is written.

    One statement on PostgreSQL (the insert is a data-modifying ``WITH``);
    SQLite, which has no such thing, runs the lookup and then the insert.
    """
    now = now or utcnow()
    with_caller = caller is not None
    params: dict[str, Any] = {"line_e164": line_e164, "call_sid": call_sid, "now": now}
    if caller is not None:
        params.update(caller_index=caller.index, caller_token=caller.token, caller_last3=caller.last3)
    dialect = connection.dialect.name
    if call_sid and dialect == "postgresql":
        row = connection.execute(_lookup_and_log(with_caller), params).first()
    else:
        row = connection.execute(_lookup(with_caller), params).first()
        if call_sid and row is not None and row.live:
            connection.execute(_log(dialect, with_caller), params)
    if row is None:
        return None
    member = (
        LiveMember(
            row.member_id,
            row.phone_encrypted,
            row.phone_index,
            row.greeting,
            row.accept_withheld,
            row.caller_id_shown,
        )
        if row.live
        else None
    )
    return InboundLookup(row.line_id, row.line_e164, member, bool(row.blocked), int(row.warnings or 0))


def mark_rejected(connection: Connection, call_sid: str) -> None:
    """The screening rejected this call's caller: say so on its row."""
    connection.execute(_mark_rejected(), {"rejected_sid": call_sid})


# The statements of an inbound call are built once, with bound parameters,
# and reused: building them per request (and SQLAlchemy's cache key over
# their literal values) cost more CPU than the rest of the webhook
# (BENCHMARKS.md, "Profile"). Table columns, not mapped attributes: Core
# statements run on the connection without the ORM's execution machinery.
@functools.cache
def _lookup(with_caller: bool) -> Any:
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
    live = and_(
        lines.c.status == LineStatus.ASSIGNED.value,
        members.c.status == MemberStatus.ACTIVE.value,
        members.c.phone_encrypted.is_not(None),
    )
    return (
        select(
            lines.c.id.label("line_id"),
            lines.c.e164.label("line_e164"),
            func.coalesce(live, false()).label("live"),
            members.c.id.label("member_id"),
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


_LOGGED = (
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
# What a retried webhook brings up to date: the facts it knows. Not
# ``blocked`` (mark_rejected's), nor what the call log and the whisper keep.
_REFRESHED = (
    "direction",
    "safety_number_id",
    "member_id",
    "other_party_index",
    "other_party_encrypted",
    "other_party_last3",
    "withheld",
    "warned",
)


def _log_from(dialect: str, found: Any, with_caller: bool) -> Any:
    """INSERT … SELECT from the lookup's row ``found`` … ON CONFLICT (call_sid)
    DO UPDATE: the call's row, for a live line not called by its member."""
    caller: tuple[Any, ...] = (
        (bindparam("caller_index"), bindparam("caller_token"), bindparam("caller_last3"), false())
        if with_caller
        else (null(), null(), null(), true())
    )
    values = select(
        bindparam("call_sid"),
        literal(CallDirection.INBOUND.value),
        found.c.line_id,
        found.c.member_id,
        *caller,
        false(),
        found.c.warnings > 0,
        literal("ringing"),
        literal(-1),
        false(),
        false(),
        bindparam("now"),
        bindparam("now"),
    ).where(found.c.live)
    if with_caller:
        # The member's own phone goes to the menu, which logs its own call.
        values = values.where(found.c.phone_index.is_distinct_from(bindparam("caller_index")))
    stmt = dialect_insert(dialect, _table(Call)).from_select(list(_LOGGED), values)
    return stmt.on_conflict_do_update(
        index_elements=["call_sid"], set_={name: stmt.excluded[name] for name in _REFRESHED}
    )


@functools.cache
def _lookup_and_log(with_caller: bool) -> Any:
    """PostgreSQL: the lookup as a CTE, the insert as a data-modifying CTE
    (run once, whether or not the query reads it), the lookup's row returned."""
    found = _lookup(with_caller).cte("found")
    logged = _log_from("postgresql", found, with_caller).cte("logged")
    return select(found).add_cte(logged)


@functools.cache
def _log(dialect: str, with_caller: bool) -> Any:
    """The insert on its own, reading the lookup as a subquery (SQLite)."""
    return _log_from(dialect, _lookup(with_caller).subquery("found"), with_caller)


@functools.cache
def _mark_rejected() -> Any:
    calls = _table(Call)
    return update(calls).where(calls.c.call_sid == bindparam("rejected_sid")).values(blocked=True)


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


def inbound_call(session: Session, call_sid: str) -> Call | None:
    """The inbound call row for the caller's CallSid (the whisper and screen
    carry it as ``?call=``)."""
    if not call_sid:
        return None
    return session.scalars(
        select(Call).where(Call.call_sid == call_sid, Call.direction == CallDirection.INBOUND)
    ).first()
