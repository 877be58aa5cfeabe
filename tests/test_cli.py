"""The provisioning CLI: the happy path, and every bad input writes nothing."""

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from ivr.services import services_of
from storage import repositories as repo
from storage.db import Database
from storage.models import Base, CallerWarning, Member, SafetyNumber, Staff
from tests.support.suite import SuiteConfig
from tests.test_storage import dump_all_tables


def counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {
            t.name: s.execute(select(t).with_only_columns(t.c[0])).all().__len__()
            for t in Base.metadata.sorted_tables
        }


@pytest.fixture
def enrolled(runner: FlaskCliRunner) -> str:
    assert runner.invoke(args=["numbers", "add", "+442079460001", "020 7946 0002"]).exit_code == 0
    result = runner.invoke(
        args=["members", "enrol", "--name", "Ruby", "--phone", "020 7946 0123", "--pin", "4821"]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_enrol_prints_the_safety_number_and_no_table_holds_the_real_one(enrolled: str, db: Database) -> None:
    assert "Safety Number +442079460001" in enrolled
    assert "7946 0123" not in enrolled and "2079460123" not in enrolled
    dump = dump_all_tables(db)
    assert "2079460123" not in dump
    assert "+442079460123" not in dump


def test_members_list_never_shows_the_real_number(runner: FlaskCliRunner, enrolled: str) -> None:
    out = runner.invoke(args=["members", "list"]).output
    assert "Ruby" in out and "+442079460001" in out and "active" in out
    assert "0123" not in out


BAD_INPUTS: list[tuple[list[str], str]] = [
    (["members", "enrol", "--name", "Jade", "--phone", "020 7946 0123", "--pin", "4821"], "already enrolled"),
    (
        ["members", "enrol", "--name", "Jade", "--phone", "07700 900123", "--pin", "4821"],
        "not a working phone number",
    ),
    (["members", "enrol", "--name", "Jade", "--phone", "020 7946 0555", "--pin", "12"], "at least 4 digits"),
    (
        ["members", "enrol", "--name", "Jade", "--phone", "020 7946 0555", "--pin", "12ab"],
        "at least 4 digits",
    ),
    *(
        (["members", "enrol", "--name", "Jade", "--phone", "020 7946 0555", "--pin", pin], "too easy")
        for pin in ("0000", "1234", "9876", "012345", "0555", "460555")
    ),
    (["members", "cancel", "999"], "no active member"),
    (["members", "cancel", "020 7946 0999"], "no active member"),
    (["numbers", "add", "+442079460001"], "already in the pool"),
    (["numbers", "add", "+442079460003", "not-a-number"], "not a phone number"),
    (
        ["warnings", "add", "--number", "12", "--category", "threats", "--summary", "x"],
        "not a working phone number",
    ),
    (["warnings", "add", "--number", "020 7946 0999", "--category", "arson", "--summary", "x"], "arson"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS)
def test_bad_input_fails_clearly_and_writes_nothing(
    runner: FlaskCliRunner, db: Database, enrolled: str, args: list[str], message: str
) -> None:
    before = counts(db)
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    assert message in result.stderr
    assert counts(db) == before


def test_empty_pool_fails_and_writes_nothing(runner: FlaskCliRunner, db: Database, enrolled: str) -> None:
    runner.invoke(args=["members", "enrol", "--name", "Amber", "--phone", "020 7946 0124", "--pin", "4821"])
    before = counts(db)
    result = runner.invoke(
        args=["members", "enrol", "--name", "Jade", "--phone", "020 7946 0125", "--pin", "4821"]
    )
    assert result.exit_code == 1
    assert "no free Safety Number" in result.stderr
    assert counts(db) == before


def test_cancel_by_phone_erases_and_quarantines(runner: FlaskCliRunner, db: Database, enrolled: str) -> None:
    result = runner.invoke(args=["members", "cancel", "020 7946 0123"])
    assert result.exit_code == 0, result.output
    with db.session() as s:
        member = s.scalars(select(Member)).one()
        assert member.status == "cancelled" and member.working_name is None
        line = s.scalars(select(SafetyNumber).where(SafetyNumber.e164 == "+442079460001")).one()
        assert line.status == "quarantined" and line.member_id is None


def test_warning_is_stored_by_blind_index_with_sanitised_text(
    runner: FlaskCliRunner, db: Database, app: Flask
) -> None:
    result = runner.invoke(
        args=[
            "warnings",
            "add",
            "--number",
            "020 7946 0999",
            "--category",
            "threats",
            "--summary",
            "Threatened <b>violence</b>; also uses 020 7946 0998",
        ]
    )
    assert result.exit_code == 0, result.output
    vault = services_of(app).vault
    with db.session() as s:
        warning = s.scalars(select(CallerWarning)).one()
        assert warning.caller_index == vault.index("+442079460999")
        assert warning.summary == "Threatened violence ; also uses [number ending 998]"
    assert "2079460999" not in dump_all_tables(db)


def test_staff_add_reads_password_from_stdin_and_hashes_it(runner: FlaskCliRunner, db: Database) -> None:
    result = runner.invoke(
        args=["staff", "add", "--email", "Case@Example.org", "--role", "caseworker"],
        input="correct horse battery\n",
    )
    assert result.exit_code == 0, result.output
    with db.session() as s:
        staff = s.scalars(select(Staff)).one()
    assert staff.email == "case@example.org" and staff.role == "caseworker"
    assert "correct horse" not in staff.password_hash and staff.password_hash.startswith("$argon2")


def test_staff_add_rejects_short_password(runner: FlaskCliRunner, db: Database) -> None:
    before = counts(db)
    result = runner.invoke(args=["staff", "add", "--email", "a@b.org", "--role", "admin"], input="short\n")
    assert result.exit_code != 0 and "at least 10" in result.stderr
    assert counts(db) == before


def test_key_rotation_keeps_old_data_readable_and_reencrypts(
    db: Database, suite: SuiteConfig, make_app: Callable[..., Flask], runner: FlaskCliRunner, enrolled: str
) -> None:
    from storage.crypto import FieldCipher

    # The member was enrolled under the suite's data key; now NEW becomes the newest key.
    new_key = "mK6S4y3U9qV0cX2bN8aL5dF7gH1jR3tW6zE9pQ0oI2s="
    rotated_app = make_app(SAFETY_DATA_KEYS=f"{new_key},{suite.data_key},{suite.old_data_key}")
    vault = services_of(rotated_app).vault
    with db.session() as s:
        token = s.scalars(select(Member.phone_encrypted)).one()
    assert token is not None
    assert vault.reveal(token) == "+442079460123"  # old data still readable
    assert not vault.cipher.is_current(token)
    result = rotated_app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0 and "re-encrypted 1" in result.output
    with db.session() as s:
        new_token = s.scalars(select(Member.phone_encrypted)).one()
        assert new_token is not None
        assert repo.member_by_phone(s, vault, "+442079460123") is not None
    assert FieldCipher([new_key]).decrypt(new_token) == "+442079460123"
    # After rotation the old key alone can no longer read it.
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidToken
        FieldCipher([suite.data_key]).decrypt(new_token)


def test_key_rotation_reencrypts_stored_recordings(
    db: Database, suite: SuiteConfig, make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    from core.services import recording_store
    from storage.crypto import FieldCipher
    from storage.models import Report

    old_app = make_app()
    key = recording_store(services_of(old_app)).put("RE0001", b"RIFF-audio")
    with db.session() as s:
        s.add(Report(recording_sid="RE0001", recording_state="stored", recording_path=key))
    new_key = "mK6S4y3U9qV0cX2bN8aL5dF7gH1jR3tW6zE9pQ0oI2s="
    new_app = make_app(SAFETY_DATA_KEYS=f"{new_key},{suite.data_key}")
    result = new_app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 recording(s) of 1" in result.output
    stored = (tmp_path / "recordings" / key).read_bytes()
    assert FieldCipher([new_key]).decrypt_bytes(stored) == b"RIFF-audio"
