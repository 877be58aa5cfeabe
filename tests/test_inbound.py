"""POST /voice/incoming: dead lines, the member's own phone, rejections, and
ringing the member through a screened, masked <Dial>."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, text

from callflows import prompts
from callflows.status import Greeting
from storage import repositories as repo
from storage.db import Database
from storage.models import Call, LineStatus, Member, SafetyNumber, utcnow
from tests.conftest import PUBLIC_BASE_URL
from tests.voice_helpers import parse_twiml, post_twilio, seed_member, verbs

MEMBER_PHONE = "+442079460123"
LINE = "+442079460001"
CALLER = "+447911123456"


@pytest.fixture
def vault(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["safety"].vault


def call_in(client: FlaskClient, caller: str | None = CALLER, *, sid: str = "CAin0001", line: str = LINE):  # type: ignore[no-untyped-def]
    form = {"CallSid": sid, "To": line, "CallStatus": "ringing", "Direction": "inbound"}
    if caller is not None:
        form["From"] = caller
    return post_twilio(client, "/voice/incoming", form)


def calls(db: Database) -> list[Call]:
    with db.session() as s:
        return list(s.scalars(select(Call).order_by(Call.id)))


# --- lines nobody is behind ---------------------------------------------------------


def test_dead_lines_all_get_one_identical_answer(client: FlaskClient, db: Database, vault) -> None:
    with db.session() as s:
        repo.add_numbers(s, ["+442079460002"])  # in the pool, never assigned
    seed_member(db, vault, phone="+442079460124", line="+442079460003")
    seed_member(db, vault, phone="+442079460125", line="+442079460004")
    with db.session() as s:
        # one cancelled member (their line is quarantined) ...
        member = repo.member_by_phone(s, vault, "+442079460124")
        assert member is not None
        repo.cancel_member(s, member)
        # ... and one line quarantined by staff with the member still on it.
        line = s.scalars(select(SafetyNumber).where(SafetyNumber.e164 == "+442079460004")).one()
        line.status = LineStatus.QUARANTINED

    answers = {
        call_in(client, caller, sid=f"CAdead{i}", line=line).get_data()
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
    assert len(answers) == 1
    root = parse_twiml(call_in(client, line="+442079460002", sid="CAdeadX"))
    assert verbs(root) == ["Say", "Hangup"]
    assert root[0].text == "The number you have called is not available. Goodbye."
    assert calls(db) == []


# --- the member calling their own number ------------------------------------------


def test_members_own_phone_goes_to_the_menu(client: FlaskClient, db: Database, vault) -> None:
    seed_member(db, vault, phone=MEMBER_PHONE, line=LINE)
    root = parse_twiml(call_in(client, "020 7946 0123"))  # national form of the same phone
    assert verbs(root) == ["Redirect"]
    redirect = root[0]
    assert redirect.get("method") == "POST"
    assert redirect.text == f"{PUBLIC_BASE_URL}/voice/menu/start"
    # The member's own call is not a "last caller"; the menu logs it after the PIN.
    assert calls(db) == []


def test_another_members_phone_is_an_ordinary_caller(client: FlaskClient, db: Database, vault) -> None:
    seed_member(db, vault, phone=MEMBER_PHONE, line=LINE)
    seed_member(db, vault, phone="+442079460777", line="+442079460002")
    assert verbs(parse_twiml(call_in(client, "+442079460777"))) == ["Say", "Dial"]


# --- rejected callers ---------------------------------------------------------------


def test_blocked_caller_is_rejected_first(client: FlaskClient, db: Database, vault) -> None:
    member_id, _ = seed_member(db, vault, phone=MEMBER_PHONE, line=LINE)
    with db.session() as s:
        repo.block_caller(s, member_id, vault.index(CALLER), "456")
    root = parse_twiml(call_in(client))
    assert verbs(root) == ["Reject"]
    (row,) = calls(db)
    assert row.blocked and row.member_id == member_id and row.other_party_last3 == "456"


def test_a_block_is_per_member(client: FlaskClient, db: Database, vault) -> None:
    seed_member(db, vault, phone=MEMBER_PHONE, line=LINE)
    other_id, _ = seed_member(db, vault, phone="+442079460777", line="+442079460002")
    with db.session() as s:
        repo.block_caller(s, other_id, vault.index(CALLER), "456")
    assert verbs(parse_twiml(call_in(client))) == ["Say", "Dial"]


@pytest.mark.parametrize("withheld", [None, "", "anonymous", "Restricted", "+266696687", "+7378742833", "12"])
def test_withheld_caller_rejected_when_member_refuses_them(
    client: FlaskClient, db: Database, vault, withheld: str | None
) -> None:
    seed_member(db, vault, phone=MEMBER_PHONE, line=LINE, accept_withheld=False)
    assert verbs(parse_twiml(call_in(client, withheld))) == ["Reject"]
    (row,) = calls(db)
    assert row.withheld and row.blocked
    assert row.other_party_index is None and row.other_party_encrypted is None


def test_withheld_caller_rings_when_accepted_and_shows_the_safety_number(
    client: FlaskClient, db: Database, vault
) -> None:
    seed_member(db, vault, phone=MEMBER_PHONE, line=LINE, caller_id_shown="caller")
    root = parse_twiml(call_in(client, "anonymous"))
    assert verbs(root) == ["Say", "Dial"]
    assert root.find("Dial").get("callerId") == LINE  # type: ignore[union-attr]
    (row,) = calls(db)
    assert row.withheld and not row.blocked and row.other_party_last3 is None


# --- ringing the member -------------------------------------------------------------


def test_rings_the_member_through_a_screened_dial(
    app: Flask, client: FlaskClient, db: Database, vault, caplog: pytest.LogCaptureFixture
) -> None:
    member_id, _ = seed_member(db, vault, phone=MEMBER_PHONE, line=LINE)
    caplog.set_level(logging.DEBUG)
    root = parse_twiml(call_in(client, sid="CAring01"))
    assert "inbound call CAring01: ring" in caplog.text
    assert not re.search(r"\d{4,}", caplog.text)  # no number, not even the line's
    assert verbs(root) == ["Say", "Dial"]
    assert root[0].text == prompts.GREETINGS[Greeting.NEUTRAL]
    assert root[0].get("voice") == "Polly.Amy" and root[0].get("language") == "en-GB"

    dial = root[1]
    assert dial.get("answerOnBridge") == "true"
    assert dial.get("timeout") == str(app.extensions["safety"].settings.dial_timeout_seconds)
    assert dial.get("action") == f"{PUBLIC_BASE_URL}/voice/dial_result?call=CAring01"
    assert dial.get("callerId") == LINE  # default: the member's phone shows their Safety Number
    assert [child.tag for child in dial] == ["Number"]
    number = dial[0]
    assert number.text == MEMBER_PHONE
    assert number.get("url") == f"{PUBLIC_BASE_URL}/voice/whisper?call=CAring01"
    assert number.get("statusCallback") == f"{PUBLIC_BASE_URL}/voice/status"
    assert number.get("statusCallbackEvent") == "initiated ringing answered completed"

    (row,) = calls(db)
    with db.session() as s:
        line_id = s.scalars(select(SafetyNumber.id).where(SafetyNumber.e164 == LINE)).one()
    assert row.call_sid == "CAring01" and row.direction == "inbound"
    assert row.member_id == member_id and row.safety_number_id == line_id
    assert row.other_party_index == vault.index(CALLER)
    assert vault.reveal(row.other_party_encrypted) == CALLER
    assert row.other_party_last3 == "456"
    assert not (row.withheld or row.blocked or row.warned or row.bridged or row.declined)


def test_logged_greeting(client: FlaskClient, db: Database, vault) -> None:
    seed_member(db, vault, phone=MEMBER_PHONE, line=LINE, greeting="logged")
    root = parse_twiml(call_in(client))
    assert root[0].tag == "Say"
    assert root[0].text is not None and root[0].text.startswith("Calls to this number are logged for safety.")


def test_member_may_see_the_callers_own_number(client: FlaskClient, db: Database, vault) -> None:
    seed_member(db, vault, phone=MEMBER_PHONE, line=LINE, caller_id_shown="caller")
    root = parse_twiml(call_in(client, "07911 123456"))
    assert root.find("Dial").get("callerId") == CALLER  # type: ignore[union-attr]


def test_warnings_on_file_mark_the_call(client: FlaskClient, db: Database, vault) -> None:
    seed_member(db, vault, phone=MEMBER_PHONE, line=LINE)
    with db.session() as s:
        repo.add_warning(s, caller_index=vault.index(CALLER), category="robbery", summary="took the money")
        repo.add_warning(
            s,
            caller_index=vault.index("+447911000000"),
            category="threats",
            summary="expired",
            expires_at=utcnow() - timedelta(days=1),
        )
    call_in(client, sid="CAwarn1")
    call_in(client, "+447911000000", sid="CAwarn2")
    warned = {row.call_sid: row.warned for row in calls(db)}
    assert warned == {"CAwarn1": True, "CAwarn2": False}


def test_a_retried_webhook_neither_fails_nor_duplicates(client: FlaskClient, db: Database, vault) -> None:
    seed_member(db, vault, phone=MEMBER_PHONE, line=LINE)
    first = call_in(client, sid="CAretry1")
    second = call_in(client, sid="CAretry1")
    assert first.get_data() == second.get_data()
    assert [row.call_sid for row in calls(db)] == ["CAretry1"]


def test_a_row_the_call_log_made_first_is_adopted(client: FlaskClient, db: Database, vault) -> None:
    """A status callback may reach the worker before this webhook answers."""
    member_id, _ = seed_member(db, vault, phone=MEMBER_PHONE, line=LINE)
    with db.session() as s:
        s.add(Call(call_sid="CAearly1", direction="inbound", status="completed", last_sequence=3))
    call_in(client, sid="CAearly1")
    (row,) = calls(db)
    assert row.member_id == member_id and row.other_party_last3 == "456"
    assert row.status == "completed" and row.last_sequence == 3  # the call log's own fields kept


# --- cost ---------------------------------------------------------------------------------


def test_an_inbound_call_costs_one_indexed_statement(client: FlaskClient, db: Database, vault) -> None:
    """One statement on PostgreSQL: the lookup (line, member, block, warnings)
    and the call-log upsert, every part able to use an index: shown by EXPLAIN
    with sequential scans disabled."""
    seed_member(db, vault, phone=MEMBER_PHONE, line=LINE)
    with db.session() as s:
        repo.add_warning(s, caller_index=vault.index(CALLER), category="robbery", summary="took the money")
    engine = db.engine
    seen: list[tuple[str, object]] = []

    def count(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if not re.match(r"\s*(SAVEPOINT|RELEASE|ROLLBACK|BEGIN|COMMIT)", statement, re.IGNORECASE):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert verbs(parse_twiml(call_in(client, sid="CAcount1"))) == ["Say", "Dial"]
    finally:
        event.remove(engine, "before_cursor_execute", count)
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


def test_member_without_a_phone_is_a_dead_line(client: FlaskClient, db: Database, vault) -> None:
    member_id, _ = seed_member(db, vault, phone=MEMBER_PHONE, line=LINE)
    dead = call_in(client, line="+442079469999", sid="CAdead1").get_data()
    with db.session() as s:
        s.get(Member, member_id).phone_encrypted = None  # type: ignore[union-attr]
    assert call_in(client, sid="CAerased").get_data() == dead
    assert calls(db) == []


# --- the same queries on SQLite (the embedded default) ------------------------------


def test_lookup_and_idempotent_row_on_both_databases(any_db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from callflows.inbound import InboundOutcome, Screening
    from callflows.phone import Caller
    from ivr import create_app
    from storage import inbound_repository
    from tests.conftest import base_config

    vault = create_app({**base_config(tmp_path), "database": any_db}).extensions["safety"].vault
    member_id, _ = seed_member(any_db, vault, phone=MEMBER_PHONE, line=LINE)
    index = vault.index(CALLER)
    with any_db.session() as s:
        repo.block_caller(s, member_id, index, "456")
        repo.add_warning(s, caller_index=index, category="robbery", summary="took the money")
    with any_db.session() as s:
        connection = s.connection()

        def look(line: str, caller: str | None, sid: str = "") -> Screening:
            return inbound_repository.screen_and_log(
                connection, vault, line_e164=line, caller=Caller(caller), call_sid=sid
            )

        assert look(LINE, CALLER).outcome is InboundOutcome.REJECT  # blocked
        ringing = look(LINE, None)
        assert ringing.outcome is InboundOutcome.RING and ringing.member_phone == MEMBER_PHONE
        assert look("+442079469999", CALLER, "CAnowhere").outcome is InboundOutcome.UNAVAILABLE
        assert look(LINE, MEMBER_PHONE, "CAmember").outcome is InboundOutcome.MEMBER_MENU  # no row
        for _ in range(2):  # a retried webhook: one row
            assert look(LINE, CALLER, "CAboth1").outcome is InboundOutcome.REJECT
    (row,) = calls(any_db)
    assert (row.call_sid, row.blocked, row.warned, row.other_party_last3) == ("CAboth1", True, True, "456")
    with any_db.session() as s:
        assert inbound_repository.inbound_call(s, "CAboth1") is not None
        assert inbound_repository.inbound_call(s, "") is None


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_on_a_real_engine_the_two_statements_commit_on_their_own(
    pg_url: str, pg_engine, tmp_path, dialect: str
) -> None:  # type: ignore[no-untyped-def]
    """Outside the tests' rolled-back transaction (as in production and the
    embedded demo) the lookup and the upsert run on a standalone connection:
    no BEGIN or COMMIT (autocommit on PostgreSQL), and the call-log row is
    durable (another connection sees it) without any commit. (``pg_engine``:
    the migrated test database.)"""
    from sqlalchemy import create_engine

    from ivr import create_app
    from storage.migrate import upgrade
    from storage.models import Block, SafetyNumber
    from tests.conftest import base_config
    from tests.worker_helpers import committing_database

    url = pg_url if dialect == "postgresql" else f"sqlite:///{tmp_path}/standalone.db"
    db = committing_database(url) if dialect == "postgresql" else Database(url)
    if dialect == "sqlite":
        upgrade(db.engine)
    app = create_app({**base_config(tmp_path), "database": db})
    vault = app.extensions["safety"].vault
    member_id, _ = seed_member(db, vault, phone="+442079460177", line="+442079460077")
    seen: list[tuple[str, bool | None]] = []

    def note(conn, _cursor, statement, _parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        seen.append(
            (statement.split()[0].upper(), getattr(conn.connection.dbapi_connection, "autocommit", None))
        )

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        answer = call_in(app.test_client(), sid="CAstandalone", line="+442079460077")
        assert verbs(parse_twiml(answer)) == ["Say", "Dial"]
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
        assert tuple(row) == (member_id, "456")
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
        with db.session() as s:
            s.execute(Call.__table__.delete().where(Call.member_id == member_id))
            s.execute(Block.__table__.delete().where(Block.member_id == member_id))
            s.execute(SafetyNumber.__table__.delete().where(SafetyNumber.member_id == member_id))
            s.execute(Member.__table__.delete().where(Member.id == member_id))
        db.engine.dispose()
