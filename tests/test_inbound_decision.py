"""The inbound call's outcome is decided by one rule, written twice: the pure
``callflows.inbound.screen_inbound`` and, for a single round trip, the
``CASE`` in ``storage.inbound_repository``'s statement. Over random facts in
a real database (PostgreSQL and SQLite), the statement must answer exactly
what the pure rule answers, and log exactly the calls it should.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import literal, select

from callflows.inbound import InboundFacts, InboundOutcome, screen_inbound
from callflows.phone import Caller
from callflows.status import LineKind, LineStatus, MemberStatus
from storage import inbound_repository
from storage.db import Database
from storage.models import Block, Call, CallerWarning, Member, SafetyNumber, utcnow
from storage.vault import NumberVault

# Numbers of the Ofcom drama ranges, one fresh set per example.
_serial = itertools.count()


@dataclass(frozen=True)
class World:
    """One line and what stands behind it, as random facts."""

    kind: LineKind
    line_status: LineStatus
    has_member: bool
    member_status: MemberStatus
    member_phone_on_file: bool
    accept_withheld: bool
    caller: str  # "withheld", "member" (the member's own phone) or "other"
    blocked: bool
    live_warnings: int
    expired_warnings: int
    with_call_sid: bool


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """Half the lines live, the others dead in one of the ways a line can be,
    so the examples spend their time where the rule has branches."""
    dead = draw(st.sampled_from([None, "line", "no member", "cancelled", "no phone"] + [None] * 3))
    return World(
        kind=draw(st.sampled_from([LineKind.ACCESS] + [LineKind.SAFETY] * 4)),
        line_status=draw(st.sampled_from([LineStatus.AVAILABLE, LineStatus.QUARANTINED]))
        if dead == "line"
        else LineStatus.ASSIGNED,
        has_member=dead != "no member",
        member_status=MemberStatus.CANCELLED if dead == "cancelled" else MemberStatus.ACTIVE,
        member_phone_on_file=dead != "no phone",
        accept_withheld=draw(st.booleans()),
        caller=draw(st.sampled_from(["withheld", "member", "other"])),
        blocked=draw(st.booleans()),
        live_warnings=draw(st.integers(0, 2)),
        expired_warnings=draw(st.integers(0, 1)),
        with_call_sid=draw(st.booleans()),
    )


@pytest.mark.parametrize(
    "facts", [InboundFacts(*values) for values in itertools.product([False, True], repeat=5)]
)
def test_the_case_is_the_rule_branch_for_branch(any_db: Database, facts: InboundFacts) -> None:
    """Every combination of the five facts, through the SQL ``CASE`` alone."""
    case = inbound_repository.outcome_case(
        access_line=literal(facts.access_line),
        line_live=literal(facts.line_live),
        caller_withheld=facts.caller_withheld,
        caller_blocked=literal(facts.caller_blocked),
        accept_withheld=literal(facts.accept_withheld),
    )
    with any_db.standalone_connection() as connection:
        assert connection.execute(select(case)).scalar_one() == screen_inbound(facts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=worlds(), database_clock=st.booleans())
def test_the_statement_decides_as_the_pure_rule(
    any_db: Database, vault: NumberVault, world: World, database_clock: bool
) -> None:
    """``database_clock``: no ``now`` given, so PostgreSQL's own clock
    decides which warnings are live (SQLite still takes Python's)."""
    n = next(_serial)
    line_e164 = f"+44113496{n:04d}"
    member_phone = f"+44117496{n:04d}"
    other_phone = f"+44118496{n:04d}"
    caller = Caller({"withheld": None, "member": member_phone, "other": other_phone}[world.caller])
    now = utcnow()
    with any_db.session() as s:
        member = None
        if world.has_member:
            protected = vault.protect(member_phone) if world.member_phone_on_file else None
            member = Member(
                working_name="Example",
                status=world.member_status,
                phone_encrypted=protected.token if protected else None,
                phone_index=protected.index if protected else None,
                accept_withheld=world.accept_withheld,
            )
            s.add(member)
            s.flush()
        s.add(
            SafetyNumber(
                e164=line_e164,
                kind=world.kind,
                status=world.line_status,
                member_id=member.id if member else None,
            )
        )
        if caller.e164 is not None:
            index = vault.index(caller.e164)
            if member is not None and world.blocked:
                s.add(Block(member_id=member.id, caller_index=index, caller_last3="000"))
            expiries = [None] * world.live_warnings + [now - timedelta(days=1)] * world.expired_warnings
            for expires_at in expiries:
                s.add(CallerWarning(caller_index=index, category="other", summary="s", expires_at=expires_at))
        member_id = member.id if member is not None else None

    call_sid = f"CAdecide{n:06d}" if world.with_call_sid else ""
    screening = inbound_repository.screen_and_log(
        any_db.statements,
        vault,
        line_e164=line_e164,
        caller=caller,
        call_sid=call_sid,
        now=None if database_clock else now,
    )

    phone_on_file = world.has_member and world.member_phone_on_file
    expected = screen_inbound(
        InboundFacts(
            access_line=world.kind is LineKind.ACCESS,
            line_live=world.line_status is LineStatus.ASSIGNED
            and world.member_status is MemberStatus.ACTIVE
            and phone_on_file,
            caller_withheld=caller.withheld,
            caller_blocked=world.has_member and world.blocked and not caller.withheld,
            accept_withheld=world.accept_withheld,
        )
    )
    assert screening.outcome is expected
    if expected is InboundOutcome.RING:
        assert (screening.member_phone, screening.safety_number) == (member_phone, line_e164)
    else:
        assert screening.member_phone == ""  # revealed only to ring the member

    with any_db.session() as s:
        row = s.scalars(select(Call).where(Call.call_sid == call_sid)).first() if call_sid else None
    logged = call_sid != "" and expected in (InboundOutcome.RING, InboundOutcome.REJECT)
    assert (row is not None) == logged
    if row is not None:
        assert row.member_id == member_id
        assert row.blocked == (expected is InboundOutcome.REJECT)
        assert row.withheld == caller.withheld
        assert row.warned == (not caller.withheld and world.live_warnings > 0)
