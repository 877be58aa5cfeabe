"""Storage on PostgreSQL and SQLite: encryption at rest, idempotency keys."""

from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from storage import repositories as repo
from storage.db import Database
from storage.models import Base, Call, CallEvent, LineStatus, Member, Report
from storage.vault import NumberVault

PHONE = "+442079460123"


def dump_all_tables(db: Database) -> str:
    """Every value of every table as one string."""
    out = []
    with db.session() as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(table.select()):
                out.append(repr(tuple(row)))
    return "\n".join(out)


def test_enrolled_phone_is_never_stored_in_plaintext(any_db: Database, vault: NumberVault) -> None:
    with any_db.session() as s:
        repo.add_numbers(s, ["+442079460001"])
        member, line = repo.enrol_member(s, vault, name="Ruby", phone_e164=PHONE, pin="4821")
        assert line.status == LineStatus.ASSIGNED and line.member_id == member.id
    dump = dump_all_tables(any_db)
    assert "2079460123" not in dump
    assert "+442079460001" in dump  # the Safety Number itself is public
    with any_db.session() as s:
        found = repo.member_by_phone(s, vault, PHONE)
        assert found is not None
        assert vault.reveal(found.phone_encrypted or "") == PHONE
        assert found.pin_hash and "4821" not in found.pin_hash


def test_callsid_is_unique(any_db: Database) -> None:
    with pytest.raises(IntegrityError), any_db.session() as s:
        s.add_all([Call(call_sid="CA1", direction="inbound"), Call(call_sid="CA1", direction="inbound")])
        s.flush()


def test_callsid_and_sequence_number_are_unique_together(any_db: Database) -> None:
    with any_db.session() as s:
        s.add_all(
            [
                CallEvent(call_sid="CA1", sequence_number=0, status="ringing"),
                CallEvent(call_sid="CA1", sequence_number=1, status="completed"),
            ]
        )
    with pytest.raises(IntegrityError), any_db.session() as s:
        s.add(CallEvent(call_sid="CA1", sequence_number=1, status="completed"))
        s.flush()


def test_recording_sid_is_unique(any_db: Database) -> None:
    with pytest.raises(IntegrityError), any_db.session() as s:
        s.add_all([Report(recording_sid="RE1"), Report(recording_sid="RE1")])
        s.flush()


def test_cancel_erases_personal_data_and_quarantines_number(any_db: Database, vault: NumberVault) -> None:
    with any_db.session() as s:
        repo.add_numbers(s, ["+442079460001"])
        member, _line = repo.enrol_member(s, vault, name="Ruby", phone_e164=PHONE, pin="4821")
        repo.block_caller(s, member.id, vault.index("+442079460999"), "999")
        repo.cancel_member(s, member)
    with any_db.session() as s:
        m = s.scalars(select(Member)).one()
        assert (m.working_name, m.phone_encrypted, m.phone_index, m.pin_hash) == (None,) * 4
        assert m.status == "cancelled"
        assert repo.line_by_number(s, "+442079460001").status == LineStatus.QUARANTINED  # type: ignore[union-attr]
    assert "Ruby" not in dump_all_tables(any_db)


def test_migrations_match_the_models(any_db: Database) -> None:
    """What Alembic built is what the models declare, on both databases."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with any_db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        tables = set(inspect(conn).get_table_names())
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert diff == []
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    assert version is not None


def test_migration_0003_gives_members_who_never_chose_a_greeting_none(tmp_path: Path) -> None:
    """The old default "neutral" answered (and billed) every call: those
    members get no greeting; a member who chose "logged" keeps it."""
    from sqlalchemy import create_engine

    from storage.migrate import upgrade

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0002")
    insert = text(
        "INSERT INTO members (status, greeting, accept_withheld, caller_id_shown, pin_failures, created_at)"
        " VALUES ('active', :greeting, true, 'safety_number', 0, '2026-01-01')"
    )
    with engine.begin() as conn:
        conn.execute(insert, [{"greeting": "neutral"}, {"greeting": "logged"}])
    upgrade(engine, "head")
    with engine.connect() as conn:
        greetings = conn.execute(text("SELECT greeting FROM members ORDER BY id")).scalars().all()
    assert greetings == ["none", "logged"]
    engine.dispose()
