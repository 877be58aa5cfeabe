"""Queries of calls *to* a Safety Number: one indexed lookup per call that
also decides its outcome, and one idempotent write of its call-log row — on
PostgreSQL in a single statement, so an inbound call costs one round trip.

The outcome is decided in the statement, not after it: the alternative,
facts back to ``callflows`` and then a write of the outcome, is a second
round trip on every call (BENCHMARKS.md: round trips, not statements, were
the cost). So the statement evaluates :func:`callflows.inbound.screen_inbound`'s
rule, written once more as a ``CASE`` (:func:`outcome_case`), and a
property-based test holds the two equal; the web view only renders the
outcome the statement returns.

Every query here is served by an index (``safety_numbers.e164`` unique,
``members`` primary key, ``blocks (member_id, caller_index)`` unique,
``warnings.caller_index``, ``calls.call_sid`` unique), so an inbound call
costs the same whatever the size of the tables.
"""

from __future__ import annotations

import enum
import functools
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from callflows.inbound import InboundOutcome, Screening
from callflows.languages import language_or_english
from callflows.phone import Caller
from callflows.status import (
    CallDirection,
    CallerIdShown,
    CallStatus,
    Greeting,
    LineKind,
    LineStatus,
    MemberStatus,
)
from storage.models import Block, Call, CallerWarning, Member, SafetyNumber, utcnow
from storage.statements import Statements
from storage.upsert import dialect_insert
from storage.vault import NumberVault


def screen_and_log(
    statements: Statements,
    vault: NumberVault,
    *,
    line_e164: str,
    caller: Caller,
    call_sid: str,
    now: datetime | None = None,
) -> Screening:
    """Screen one call to ``line_e164`` and log it, in one statement.

    The statement looks up the line, its member, whether the member blocked
    the caller and how many live warnings name the caller; decides the
    outcome by :func:`callflows.inbound.screen_inbound`'s rule; and writes
    the call's row in the call log for the calls that reach a member's line
    from someone else (RING and REJECT, the latter marked blocked). No such
    line, or no ``call_sid``: nothing is written.

    The write is idempotent on ``call_sid`` (Twilio retries a webhook that
    timed out, and a status callback may have made the row first): only the
    facts this webhook knows are written; the status the call log keeps and
    the flags the whisper sets are left alone.

    One statement on PostgreSQL (the insert is a data-modifying ``WITH``);
    SQLite, which has no such thing, runs the lookup and then the insert.
    """
    dialect = statements.dialect
    clock = _clock(dialect, now)
    params: dict[str, Any] = {"line_e164": line_e164, "call_sid": call_sid}
    if clock is Clock.GIVEN:
        params["now"] = now or utcnow()
    if caller.e164 is not None:
        protected = vault.protect(caller.e164)
        params.update(
            caller_index=protected.index, caller_token=protected.token, caller_last3=protected.last3
        )
    with_caller = caller.e164 is not None
    if call_sid and dialect == "postgresql":
        row = statements.first(_screen_and_log(with_caller, clock), params)
    else:
        row = statements.first(_screen(with_caller, clock), params)
        if call_sid and row is not None and row.outcome in LOGGED_OUTCOMES:
            statements.execute(_log(dialect, with_caller, clock), params)
    if row is None:
        return Screening(InboundOutcome.UNAVAILABLE)
    outcome = InboundOutcome(row.outcome)
    if outcome is not InboundOutcome.RING:
        return Screening(outcome)
    return Screening(
        outcome,
        safety_number=row.line_e164,
        member_phone=vault.reveal(row.phone_encrypted),
        greeting=Greeting(row.greeting),
        caller_id_shown=CallerIdShown(row.caller_id_shown),
        caller_language=language_or_english(row.caller_language),
    )


# The outcomes that get a call-log row: a call to an access line belongs to
# no member until the PIN is right (the menu logs it then); a dead line has
# no member to log it for.
LOGGED_OUTCOMES = frozenset({InboundOutcome.RING, InboundOutcome.REJECT})


class Clock(enum.Enum):
    """Where a statement's "now" comes from."""

    DATABASE = "database"  # PostgreSQL's own, as naive UTC like every timestamp column
    GIVEN = "given"  # a bound parameter: a caller's ``now`` (tests), or SQLite's


def _clock(dialect: str, now: datetime | None) -> Clock:
    """PostgreSQL's clock unless a ``now`` is given: a datetime sent with
    every call was the costliest of its parameters for the driver to convert
    (BENCHMARKS.md, "Webhook against its floor"). SQLite has no such function."""
    return Clock.DATABASE if now is None and dialect == "postgresql" else Clock.GIVEN


