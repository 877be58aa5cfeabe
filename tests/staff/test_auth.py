"""Sign-in, lockout, per-IP limit, idle timeout, sign-out, TOTP, CSRF on the login form."""

from __future__ import annotations

import time

import pyotp
import pytest
from flask import Flask
from sqlalchemy import select

from ivr import services_of
from storage.db import Database
from storage.models import AuditEntry, Staff
from tests.staff.helpers import PASSWORD, People, csrf_from, make_staff, post, sign_in_as
from tests.support.suite import AppConfig, SuiteConfig
from tests.support.twilio import TwilioClient


def _login(client, email: str, password: str = PASSWORD, **extra):
    page = client.get("/staff/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post(
        "/staff/login", data={"email": email, "password": password, "csrf_token": token, **extra}
    )


def test_anonymous_is_sent_to_sign_in(anon) -> None:
    response = anon.get("/staff/reports/7")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login?next=/staff/reports/7")


def test_sign_in_with_right_password_lands_on_inbox_and_is_audited(
    anon, people: People, db: Database
) -> None:
    response = _login(anon, "alice@example.org")
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/reports"
    inbox = anon.get("/staff/")
    assert inbox.status_code == 200
    assert "Reports" in inbox.get_data(as_text=True)
    with db.session() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.staff_id == people.alice)).all()
    assert "login.ok" in actions


def test_sign_in_returns_to_the_page_asked_for(anon, people: People) -> None:
    anon.get("/staff/login?next=/staff/warnings")
    response = _login(anon, "alice@example.org")
    assert response.headers["Location"] == "/staff/warnings"


def test_sign_in_never_redirects_off_site(anon, people: People) -> None:
    anon.get("/staff/login?next=https://evil.example/")
    assert _login(anon, "alice@example.org").headers["Location"] == "/staff/reports"


def test_wrong_password_is_refused_with_one_message_for_all_failures(anon, people: People) -> None:
    wrong = _login(anon, "alice@example.org", "not the password")
    unknown = _login(anon, "nobody@example.org")
    assert wrong.status_code == unknown.status_code == 401
    assert "did not match" in wrong.get_data(as_text=True)
    assert anon.get("/staff/").status_code == 302


def test_login_without_csrf_token_is_refused(anon, people: People) -> None:
    anon.get("/staff/login")
    response = anon.post("/staff/login", data={"email": "alice@example.org", "password": PASSWORD})
    assert response.status_code == 400
    assert anon.get("/staff/").status_code == 302


def test_repeated_failures_lock_the_account(inline_app: Flask, people: People, db: Database) -> None:
    client = inline_app.test_client()
    for _ in range(5):
        assert _login(client, "alice@example.org", "wrong password").status_code == 401
    with db.session() as s:
        alice = s.get(Staff, people.alice)
        assert alice is not None and alice.locked_until is not None
    # Even the right password is refused while locked.
    assert _login(client, "alice@example.org").status_code == 401
    assert client.get("/staff/").status_code == 302


def test_many_failures_from_one_address_are_rate_limited(
    app_config: AppConfig, tmp_path, db: Database, people: People
) -> None:
    from ivr import create_app

    config = app_config(STAFF_IP_FAILURES_PER_15_MIN=3)
    config.pop("REDIS_URL")
    client = create_app({**config, "database": db}).test_client()
    for i in range(3):
        assert _login(client, f"x{i}@example.org", "nope").status_code == 401
    assert _login(client, "alice@example.org").status_code == 429


def test_idle_session_expires(inline_app: Flask, people: People) -> None:
    client = sign_in_as(inline_app.test_client(), people.alice)
    with client.session_transaction() as sess:
        sess["seen"] = time.time() - 31 * 60
    response = client.get("/staff/")
    assert response.status_code == 302
    assert "/staff/login" in response.headers["Location"]


def test_sign_out_ends_the_session(alice) -> None:
    assert alice.get("/staff/").status_code == 200
    response = post(alice, "/staff/logout")
    assert response.status_code == 302
    assert alice.get("/staff/").status_code == 302


