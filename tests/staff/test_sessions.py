"""Sessions that end (issue 12, item 4): sign-out, a new password, a new
role and a disabled account end every session of the account server-side,
a copied cookie included; a session also ends at its absolute lifetime,
however busy, as well as after the idle timeout."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from storage.db import Database
from storage.models import AuditEntry, Staff
from tests.staff.helpers import PASSWORD, Clock, People, post
from tests.staff.staff_admin_helpers import sign_in

NEW_PASSWORD = "a much longer new passphrase"


def _copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def _signed_out(client: FlaskClient) -> bool:
    response = client.get("/staff/reports")
    return response.status_code == 302 and response.headers["Location"].startswith("/staff/login")


def test_a_copied_cookie_stops_working_after_sign_out(clocked_app: Flask, people: People) -> None:
    """The attack: copy the cookie, let its owner sign out, reuse the copy."""
    alice = sign_in(clocked_app, "alice@example.org")
    thief = _copy_of(clocked_app, alice)
    assert thief.get("/staff/reports").status_code == 200  # the copy works while alice is signed in
    assert post(alice, "/staff/logout").status_code == 302
    assert _signed_out(thief)
    assert _signed_out(alice)


def test_sign_out_ends_the_accounts_other_sessions_and_no_one_elses(
    clocked_app: Flask, people: People
) -> None:
    laptop = sign_in(clocked_app, "alice@example.org")
    phone = sign_in(clocked_app, "alice@example.org")
    bob = sign_in(clocked_app, "bob@example.org")
    post(laptop, "/staff/logout")
    assert _signed_out(phone)
    assert bob.get("/staff/reports").status_code == 200
    # Signing in again opens a fresh session that works.
    assert sign_in(clocked_app, "alice@example.org").get("/staff/reports").status_code == 200


def test_a_new_password_ends_every_session_and_only_it_signs_in(
    clocked_app: Flask, people: People, db: Database
) -> None:
    alice = sign_in(clocked_app, "alice@example.org")
    thief = _copy_of(clocked_app, alice)
    response = post(
        alice, "/staff/account/password", {"current": PASSWORD, "new": NEW_PASSWORD, "again": NEW_PASSWORD}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/staff/login"
    assert _signed_out(thief) and _signed_out(alice)
    sign_in(clocked_app, "alice@example.org", NEW_PASSWORD)
    with db.session() as s:
        assert s.scalar(
            select(AuditEntry.id).where(
                AuditEntry.action == "password.change", AuditEntry.staff_id == people.alice
            )
        )


def test_a_password_change_with_a_wrong_current_password_changes_nothing(
    clocked_app: Flask, people: People, db: Database
) -> None:
    alice = sign_in(clocked_app, "alice@example.org")
    with db.session() as s:
        before = s.get_one(Staff, people.alice).password_hash
    for form, message in (
        (
            {"current": "not it at all", "new": NEW_PASSWORD, "again": NEW_PASSWORD},
            "current password did not match",
        ),
        ({"current": PASSWORD, "new": NEW_PASSWORD, "again": NEW_PASSWORD + "x"}, "repeat differ"),
        ({"current": PASSWORD, "new": "short", "again": "short"}, "at least 10 characters"),
    ):
        response = post(alice, "/staff/account/password", form)
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    with db.session() as s:
        assert s.get_one(Staff, people.alice).password_hash == before
    assert alice.get("/staff/reports").status_code == 200


def test_a_new_role_or_a_disabled_account_ends_every_session(
    clocked_app: Flask, people: People, db: Database
) -> None:
    runner = clocked_app.test_cli_runner()
    alice = sign_in(clocked_app, "alice@example.org")
    result = runner.invoke(args=["staff", "role", "--email", "alice@example.org", "--role", "admin"])
    assert result.exit_code == 0, result.output
    assert _signed_out(alice)
    # Signed in again she is an admin; disabling the account ends that session too.
    alice = sign_in(clocked_app, "alice@example.org")
    assert alice.get("/staff/members").status_code == 200
    result = runner.invoke(args=["staff", "disable", "--email", "alice@example.org"])
    assert result.exit_code == 0, result.output
    assert _signed_out(alice)
    with db.session() as s:
        assert s.get_one(Staff, people.alice).active is False


def test_a_password_set_by_the_cli_ends_every_session(clocked_app: Flask, people: People) -> None:
    alice = sign_in(clocked_app, "alice@example.org")
    runner = clocked_app.test_cli_runner()
    result = runner.invoke(
        args=["staff", "password", "--email", "alice@example.org"], input=NEW_PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert _signed_out(alice)
    sign_in(clocked_app, "alice@example.org", NEW_PASSWORD)


def test_staff_commands_refuse_an_unknown_email_and_a_short_password(
    clocked_app: Flask, people: People
) -> None:
    runner = clocked_app.test_cli_runner()
    unknown = runner.invoke(args=["staff", "disable", "--email", "nobody@example.org"])
    assert unknown.exit_code != 0 and "no staff account" in unknown.output
    short = runner.invoke(args=["staff", "password", "--email", "alice@example.org"], input="short\n")
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    sign_in(clocked_app, "alice@example.org")  # the old password still works


def test_a_busy_session_still_ends_at_its_absolute_lifetime(
    clocked_app: Flask, people: People, clock: Clock
) -> None:
    """Each request refreshes only the idle time: a session used every 20
    minutes (inside the 30-minute idle timeout) ends 12 hours after sign-in."""
    alice = sign_in(clocked_app, "alice@example.org")
    for _ in range(12 * 3):
        clock.advance(20 * 60)
        assert alice.get("/staff/reports").status_code == 200
    clock.advance(1)
    assert _signed_out(alice)
    assert "time limit" in alice.get("/staff/login").get_data(as_text=True)


def test_an_idle_session_ends_after_the_idle_timeout(
    clocked_app: Flask, people: People, clock: Clock
) -> None:
    alice = sign_in(clocked_app, "alice@example.org")
    clock.advance(30 * 60)
    assert alice.get("/staff/reports").status_code == 200
    clock.advance(30 * 60 + 1)
    assert _signed_out(alice)
    assert "inactivity" in alice.get("/staff/login").get_data(as_text=True)


def test_the_session_lifetime_is_a_setting(make_app, people: People, clock: Clock) -> None:
    app = make_app(REDIS_URL=None, clock=clock, STAFF_SESSION_HOURS=1)
    alice = sign_in(app, "alice@example.org")
    clock.advance(25 * 60)
    assert alice.get("/staff/reports").status_code == 200
    clock.advance(25 * 60)
    assert alice.get("/staff/reports").status_code == 200
    clock.advance(11 * 60)
    assert _signed_out(alice)