def _now(clock: Clock) -> Any:
    # clock_timestamp(), not now(): the time of the statement even inside a
    # longer transaction (the tests' own), where now() is the transaction's start.
    return func.timezone("UTC", func.clock_timestamp()) if clock is Clock.DATABASE else bindparam("now")


# The statements of an inbound call are built once, with bound parameters,
# and reused: building them per request (and SQLAlchemy's cache key over
# their literal values) cost more CPU than the rest of the webhook
# (BENCHMARKS.md, "Profile"). Table columns, not mapped attributes: Core
# statements run on the connection without the ORM's execution machinery.
@functools.cache
def _screen(with_caller: bool, clock: Clock) -> Any:
    """The lookup, with the outcome decided in SQL (see :func:`outcome_case`)."""
    lines, members = _table(SafetyNumber), _table(Member)
    live = and_(
        lines.c.status == LineStatus.ASSIGNED.value,
        members.c.status == MemberStatus.ACTIVE.value,
        members.c.phone_encrypted.is_not(None),
    )
    access = lines.c.kind == LineKind.ACCESS.value
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
                on_file.c.expires_at.is_(None) | (on_file.c.expires_at > _now(clock)),
            )
            .scalar_subquery()
        )
        outcome = outcome_case(
            access_line=access,
            line_live=live,
            caller_withheld=False,
            caller_blocked=blocked,
            accept_withheld=members.c.accept_withheld,
        )
    else:
        warnings = literal(0)
        outcome = outcome_case(
            access_line=access,
            line_live=live,
            caller_withheld=True,
            caller_blocked=false(),
            accept_withheld=members.c.accept_withheld,
        )
    return (
        select(
            lines.c.id.label("line_id"),
            lines.c.e164.label("line_e164"),
            members.c.id.label("member_id"),
            members.c.phone_encrypted,
            members.c.greeting,
            members.c.caller_id_shown,
            members.c.caller_language,
            warnings.label("warnings"),
            outcome.label("outcome"),
            _now(clock).label("logged_at"),  # one time for the row's two
        )
        .select_from(lines.outerjoin(members, lines.c.member_id == members.c.id))
        .where(lines.c.e164 == bindparam("line_e164"))
    )


def outcome_case(
    *,
    access_line: Any,
    line_live: Any,
    caller_withheld: bool,
    caller_blocked: Any,
    accept_withheld: Any,
) -> Any:
    """:func:`callflows.inbound.screen_inbound` as a SQL ``CASE``, branch for
    branch, over SQL expressions of the same facts (a NULL fact, from the
    outer join of a line without a member, counts as false, as ``CASE`` does).

    Computed in the statement so an inbound call stays one round trip *and*
    its call-log row is written by the same decision that answers it;
    ``tests/test_inbound_decision.py`` holds this equal to the pure rule."""
    rejects_withheld: Any = not_(accept_withheld) if caller_withheld else false()
    return case(
        (access_line, literal(InboundOutcome.ACCESS.value)),
        (not_(func.coalesce(line_live, false())), literal(InboundOutcome.UNAVAILABLE.value)),
        (caller_blocked, literal(InboundOutcome.REJECT.value)),
        (rejects_withheld, literal(InboundOutcome.REJECT.value)),
        else_=literal(InboundOutcome.RING.value),
    )


