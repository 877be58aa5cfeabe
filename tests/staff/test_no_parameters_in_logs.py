"""Database errors never put a member's data in the logs (issue 12, item 5).

The attack: a NUL byte in a member's name made PostgreSQL refuse the insert,
and the 500 it caused logged the statement's parameters at default level —
the name, the encrypted phone, the blind index and the Argon2 hash of a
4 to 6 digit PIN. Now text with control characters is refused with a 400
before anything reaches the database, engines hide statement parameters,
and the app's exception log carries neither messages nor request data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from ivr import services_of
from ivr.requestdb import session as request_session
from storage import repositories as repo
from storage.db import Database, make_engine
from storage.hashing import hash_secret
from storage.models import CallerWarning, Member, Report, Staff
from tests.staff.helpers import PASSWORD, People, make_report, post

NAME = "Ruby Starling"
PHONE = "+447911123456"


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    # The formatted message and any traceback a handler would write.
    formatter = logging.Formatter("%(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


def _secrets(app: Flask) -> list[str]:
    vault = services_of(app).vault
    return [NAME, "Ruby", "911123456", vault.index(PHONE), "$argon2", "gAAAAA"]


def _pool(app: Flask) -> None:
    with services_of(app).db.session() as s:
        repo.add_numbers(s, ["+442079460001"])


def test_the_attack_a_nul_in_a_name_is_refused_with_a_clear_400_and_logs_nothing(
    inline_app: Flask, admin: FlaskClient, logged: pytest.LogCaptureFixture
) -> None:
    inline_app.config["PROPAGATE_EXCEPTIONS"] = False  # log as production does
    _pool(inline_app)
    response = post(
        admin,
        "/staff/members/new",
        {"name": "Ruby\x00Starling", "phone": "07911 123456", "pin": "4821"},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "“name” contains a character that cannot be stored (NUL)" in page
    with services_of(inline_app).db.session() as s:
        assert s.scalars(select(Member)).all() == []
    log = _log_text(logged)
    for secret in _secrets(inline_app):
        assert secret not in log


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/staff/reports/{report}/update", {"status": "in_review", "notes": "a\x07b"}),
        ("/staff/reports?category=threats%00", None),
        ("/staff/members?offset=1%1b", None),
        ("/staff/members/new", {"name": "Ruby\u202eStarling", "phone": "07911 123456"}),
        ("/staff/members/new", {"name\x00": "Ruby", "phone": "07911 123456"}),
    ],
)
def test_control_characters_in_any_field_get_a_400_and_change_nothing(
    inline_app: Flask, db: Database, admin: FlaskClient, path: str, data: dict[str, str] | None
) -> None:
    _pool(inline_app)
    report = make_report(db, notes="as it was")
    path = path.format(report=report)
    response = admin.get(path) if data is None else post(admin, path, data)
    assert response.status_code == 400
    assert "contains a character that cannot be stored" in response.get_data(as_text=True)
    with db.session() as s:
        assert s.scalars(select(Member)).all() == []
        assert s.scalars(select(Report.notes)).one() == "as it was"


def test_sign_in_with_a_nul_is_refused_before_the_account_is_looked_up(
    anon: FlaskClient, people: People
) -> None:
    response = post(anon, "/staff/login", {"email": "admin@example.org\x00", "password": PASSWORD})
    assert response.status_code == 400
    assert "“email” contains a character that cannot be stored (NUL)" in response.get_data(as_text=True)


def test_line_breaks_and_tabs_stay_allowed_in_a_form(db: Database, admin: FlaskClient) -> None:
    report = make_report(db)
    response = post(
        admin, f"/staff/reports/{report}/update", {"status": "new", "notes": "Took cash.\r\nDrives\ta van"}
    )
    assert response.status_code == 302
    with db.session() as s:
        assert s.scalars(select(Report.notes)).one() == "Took cash.\nDrives a van"


def test_engines_hide_statement_parameters(pg_url: str, tmp_path) -> None:
    for url in (pg_url, f"sqlite:///{tmp_path / 'x.db'}"):
        engine: Engine = make_engine(url)
        try:
            assert engine.hide_parameters
        finally:
            engine.dispose()


def test_a_failing_statement_does_not_quote_its_parameters(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn, pytest.raises(DBAPIError) as caught:
            conn.execute(text("SELECT CAST(:name AS text)"), {"name": "Ruby\x00Starling"})
    finally:
        engine.dispose()
    assert "Ruby" not in str(caught.value)
    assert "parameters hidden" in str(caught.value)


@pytest.mark.parametrize("error", ["nul", "duplicate"])
def test_a_database_error_behind_a_staff_page_logs_no_data(
    inline_app: Flask, admin: FlaskClient, logged: pytest.LogCaptureFixture, error: str
) -> None:
    """The guard aside, a database error that does happen logs no data.

    A probe view stands in for a page whose input passed every check: it
    writes a member whose row PostgreSQL refuses — one with a NUL byte in
    the name, or one whose blind index is already taken (the error's DETAIL
    then quotes that index).
    """
    inline_app.config["PROPAGATE_EXCEPTIONS"] = False
    _pool(inline_app)
    vault = services_of(inline_app).vault
    if error == "duplicate":
        with services_of(inline_app).db.session() as s:
            repo.enrol_member(s, vault, name="Other", phone_e164=PHONE, pin="4821")

    def probe() -> str:
        """Writes the refused row through the request's own session."""
        protected = vault.protect(PHONE)
        name = "Ruby\x00Starling" if error == "nul" else NAME
        session = request_session()
        session.add(
            Member(
                working_name=name,
                phone_encrypted=protected.token,
                phone_index=protected.index,
                pin_hash=hash_secret("4821"),
            )
        )
        session.flush()
        return "written"

    inline_app.add_url_rule("/probe/enrol", view_func=probe, methods=["POST"])
    logged.clear()
    response = inline_app.test_client().post("/probe/enrol")
    assert response.status_code == 500
    log = _log_text(logged)
    assert "Exception on /probe/enrol [POST]" in log
    assert "INSERT INTO members" in log and "probe" in log  # where it failed, and what
    for secret in _secrets(inline_app):
        assert secret not in log


def test_cli_text_with_control_characters_is_refused_and_nothing_written(
    runner: FlaskCliRunner, app: Flask
) -> None:
    _pool(app)
    enrol = runner.invoke(
        args=["members", "enrol", "--name", "Ruby\x00Starling", "--phone", "07911 123456", "--pin", "4821"]
    )
    assert enrol.exit_code != 0
    assert "--name" in enrol.output and "control character (NUL)" in enrol.output
    warning = runner.invoke(
        args=["warnings", "add", "--number", "07911 123456", "--category", "threats", "--summary", "a\x1bb"]
    )
    assert warning.exit_code != 0 and "--summary" in warning.output
    staff = runner.invoke(
        args=["staff", "add", "--email", "case@example.org", "--role", "caseworker"],
        input="correct horse\x00battery\n",
    )
    assert staff.exit_code != 0 and "password" in staff.output and "NUL" in staff.output
    with services_of(app).db.session() as s:
        assert s.scalars(select(Member)).all() == []
        assert s.scalars(select(CallerWarning)).all() == []
        assert s.scalars(select(Staff)).all() == []
