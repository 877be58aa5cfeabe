"""A session that times out while a caseworker types keeps what they typed
(issue 17, item 8): the form they send is kept, encrypted, for their
account only, shown once after they sign in again, sent again as it was,
and they are back on the page they were on. Nothing typed reaches a URL or
a log; nothing is kept without the session's CSRF token, for another
account, after signing out, or beyond its bounds."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass
class Console:
    """The console on a clock moved by hand, a report assigned to Alice, and
    the table the forms of timed-out sessions are kept in."""

    app: Flask
    people: People
    clock: Clock
    db: Database
    report_id: int

    @property
    def report(self) -> str:
        """The report's page."""
        return f"/staff/reports/{self.report_id}"

    def timed_out(self) -> FlaskClient:
        """A browser signed in as Alice whose session has since gone idle too long."""
        client = sign_in_as(self.app.test_client(), self.people.alice)
        self.clock.advance(IDLE_TIMEOUT + 1)
        return client

    def signed_in(self) -> FlaskClient:
        """Another browser of Alice's, signed in now."""
        return sign_in_as(self.app.test_client(), self.people.alice)

    def save_notes(self, client: FlaskClient, notes: str = NOTES) -> TestResponse:
        """Send the report's form with ``notes``."""
        return post(client, f"{self.report}/update", {"status": "in_review", "category": "", "notes": notes})

    def kept(self) -> list[KeptForm]:
        with self.db.session() as s:
            return list(s.scalars(select(KeptForm)))

    def notes(self) -> str | None:
        with self.db.session() as s:
            return s.get_one(Report, self.report_id).notes


@pytest.fixture
def console(clocked_app: Flask, people: People, clock: Clock, db: Database) -> Console:
    report_id = make_report(db, caseworker_id=people.alice, status="assigned", notes="before")
    return Console(clocked_app, people, clock, db, report_id)


def _sign_in_again(client: FlaskClient, email: str, via: str = "/staff/login") -> str:
    """Sign in through the form at ``via`` (where the console sent the
    browser to sign in); where the browser is sent next."""
    page = client.get(via).get_data(as_text=True)
    response = client.post(
        "/staff/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 302, response.status_code
    return response.headers["Location"]


def test_notes_sent_after_the_timeout_are_kept_shown_once_and_saved(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = console.timed_out()
    response = console.save_notes(alice)
    # Sent to sign in, to come back to the report (not to the POST-only URL: a 405 page).
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/staff/login"
    assert parse_qs(location.query) == {"next": [console.report]}
    assert console.notes() == "before"
    [kept] = console.kept()
    assert kept.staff_id == console.people.alice and kept.action == f"{console.report}/update"
    assert "Rang her" not in kept.fields_encrypted  # encrypted at rest
    login = alice.get(response.headers["Location"]).get_data(as_text=True)
    assert "inactivity" in login and "What you were sending was kept" in login

    assert _sign_in_again(alice, "alice@example.org") == "/staff/kept-form"
    page = alice.get("/staff/kept-form")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'action="{console.report}/update"' in html
    assert "Rang her twice after she said no." in html and "Says he knows where she lives." in html
    assert console.kept() == []  # shown once: taken out of the table
    assert alice.get("/staff/kept-form").headers["Location"] == "/staff/reports"

    # The page's form, sent as the browser sends it, with the new session's token.
    sent = alice.post(
        f"{console.report}/update",
        data={"csrf_token": csrf_from(html), "status": "in_review", "category": "", "notes": NOTES},
    )
    assert sent.status_code == 302 and sent.headers["Location"] == console.report
    assert console.notes() == NOTES
    assert "Report updated." in alice.get(sent.headers["Location"]).get_data(as_text=True)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Rang her" not in logged and "knows where" not in logged


def test_a_page_visited_after_the_timeout_is_where_sign_in_returns(console: Console) -> None:
    alice = console.timed_out()
    response = alice.get(console.report)
    assert response.status_code == 302
    assert _sign_in_again(alice, "alice@example.org", response.headers["Location"]) == console.report


def test_another_account_signing_in_in_that_browser_never_sees_it(console: Console) -> None:
    browser = console.timed_out()
    response = console.save_notes(browser)
    assert len(console.kept()) == 1
    assert _sign_in_again(browser, "bob@example.org", response.headers["Location"]) == console.report
    assert console.kept() == []
    assert browser.get("/staff/kept-form").headers["Location"] == "/staff/reports"


def test_nothing_is_kept_without_the_sessions_csrf_token(console: Console) -> None:
    alice = console.timed_out()
    response = alice.post(
        f"{console.report}/update", data={"csrf_token": "forged", "notes": NOTES, "status": "new"}
    )
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]
    assert console.kept() == []
    assert _sign_in_again(alice, "alice@example.org", response.headers["Location"]) == console.report


def test_nothing_is_kept_once_the_account_signed_out(console: Console) -> None:
    """Signed out elsewhere, the session was ended on purpose: its form is not kept."""
    laptop = console.signed_in()
    phone = console.signed_in()
    assert post(phone, "/staff/logout").status_code == 302
    assert console.save_notes(laptop).status_code == 302
    assert console.kept() == []


def test_signing_out_drops_a_kept_form(console: Console) -> None:
    office = console.timed_out()
    to_sign_in = console.save_notes(office).headers["Location"]
    assert len(console.kept()) == 1
    assert post(console.signed_in(), "/staff/logout").status_code == 302  # on the phone
    assert console.kept() == []
    assert _sign_in_again(office, "alice@example.org", to_sign_in) == console.report


def test_one_kept_form_per_account_the_latest(console: Console) -> None:
    first = console.timed_out()
    to_sign_in = console.save_notes(first, "first").headers["Location"]
    second = console.timed_out()
    console.save_notes(second, "second")
    assert len(console.kept()) == 1
    assert _sign_in_again(second, "alice@example.org") == "/staff/kept-form"
    assert "second" in second.get("/staff/kept-form").get_data(as_text=True)
    # The first browser's handle names a form that is no longer kept.
    assert _sign_in_again(first, "alice@example.org", to_sign_in) == console.report


def test_a_kept_form_lasts_an_hour(console: Console) -> None:
    alice = console.timed_out()
    to_sign_in = console.save_notes(alice).headers["Location"]
    console.clock.advance(3601)
    assert _sign_in_again(alice, "alice@example.org", to_sign_in) == console.report
    assert console.kept() == []


def test_too_big_a_form_or_a_password_form_is_not_kept(console: Console) -> None:
    console.save_notes(console.timed_out(), "x" * (MAX_CHARS + 1))
    assert console.kept() == []
    response = post(
        console.timed_out(),
        "/staff/account/password",
        {"current": PASSWORD, "new": "n" * 12, "again": "n" * 12},
    )
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.headers["Location"]).query) == {"next": ["/staff/account"]}
    assert console.kept() == []


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
    console: Console, make_app: Callable[..., Flask], suite: SuiteConfig
) -> None:
    console.save_notes(console.timed_out())
    new_key = "mK6S4y3U9qV0cX2bN8aL5dF7gH1jR3tW6zE9pQ0oI2s="
    rotated = make_app(REDIS_URL=None, SAFETY_DATA_KEYS=f"{new_key},{suite.data_key},{suite.old_data_key}")
    assert rotated.test_cli_runner().invoke(args=["keys", "rotate"]).exit_code == 0
    [kept] = console.kept()
    assert "Rang her twice" in FieldCipher([new_key]).decrypt(kept.fields_encrypted)