# The call-log row's columns and the values an inbound call writes, the
# caller's three last (index, token, last digits, withheld) apart.
_LOGGED = {
    "direction": literal(CallDirection.INBOUND.value),
    "status": literal(CallStatus.RINGING.value),
    "last_sequence": literal(-1),
    "bridged": false(),
    "declined": false(),
}
# What a retried webhook brings up to date: the facts it knows, not what the
# call log and the whisper keep (status, sequence, bridged, declined).
_REFRESHED = (
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


def _log_from(dialect: str, found: Any, with_caller: bool, clock: Clock) -> Any:
    """INSERT … SELECT from the screened row ``found`` … ON CONFLICT (call_sid)
    DO UPDATE: the call's row, for the outcomes in :data:`LOGGED_OUTCOMES`."""
    if with_caller:
        caller: dict[str, Any] = {
            "other_party_index": bindparam("caller_index"),
            "other_party_encrypted": bindparam("caller_token"),
            "other_party_last3": bindparam("caller_last3"),
            "withheld": false(),
        }
    else:
        caller = {
            "other_party_index": null(),
            "other_party_encrypted": null(),
            "other_party_last3": null(),
            "withheld": true(),
        }
    columns = {
        "call_sid": bindparam("call_sid"),
        "safety_number_id": found.c.line_id,
        "member_id": found.c.member_id,
        **caller,
        "blocked": found.c.outcome == InboundOutcome.REJECT.value,
        "warned": found.c.warnings > 0,
        **_LOGGED,
        "started_at": found.c.logged_at,
        "created_at": found.c.logged_at,
    }
    # Equalities, not IN: an IN list is an "expanding" parameter, rendered
    # into the SQL again on every execution (BENCHMARKS.md, "Profile").
    logged = or_(*(found.c.outcome == outcome.value for outcome in sorted(LOGGED_OUTCOMES)))
    values = select(*columns.values()).where(logged)
    stmt = dialect_insert(dialect, _table(Call)).from_select(list(columns), values)
    return stmt.on_conflict_do_update(
        index_elements=["call_sid"], set_={name: stmt.excluded[name] for name in _REFRESHED}
    )


@functools.cache
def _screen_and_log(with_caller: bool, clock: Clock) -> Any:
    """PostgreSQL: the screening as a CTE, the insert as a data-modifying CTE
    (run once, whether or not the query reads it), and of the screened row
    what answering the call needs (each column returned costs the driver a
    conversion on every call)."""
    found = _screen(with_caller, clock).cte("found")
    logged = _log_from("postgresql", found, with_caller, clock).cte("logged")
    return select(*(found.c[name] for name in _ANSWERED_FROM)).add_cte(logged)


# The screened row's columns :func:`screen_and_log` reads.
_ANSWERED_FROM = ("outcome", "line_e164", "phone_encrypted", "greeting", "caller_id_shown", "caller_language")


@functools.cache
def _log(dialect: str, with_caller: bool, clock: Clock) -> Any:
    """The insert on its own, reading the screening as a subquery (SQLite)."""
    return _log_from(dialect, _screen(with_caller, clock).subquery("found"), with_caller, clock)


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


class MemberLanguages(NamedTuple):
    own: str  # what the member hears (whisper, menu)
    callers: str  # what callers to their Safety Number may hear


def member_languages(session: Session, member_id: int | None) -> MemberLanguages:
    """The language codes of a call's member; English for none."""
    row = (
        session.execute(select(Member.language, Member.caller_language).where(Member.id == member_id)).first()
        if member_id is not None
        else None
    )
    return (
        MemberLanguages(row.language, row.caller_language) if row is not None else MemberLanguages("en", "en")
    )


def inbound_call(session: Session, call_sid: str) -> Call | None:
    """The inbound call row for the caller's CallSid (the whisper and screen
    carry it as ``?call=``)."""
    if not call_sid:
        return None
    return session.scalars(
        select(Call).where(Call.call_sid == call_sid, Call.direction == CallDirection.INBOUND)
    ).first()


class WhisperFacts(NamedTuple):
    """What the whisper tells the member about the call they are rung for."""

    withheld: bool
    caller_last3: str | None
    language: str  # the member's own ("en" for a call without member)
    warning_categories: list[str]  # of the caller's live warnings, newest first


def whisper_facts(statements: Statements, call_sid: str, now: datetime | None = None) -> WhisperFacts | None:
    """The inbound call ``call_sid`` with its member's language and its
    caller's live warnings, in one statement (a row per warning), or None.

    The whisper ran three ORM queries in a transaction of their own (five
    round trips, and the statements built per request); it reads on a
    standalone connection instead (BENCHMARKS.md, "Status callback and
    whisper")."""
    if not call_sid:
        return None
    clock = _clock(statements.dialect, now)
    params: dict[str, Any] = {"sid": call_sid}
    if clock is Clock.GIVEN:
        params["now"] = now or utcnow()
    rows = statements.all(_whisper(clock), params)
    if not rows:
        return None
    first = rows[0]
    return WhisperFacts(
        withheld=bool(first.withheld),
        caller_last3=first.other_party_last3,
        language=first.language or "en",
        warning_categories=[row.category for row in rows if row.category is not None],
    )


@functools.cache
def _whisper(clock: Clock) -> Any:
    calls, members, warnings = _table(Call), _table(Member), _table(CallerWarning)
    live = warnings.c.expires_at.is_(None) | (warnings.c.expires_at > _now(clock))
    return (
        select(
            calls.c.withheld,
            calls.c.other_party_last3,
            members.c.language,
            warnings.c.category,
        )
        .select_from(
            calls.outerjoin(members, members.c.id == calls.c.member_id).outerjoin(
                warnings, and_(warnings.c.caller_index == calls.c.other_party_index, live)
            )
        )
        .where(calls.c.call_sid == bindparam("sid"), calls.c.direction == CallDirection.INBOUND.value)
        .order_by(warnings.c.created_at.desc(), warnings.c.id.desc())
    )
