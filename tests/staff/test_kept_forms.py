"""A session that times out while a caseworker types keeps what they typed
(issue 17, item 8): the form they send is kept, encrypted, for their
account only, shown once after they sign in again, sent again as it was,
and they are back on the page they were on. Nothing typed reaches a URL or
a log; nothing is kept without the session's CSRF token, for another
account, after signing out, or beyond its bounds."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from ivr.staff.kept_forms import MAX_CHARS, TYPED_TEXT_FORMS
from storage.crypto import FieldCipher
from storage.db import Database
from storage.models import KeptForm, Report
from tests.staff.helpers import PASSWORD, Clock, People, csrf_from, make_report, post, sign_in_as
from tests.support.suite import SuiteConfig

NOTES = "Rang her twice after she said no.\nSays he knows where she lives."
IDLE_TIMEOUT = 30 * 60


@pytest.fixture
def report_id(db: Database, people: People) -> int:
    return make_report(db, caseworker_id=people.alice, status="assigned", notes="before")


def _timed_out(app: Flask, staff_id: int, clock: Clock) -> FlaskClient:
    """A browser signed in as ``staff_id`` whose session has since gone idle too long."""
    client = sign_in_as(app.test_client(), staff_id)
    clock.advance(IDLE_TIMEOUT + 1)
    return client


def _save_notes(client: FlaskClient, report_id: int, notes: str = NOTES, **extra: str) -> TestResponse:
    return post(
        client,
        f"/staff/reports/{report_id}/update",
        {"status": "in_review", "category": "", "notes": notes, **extra},
    )


def _sign_in_again(client: FlaskClient, email: str, via: str = "/staff/login") -> str:
    """Sign in through the form at ``via`` (where the console sent the
    browser to sign in); where the browser is sent next."""
    page = client.get(via).get_data(as_text=True)
    response = client.post(
        "/staff/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 302, response.status_code
    return response.headers["Location"]


def _kept(db: Database) -> list[KeptForm]:
    with db.session() as s:
        return list(s.scalars(select(KeptForm)))


def _notes(db: Database, report_id: int) -> str | None:
    with db.session() as s:
        return s.get_one(Report, report_id).notes


def test_notes_sent_after_the_timeout_are_kept_shown_once_and_saved(
    clocked_app: Flask,
    people: People,
    clock: Clock,
    db: Database,
    report_id: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = _timed_out(clocked_app, people.alice, clock)
    response = _save_notes(alice, report_id)
    # Sent to sign in, to come back to the report (not to the POST-only URL: a 405 page).
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/staff/login"
    assert parse_qs(location.query) == {"next": [f"/staff/reports/{report_id}"]}
    assert _notes(db, report_id) == "before"
    [kept] = _kept(db)
    assert kept.staff_id == people.alice and kept.action == f"/staff/reports/{report_id}/update"
    assert "Rang her" not in kept.fields_encrypted  # encrypted at rest
    login = alice.get(response.headers["Location"]).get_data(as_text=True)
    assert "inactivity" in login and "What you were sending was kept" in login

    assert _sign_in_again(alice, "alice@example.org") == "/staff/kept-form"
    page = alice.get("/staff/kept-form")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'action="/staff/reports/{report_id}/update"' in html
    assert "Rang her twice after she said no." in html and "Says he knows where she lives." in html
    assert _kept(db) == []  # shown once: taken out of the table
    assert alice.get("/staff/kept-form").headers["Location"] == "/staff/reports"

    # The page's form, sent as the browser sends it, with the new session's token.
    sent = alice.post(
        f"/staff/reports/{report_id}/update",
        data={"csrf_token": csrf_from(html), "status": "in_review", "category": "", "notes": NOTES},
    )
    assert sent.status_code == 302 and sent.headers["Location"] == f"/staff/reports/{report_id}"
    assert _notes(db, report_id) == NOTES
    assert "Report updated." in alice.get(sent.headers["Location"]).get_data(as_text=True)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Rang her" not in logged and "knows where" not in logged


def test_a_page_visited_after_the_timeout_is_where_sign_in_returns(
    clocked_app: Flask, people: People, clock: Clock, report_id: int
) -> None:
    alice = _timed_out(clocked_app, people.alice, clock)
    response = alice.get(f"/staff/reports/{report_id}")
    assert response.status_code == 302
    assert (
        _sign_in_again(alice, "alice@example.org", response.headers["Location"])
        == f"/staff/reports/{report_id}"
    )


def test_another_account_signing_in_in_that_browser_never_sees_it(
    clocked_app: Flask, people: People, clock: Clock, db: Database, report_id: int
) -> None:
    browser = _timed_out(clocked_app, people.alice, clock)
    response = _save_notes(browser, report_id)
    assert len(_kept(db)) == 1
    assert (
        _sign_in_again(browser, "bob@example.org", response.headers["Location"])
        == f"/staff/reports/{report_id}"
    )
    assert _kept(db) == []
    assert browser.get("/staff/kept-form").headers["Location"] == "/staff/reports"


def test_nothing_is_kept_without_the_sessions_csrf_token(
    clocked_app: Flask, people: People, clock: Clock, db: Database, report_id: int
) -> None:
    alice = _timed_out(clocked_app, people.alice, clock)
    response = alice.post(
        f"/staff/reports/{report_id}/update", data={"csrf_token": "forged", "notes": NOTES, "status": "new"}
    )
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]
    assert _kept(db) == []
    assert (
        _sign_in_again(alice, "alice@example.org", response.headers["Location"])
        == f"/staff/reports/{report_id}"
    )


def test_nothing_is_kept_once_the_account_signed_out(
    clocked_app: Flask, people: People, clock: Clock, db: Database, report_id: int
) -> None:
    """Signed out elsewhere, the session was ended on purpose: its form is not kept."""
    laptop = sign_in_as(clocked_app.test_client(), people.alice)
    phone = sign_in_as(clocked_app.test_client(), people.alice)
    assert post(phone, "/staff/logout").status_code == 302
    assert _save_notes(laptop, report_id).status_code == 302
    assert _kept(db) == []


def test_signing_out_drops_a_kept_form(
    clocked_app: Flask, people: People, clock: Clock, db: Database, report_id: int
) -> None:
    office = _timed_out(clocked_app, people.alice, clock)
    response = _save_notes(office, report_id)
    assert len(_kept(db)) == 1
    phone = sign_in_as(clocked_app.test_client(), people.alice)
    assert post(phone, "/staff/logout").status_code == 302
    assert _kept(db) == []
    assert (
        _sign_in_again(office, "alice@example.org", response.headers["Location"])
        == f"/staff/reports/{report_id}"
    )


def test_one_kept_form_per_account_the_latest(
    clocked_app: Flask, people: People, clock: Clock, db: Database, report_id: int
) -> None:
    first = _timed_out(clocked_app, people.alice, clock)
    to_sign_in = _save_notes(first, report_id, "first").headers["Location"]
    second = _timed_out(clocked_app, people.alice, clock)
    _save_notes(second, report_id, "second")
    assert len(_kept(db)) == 1
    assert _sign_in_again(second, "alice@example.org") == "/staff/kept-form"
    assert "second" in second.get("/staff/kept-form").get_data(as_text=True)
    # The first browser's handle names a form that is no longer kept.
    assert _sign_in_again(first, "alice@example.org", to_sign_in) == f"/staff/reports/{report_id}"


def test_a_kept_form_lasts_an_hour(
    clocked_app: Flask, people: People, clock: Clock, db: Database, report_id: int
) -> None:
    alice = _timed_out(clocked_app, people.alice, clock)
    to_sign_in = _save_notes(alice, report_id).headers["Location"]
    clock.advance(3601)
    assert _sign_in_again(alice, "alice@example.org", to_sign_in) == f"/staff/reports/{report_id}"
    assert _kept(db) == []


def test_too_big_a_form_or_a_password_form_is_not_kept(
    clocked_app: Flask, people: People, clock: Clock, db: Database, report_id: int
) -> None:
    alice = _timed_out(clocked_app, people.alice, clock)
    _save_notes(alice, report_id, "x" * (MAX_CHARS + 1))
    assert _kept(db) == []
    alice = _timed_out(clocked_app, people.alice, clock)
    response = post(
        alice, "/staff/account/password", {"current": PASSWORD, "new": "n" * 12, "again": "n" * 12}
    )
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.headers["Location"]).query) == {"next": ["/staff/account"]}
    assert _kept(db) == []


@pytest.mark.parametrize(
    "target", ["//evil.example/staff/", "https://evil.example/staff/", "/staff/\\evil", "/other"]
)
def test_sign_in_never_returns_to_another_site(clocked_app: Flask, people: People, target: str) -> None:
    via = "/staff/login?" + urlencode({"next": target})
    assert _sign_in_again(clocked_app.test_client(), "alice@example.org", via) == "/staff/reports"


def test_every_form_that_may_be_kept_is_a_console_post(inline_app: Flask) -> None:
    """A renamed view would silently stop being kept: each name is a POST view."""
    rules = {rule.endpoint: rule.methods or set() for rule in inline_app.url_map.iter_rules()}
    assert all("POST" in rules.get(endpoint, set()) for endpoint in TYPED_TEXT_FORMS)


def test_keys_rotate_reencrypts_a_kept_form(
    clocked_app: Flask,
    make_app: Callable[..., Flask],
    suite: SuiteConfig,
    people: People,
    clock: Clock,
    db: Database,
    report_id: int,
) -> None:
    _save_notes(_timed_out(clocked_app, people.alice, clock), report_id)
    new_key = "mK6S4y3U9qV0cX2bN8aL5dF7gH1jR3tW6zE9pQ0oI2s="
    rotated = make_app(REDIS_URL=None, SAFETY_DATA_KEYS=f"{new_key},{suite.data_key},{suite.old_data_key}")
    assert rotated.test_cli_runner().invoke(args=["keys", "rotate"]).exit_code == 0
    [kept] = _kept(db)
    assert "Rang her twice" in FieldCipher([new_key]).decrypt(kept.fields_encrypted)
