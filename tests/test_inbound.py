"""POST /voice/incoming: dead lines, the member's own phone (an ordinary
caller), rejections, and ringing the member through a screened, masked <Dial>."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, delete, event, select, text

from callflows import prompts
from ivr import services_of
from storage import repositories as repo
from storage.db import Database
from storage.models import Call, LineStatus, Member, SafetyNumber, utcnow
from storage.vault import NumberVault
from tests.support.databases import committing_database
from tests.support.people import LINE, Enrol, EnrolledMember, add_access_line
from tests.support.people import enrol as enroll_on
from tests.support.suite import SuiteConfig
from tests.support.twilio import TwilioClient, TwiML

CALLER = "+447911123456"
# What Twilio receives for a call that will not ring: nothing but <Reject/>.
REJECT = b'<?xml version="1.0" encoding="UTF-8"?><Response><Reject /></Response>'


def call_in(
    twilio: TwilioClient, caller: str | None = CALLER, *, sid: str = "CAin0001", line: str = LINE
) -> TwiML:
    """Twilio's webhook for a call from ``caller`` (None: no From at all) to ``line``."""
    form = {"CallSid": sid, "To": line, "CallStatus": "ringing", "Direction": "inbound"}
    if caller is not None:
        form["From"] = caller
    return twilio.post("/voice/incoming", **form)


def calls(db: Database) -> list[Call]:
    with db.session() as s:
        return list(s.scalars(select(Call).order_by(Call.id)))


# --- lines nobody is behind ---------------------------------------------------------


def test_dead_lines_all_get_one_identical_answer(
    twilio: TwilioClient, db: Database, vault: NumberVault, enrol: Enrol
) -> None:
    enrol(phone="+442079460124", line="+442079460003")
    enrol(phone="+442079460125", line="+442079460004")
    with db.session() as s:
        repo.add_numbers(s, ["+442079460002"])  # in the pool, never assigned
    with db.session() as s:
        # one cancelled member (their line is quarantined) ...
        member = repo.member_by_phone(s, vault, "+442079460124")
        assert member is not None
        repo.cancel_member(s, member)
        # ... and one line quarantined by staff with the member still on it.
        line = s.scalars(select(SafetyNumber).where(SafetyNumber.e164 == "+442079460004")).one()
        line.status = LineStatus.QUARANTINED

    answers = {
        call_in(twilio, caller, sid=f"CAdead{i}", line=line).body
        for i, (caller, line) in enumerate(
            [
                (CALLER, "+442079460002"),  # unassigned
                (CALLER, "+442079460003"),  # cancelled member, quarantined
                (None, "+442079460004"),  # quarantined, withheld caller
                ("+442079460124", "+442079460003"),  # the cancelled member's old phone
                (CALLER, "+442079469999"),  # not ours at all
            ]
        )
    }
    assert answers == {REJECT}
    assert calls(db) == []


def test_every_call_that_will_not_ring_gets_the_same_reject(
    twilio: TwilioClient, db: Database, vault: NumberVault, enrol: Enrol
) -> None:
    """A dead line, a blocked caller and a refused withheld caller cannot be
    told apart: the same unanswered, unbilled <Reject/>, byte for byte."""
    member = enrol(accept_withheld=False)
    with db.session() as s:
        repo.add_numbers(s, ["+442079460002"])
        repo.block_caller(s, member.id, vault.index(CALLER), "456")
    answers = [
        call_in(twilio, CALLER, sid="CAnr1", line="+442079460002").body,  # unassigned
        call_in(twilio, CALLER, sid="CAnr2").body,  # blocked
        call_in(twilio, "anonymous", sid="CAnr3").body,  # withheld, refused
    ]
    assert answers == [REJECT] * 3
    # Rejected calls to a member's line stay in their call log, marked blocked.
    assert [(c.call_sid, c.blocked) for c in calls(db)] == [("CAnr2", True), ("CAnr3", True)]


# --- the member calling their own number: caller ID opens nothing ------------------