def test_sign_out_without_csrf_is_refused(alice) -> None:
    assert alice.post("/staff/logout").status_code == 400
    assert alice.get("/staff/").status_code == 200


def test_session_cookie_is_httponly_and_samesite(anon, people: People) -> None:
    response = _login(anon, "alice@example.org")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_production_cookie_is_secure(app_config: AppConfig, tmp_path, db: Database) -> None:
    from ivr import create_app

    config = app_config(SAFETY_ENV="production")
    config.pop("REDIS_URL")
    app = create_app({**config, "database": db})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_admin_turns_on_totp_and_then_needs_a_code(inline_app: Flask, people: People, db: Database) -> None:
    admin = sign_in_as(inline_app.test_client(), people.admin)
    assert post(admin, "/staff/account/totp/start").status_code == 302
    page = admin.get("/staff/account").get_data(as_text=True)
    with admin.session_transaction() as sess:
        pending = sess["totp_pending"]
    secret = services_of(inline_app).vault.cipher.decrypt(pending)
    assert secret not in pending  # the signed (not encrypted) cookie never holds it in clear
    assert secret in page
    assert post(admin, "/staff/account/totp/confirm", {"code": "000000"}).status_code == 302
    with db.session() as s:
        assert s.get_one(Staff, people.admin).totp_secret_encrypted is None
    post(admin, "/staff/account/totp/confirm", {"code": pyotp.TOTP(secret).now()})
    with db.session() as s:
        stored = s.get_one(Staff, people.admin).totp_secret_encrypted
    assert stored and secret not in stored
    assert services_of(inline_app).vault.cipher.decrypt(stored) == secret

    fresh = inline_app.test_client()
    step1 = _login(fresh, "admin@example.org")
    assert step1.headers["Location"] == "/staff/login/code"
    assert fresh.get("/staff/").status_code == 302  # not signed in yet
    page = fresh.get("/staff/login/code").get_data(as_text=True)
    bad = fresh.post("/staff/login/code", data={"code": "123456", "csrf_token": csrf_from(page)})
    assert bad.status_code == 401
    # The code that turned TOTP on is used up: sign-in takes the next step's.
    reused = fresh.post(
        "/staff/login/code", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_from(page)}
    )
    assert reused.status_code == 401
    good = fresh.post(
        "/staff/login/code",
        data={"code": pyotp.TOTP(secret).at(time.time() + 30), "csrf_token": csrf_from(page)},
    )
    assert good.status_code == 302
    assert fresh.get("/staff/").status_code == 200


def test_caseworkers_cannot_turn_on_totp(alice) -> None:
    assert post(alice, "/staff/account/totp/start").status_code == 403


@pytest.mark.parametrize("active", [False])
def test_deactivated_staff_cannot_sign_in(anon, db: Database, active: bool) -> None:
    make_staff(db, "gone@example.org", active=active)
    assert _login(anon, "gone@example.org").status_code == 401


def test_twilio_webhooks_neither_read_nor_set_the_staff_session_cookie(admin, suite: SuiteConfig) -> None:
    """ivr/sessions.py: a staff cookie sent to a Twilio-facing path is ignored
    (no session is opened) and no answer to Twilio ever carries a cookie."""
    form = {"CallSid": "CAcookie", "From": "+447911123456", "To": "+442079469999"}
    for path in ("/voice/incoming", "/sms/incoming"):
        response = TwilioClient(admin, suite).send(path, form)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
    assert admin.get("/staff/").status_code == 200  # the staff session is untouched


def test_a_cookie_sent_to_a_twilio_path_is_never_opened(inline_app: Flask) -> None:
    from flask import session
    from flask.sessions import NullSession, SecureCookieSession

    cookie = {"Cookie": "session=forged.cookie.value"}
    for path in ("/voice/incoming", "/voice/menu/pin", "/sms/incoming"):
        with inline_app.test_request_context(path, method="POST", headers=cookie):
            assert isinstance(session._get_current_object(), NullSession), path  # type: ignore[attr-defined]
    with inline_app.test_request_context("/staff/", headers=cookie):
        assert isinstance(session._get_current_object(), SecureCookieSession)  # type: ignore[attr-defined]