def _without_sids(root: TwiML) -> bytes:
    """The answer with the caller's CallSid taken out of its URLs."""
    return re.sub(rb"call=CA[0-9A-Za-z]+", b"call=SID", root.body)


@pytest.mark.parametrize("situation", ["rings", "blocked", "withheld refused", "dead line"])
def test_members_own_phone_is_answered_like_any_caller_byte_for_byte(
    twilio: TwilioClient, db: Database, vault: NumberVault, member: EnrolledMember, situation: str
) -> None:
    """Spoofing the member's registered phone learns nothing: the answer to
    their Safety Number is the one a stranger gets in the same situation."""
    stranger = "+447911000111"
    with db.session() as s:
        row = s.get_one(Member, member.id)
        if situation == "blocked":  # the member blocked both numbers (as a spoofer might hope)
            for phone in (member.phone, stranger):
                repo.block_caller(s, member.id, vault.index(phone), phone[-3:])
        if situation == "withheld refused":
            row.accept_withheld = False
        if situation == "dead line":
            s.scalars(
                select(SafetyNumber).where(SafetyNumber.e164 == LINE)
            ).one().status = LineStatus.QUARANTINED
    own = call_in(twilio, "020 7946 0123", sid="CAown0001")  # national form of the member's phone
    other = call_in(twilio, stranger, sid="CAother0001")
    assert _without_sids(own) == _without_sids(other)
    assert "Redirect" not in own.verbs and "/voice/menu" not in own.body.decode()


def test_a_member_who_shows_callers_never_sees_their_own_number_as_caller_id(
    twilio: TwilioClient, enrol: Enrol
) -> None:
    """Shown the caller's number by choice, the member's own (spoofed) phone
    still never becomes a callerId: the Safety Number is shown instead."""
    enrol(caller_id_shown="caller")
    dial = call_in(twilio, "+442079460123", sid="CAown0002").one("Dial")
    assert dial.get("callerId") == LINE


def test_another_members_phone_is_an_ordinary_caller(
    twilio: TwilioClient, db: Database, vault: NumberVault, member: EnrolledMember, enrol: Enrol
) -> None:
    enrol(phone="+442079460777", line="+442079460002")
    assert call_in(twilio, "+442079460777").verbs == ["Dial"]


# --- rejected callers ---------------------------------------------------------------


def test_blocked_caller_is_rejected_first(
    twilio: TwilioClient, db: Database, vault: NumberVault, member: EnrolledMember
) -> None:
    with db.session() as s:
        repo.block_caller(s, member.id, vault.index(CALLER), "456")
    root = call_in(twilio)
    assert root.verbs == ["Reject"]
    (row,) = calls(db)
    assert row.blocked and row.member_id == member.id and row.other_party_last3 == "456"


def test_a_block_is_per_member(
    twilio: TwilioClient, db: Database, vault: NumberVault, member: EnrolledMember, enrol: Enrol
) -> None:
    other = enrol(phone="+442079460777", line="+442079460002")
    with db.session() as s:
        repo.block_caller(s, other.id, vault.index(CALLER), "456")
    assert call_in(twilio).verbs == ["Dial"]


@pytest.mark.parametrize("withheld", [None, "", "anonymous", "Restricted", "+266696687", "+7378742833", "12"])
def test_withheld_caller_rejected_when_member_refuses_them(
    twilio: TwilioClient, db: Database, vault: NumberVault, withheld: str | None, enrol: Enrol
) -> None:
    enrol(accept_withheld=False)
    assert call_in(twilio, withheld).verbs == ["Reject"]
    (row,) = calls(db)
    assert row.withheld and row.blocked
    assert row.other_party_index is None and row.other_party_encrypted is None


def test_withheld_caller_rings_when_accepted_and_shows_the_safety_number(
    twilio: TwilioClient, db: Database, vault: NumberVault, enrol: Enrol
) -> None:
    enrol(caller_id_shown="caller")
    root = call_in(twilio, "anonymous")
    assert root.verbs == ["Dial"]
    assert root.find("Dial").get("callerId") == LINE  # type: ignore[union-attr]
    (row,) = calls(db)
    assert row.withheld and not row.blocked and row.other_party_last3 is None


# --- ringing the member -------------------------------------------------------------


def test_rings_the_member_through_a_screened_dial(
    app: Flask,
    twilio: TwilioClient,
    db: Database,
    vault: NumberVault,
    suite: SuiteConfig,
    member: EnrolledMember,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    root = call_in(twilio, sid="CAring01")
    assert "inbound call CAring01: ring" in caplog.text
    assert not re.search(r"\d{4,}", caplog.text)  # no number, not even the line's
    # By default the Dial is the first and only verb: ringback at once, and
    # nothing answers (or bills) the call unless the member accepts.
    assert root.verbs == ["Dial"]
    dial = root[0]
    assert dial.get("answerOnBridge") == "true"
    assert dial.get("ringTone") == "uk"
    assert dial.get("timeout") == str(services_of(app).settings.dial_timeout_seconds)
    assert dial.get("action") == suite.url("/voice/dial_result", "call=CAring01")
    assert dial.get("callerId") == LINE  # default: the member's phone shows their Safety Number
    assert [child.tag for child in dial] == ["Number"]
    number = dial[0]
    assert number.text == member.phone
    assert number.get("url") == suite.url("/voice/whisper", "call=CAring01")
    assert number.get("statusCallback") == suite.url("/voice/status")
    assert number.get("statusCallbackEvent") == "initiated ringing answered completed"

    (row,) = calls(db)
    with db.session() as s:
        line_id = s.scalars(select(SafetyNumber.id).where(SafetyNumber.e164 == LINE)).one()
    assert row.call_sid == "CAring01" and row.direction == "inbound"
    assert row.member_id == member.id and row.safety_number_id == line_id
    assert row.other_party_index == vault.index(CALLER)
    assert row.other_party_encrypted is not None and vault.reveal(row.other_party_encrypted) == CALLER
    assert row.other_party_last3 == "456"
    assert not (row.withheld or row.blocked or row.warned or row.bridged or row.declined)


def test_logged_greeting_is_spoken_before_the_dial_when_the_member_chose_it(
    twilio: TwilioClient, db: Database, vault: NumberVault, enrol: Enrol, suite: SuiteConfig
) -> None:
    enrol(greeting="logged")
    root = call_in(twilio)
    assert root.verbs == ["Say", "Dial"]
    assert root[0].text == prompts.LOGGED_GREETING.text
    assert root[0].text.startswith("Calls to this number are logged for safety.")
    assert root[0].get("voice") == "Polly.Amy" and root[0].get("language") == "en-GB"
    assert root[1].get("answerOnBridge") == "true" and root[1].get("ringTone") == "uk"
    # The greeting answered the call: the Dial's result may speak to the caller.
    assert root[1].get("action") == suite.url("/voice/dial_result", "call=CAin0001&answered=1")


def test_member_may_see_the_callers_own_number(
    twilio: TwilioClient, db: Database, vault: NumberVault, enrol: Enrol
) -> None:
    enrol(caller_id_shown="caller")
    root = call_in(twilio, "07911 123456")
    assert root.find("Dial").get("callerId") == CALLER  # type: ignore[union-attr]


def test_warnings_on_file_mark_the_call(
    twilio: TwilioClient, db: Database, vault: NumberVault, member: EnrolledMember
) -> None:
    with db.session() as s:
        repo.add_warning(s, caller_index=vault.index(CALLER), category="robbery", summary="took the money")
        repo.add_warning(
            s,
            caller_index=vault.index("+447911000000"),
            category="threats",
            summary="expired",
            expires_at=utcnow() - timedelta(days=1),
        )
    call_in(twilio, sid="CAwarn1")
    call_in(twilio, "+447911000000", sid="CAwarn2")
    warned = {row.call_sid: row.warned for row in calls(db)}
    assert warned == {"CAwarn1": True, "CAwarn2": False}


def test_a_retried_webhook_neither_fails_nor_duplicates(
    twilio: TwilioClient, db: Database, vault: NumberVault, member: EnrolledMember
) -> None:
    first = call_in(twilio, sid="CAretry1")
    second = call_in(twilio, sid="CAretry1")
    assert first.body == second.body
    assert [row.call_sid for row in calls(db)] == ["CAretry1"]


def test_a_row_the_call_log_made_first_is_adopted(
    twilio: TwilioClient, db: Database, vault: NumberVault, member: EnrolledMember
) -> None:
    """A status callback may reach the worker before this webhook answers."""
    with db.session() as s:
        s.add(Call(call_sid="CAearly1", direction="inbound", status="completed", last_sequence=3))
    call_in(twilio, sid="CAearly1")
    (row,) = calls(db)
    assert row.member_id == member.id and row.other_party_last3 == "456"
    assert row.status == "completed" and row.last_sequence == 3  # the call log's own fields kept


# --- cost ---------------------------------------------------------------------------------


def test_an_inbound_call_costs_one_indexed_statement(
    twilio: TwilioClient, db: Database, vault: NumberVault, member: EnrolledMember
) -> None:
    """One statement on PostgreSQL: the lookup (line, member, block, warnings)
    and the call-log upsert, every part able to use an index: shown by EXPLAIN
    with sequential scans disabled."""
    with db.session() as s:
        repo.add_warning(s, caller_index=vault.index(CALLER), category="robbery", summary="took the money")
    seen: list[tuple[str, Any]] = []

    def count(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if not re.match(r"\s*(SAVEPOINT|RELEASE|ROLLBACK|BEGIN|COMMIT)", statement, re.IGNORECASE):
            seen.append((statement, parameters))

    # Both ways to the database: SQLAlchemy's engine and the bare driver's
    # statements (storage.statements) that the inbound call uses.
    observers = db.statements.observers  # type: ignore[attr-defined]  # the driver's, on PostgreSQL
    observers.append(lambda _conn, sql, params, _seconds: seen.append((sql, params)))
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert call_in(twilio, sid="CAcount1").verbs == ["Dial"]
    finally:
        observers.clear()
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(seen) == 1, [s for s, _ in seen]
    assert seen[0][0].lstrip().upper().startswith("WITH")
    assert "INSERT INTO calls" in seen[0][0]

    with db.session() as s:
        conn = s.connection()
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        for statement, parameters in seen:
            # EXPLAIN without ANALYZE plans the insert but does not run it.
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            assert "Seq Scan" not in plan, plan


def test_tables_keep_the_indexes_the_lookup_needs(db: Database) -> None:
    with db.session() as s:
        rows = s.execute(text("SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public'")).all()
    found = {(table, "UNIQUE" in d, d[d.rindex("(") + 1 : d.rindex(")")]) for table, d in rows}
    assert {
        ("safety_numbers", True, "e164"),
        ("blocks", True, "member_id, caller_index"),
        ("warnings", False, "caller_index"),
        ("calls", True, "call_sid"),
    } <= found


# --- a member whose phone was erased -----------------------------------------------


def test_member_without_a_phone_is_a_dead_line(
    twilio: TwilioClient, db: Database, vault: NumberVault, member: EnrolledMember
) -> None:
    dead = call_in(twilio, line="+442079469999", sid="CAdead1").body
    with db.session() as s:
        s.get(Member, member.id).phone_encrypted = None  # type: ignore[union-attr]
    assert call_in(twilio, sid="CAerased").body == dead
    assert calls(db) == []


# --- the same queries on SQLite (the embedded default) ------------------------------


def test_lookup_and_idempotent_row_on_both_databases(any_db: Database, vault: NumberVault) -> None:
    from callflows.inbound import InboundOutcome, Screening
    from callflows.phone import Caller
    from storage import inbound_repository

    member = enroll_on(any_db, vault)
    access_line = add_access_line(any_db)
    index = vault.index(CALLER)
    with any_db.session() as s:
        repo.block_caller(s, member.id, index, "456")
        repo.add_warning(s, caller_index=index, category="robbery", summary="took the money")

    def look(line: str, caller: str | None, sid: str = "") -> Screening:
        return inbound_repository.screen_and_log(
            any_db.statements, vault, line_e164=line, caller=Caller(caller), call_sid=sid
        )

    assert look(LINE, CALLER).outcome is InboundOutcome.REJECT  # blocked
    ringing = look(LINE, None)
    assert ringing.outcome is InboundOutcome.RING and ringing.member_phone == member.phone
    assert look("+442079469999", CALLER, "CAnowhere").outcome is InboundOutcome.UNAVAILABLE
    assert look(LINE, member.phone).outcome is InboundOutcome.RING  # the member's own phone: a caller
    assert look(access_line, member.phone).outcome is InboundOutcome.ACCESS
    for _ in range(2):  # a retried webhook: one row
        assert look(LINE, CALLER, "CAboth1").outcome is InboundOutcome.REJECT
    (row,) = calls(any_db)
    assert (row.call_sid, row.blocked, row.warned, row.other_party_last3) == ("CAboth1", True, True, "456")
    with any_db.session() as s:
        assert inbound_repository.inbound_call(s, "CAboth1") is not None
        assert inbound_repository.inbound_call(s, "") is None


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_on_a_real_engine_the_two_statements_commit_on_their_own(
    pg_url: str,
    pg_engine: Engine,
    make_app: Callable[..., Flask],
    suite: SuiteConfig,
    tmp_path: Path,
    dialect: str,
) -> None:
    """Outside the tests' rolled-back transaction (as in production and the
    embedded demo) the lookup and the upsert run on a standalone connection:
    no BEGIN or COMMIT (autocommit on PostgreSQL), and the call-log row is
    durable (another connection sees it) without any commit. (``pg_engine``:
    the migrated test database.)"""
    from sqlalchemy import create_engine

    from storage.migrate import upgrade
    from storage.models import Block, SafetyNumber

    url = pg_url if dialect == "postgresql" else f"sqlite:///{tmp_path}/standalone.db"
    db = committing_database(url) if dialect == "postgresql" else Database(url)
    if dialect == "sqlite":
        upgrade(db.engine)
    app = make_app(database=db)
    member = enroll_on(db, services_of(app).vault, phone="+442079460177", line="+442079460077")
    seen: list[tuple[str, bool | None]] = []

    def note(conn, _cursor, statement, _parameters, _context, _many) -> None:
        seen.append(
            (statement.split()[0].upper(), getattr(conn.connection.dbapi_connection, "autocommit", None))
        )

    def note_driver(conn, statement, _parameters, _seconds) -> None:
        seen.append((statement.split()[0].upper(), conn.autocommit))

    event.listen(db.engine, "before_cursor_execute", note)
    if dialect == "postgresql":  # the bare driver's statements, beside the engine's
        db.statements.observers.append(note_driver)  # type: ignore[attr-defined]
    try:
        answer = call_in(TwilioClient(app.test_client(), suite), sid="CAstandalone", line="+442079460077")
        assert answer.verbs == ["Dial"]
        # One statement on PostgreSQL, in autocommit; on SQLite the lookup,
        # then the insert, with no BEGIN before them.
        expected = [("WITH", True)] if dialect == "postgresql" else [("SELECT", None), ("INSERT", None)]
        assert seen == expected
        other = create_engine(url)  # a separate pool: sees only what was committed
        with other.connect() as conn:
            row = conn.execute(
                select(Call.member_id, Call.other_party_last3).where(Call.call_sid == "CAstandalone")
            ).one()
        other.dispose()
        assert tuple(row) == (member.id, "456")
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
        with db.session() as s:
            s.execute(delete(Call).where(Call.member_id == member.id))
            s.execute(delete(Block).where(Block.member_id == member.id))
            s.execute(delete(SafetyNumber).where(SafetyNumber.member_id == member.id))
            s.execute(delete(Member).where(Member.id == member.id))
        db.engine.dispose()
