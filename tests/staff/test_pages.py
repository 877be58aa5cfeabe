"""Every page and action for anonymous, caseworker and admin users; headers; error pages."""

from __future__ import annotations

import pytest

from storage.db import Database
from tests.staff.helpers import People, make_report, post
from tests.support.suite import AppConfig, SuiteConfig
from tests.support.twilio import TwilioClient

# (path, who may see it): "all" = caseworker and admin, "admin" = admin only.
PAGES = [
    ("/staff/", "all"),
    ("/staff/reports", "all"),
    ("/staff/reports/{report}", "all"),
    ("/staff/warnings", "all"),
    ("/staff/stats", "all"),
    ("/staff/account", "all"),
    ("/staff/warnings/import", "admin"),
    ("/staff/members", "admin"),
    ("/staff/members/new", "admin"),
    ("/staff/numbers", "admin"),
    ("/staff/export", "admin"),
    ("/staff/audit", "admin"),
]
ACTIONS = [
    "/staff/logout",
    "/staff/reports/{report}/update",
    "/staff/reports/{report}/assign",
    "/staff/reports/{report}/warning",
    "/staff/warnings/1/edit",
    "/staff/warnings/1/expire",
    "/staff/warnings/import",
    "/staff/members/new",
    "/staff/members/1/preferences",
    "/staff/members/1/pin",
    "/staff/members/1/cancel",
    "/staff/numbers/add",
    "/staff/numbers/1/quarantine",
    "/staff/numbers/1/release",
    "/staff/export/download",
    "/staff/account/totp/start",
    "/staff/account/totp/confirm",
    "/staff/account/totp/disable",
]


@pytest.fixture
def report(db: Database) -> int:
    return make_report(db)


@pytest.mark.parametrize(("path", "who"), PAGES)
def test_each_page_by_role(path: str, who: str, report: int, anon, alice, admin) -> None:
    url = path.format(report=report)
    anonymous = anon.get(url)
    assert anonymous.status_code == 302 and "/staff/login" in anonymous.headers["Location"]
    assert admin.get(url).status_code == 200
    assert alice.get(url).status_code == (200 if who == "all" else 403)


@pytest.mark.parametrize("path", ACTIONS)
def test_each_action_refused_to_anonymous_and_without_csrf(path: str, report: int, anon, admin) -> None:
    url = path.format(report=report)
    response = anon.post(url, data={"csrf_token": "x"})
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]
    assert admin.post(url, data={}).status_code == 400


def test_pages_are_not_cached_framed_or_loading_other_hosts(admin) -> None:
    response = admin.get("/staff/reports")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    assert '<meta name="viewport"' in html
    assert 'class="skip-link" href="#main"' in html
    assert "https://" not in html and "http://" not in html


def test_error_pages_are_clear(admin, anon, db: Database, people: People) -> None:
    missing = admin.get("/staff/reports/999999")
    assert missing.status_code == 404
    assert "Not found" in missing.get_data(as_text=True)
    unknown = anon.get("/staff/no-such-page")
    assert unknown.status_code == 404 and "<title>Not found" in unknown.get_data(as_text=True)
    assert admin.get("/staff/reports/abc").status_code == 404
    bad = admin.post("/staff/reports/1/update", data={})
    assert bad.status_code == 400 and "reload it" in bad.get_data(as_text=True)


def test_error_pages_leave_other_parts_of_the_app_alone(anon) -> None:
    response = anon.get("/voice/no-such-endpoint")
    assert response.status_code == 404
    assert "Safety Number staff" not in response.get_data(as_text=True)


def test_member_actions_for_caseworker_are_forbidden(alice, report: int) -> None:
    assert post(alice, "/staff/members/new", {"name": "x", "phone": "07911123456"}).status_code == 403
    assert post(alice, "/staff/export/download", {"format": "csv"}).status_code == 403


def test_server_error_page_is_clear(app_config: AppConfig, tmp_path, db: Database, people: People) -> None:
    """A real 500 (a recording that cannot be decrypted) gets the console's page, no traceback."""
    from ivr import create_app, services_of
    from tests.staff.helpers import sign_in_as

    config = app_config(TESTING=False)
    config.pop("REDIS_URL")
    app = create_app({**config, "database": db})
    settings = services_of(app).settings
    (tmp_path / "recordings").mkdir()
    (tmp_path / "recordings" / "RE_broken.enc").write_bytes(b"not a fernet token")
    assert settings.recordings_path == str(tmp_path / "recordings")
    report = make_report(db, recording_state="stored", recording_path="RE_broken.enc")
    client = sign_in_as(app.test_client(), people.admin)
    response = client.get(f"/staff/reports/{report}/audio")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong" in html and "Traceback" not in html


def test_titles_carry_no_names(db: Database, vault, admin) -> None:
    import re

    from storage import repositories as repo

    with db.session() as s:
        repo.add_numbers(s, ["+442079460001"])
        member, _ = repo.enrol_member(
            s, vault, name="Ruby Uniquename", phone_e164="+447911123456", pin="4821"
        )
    report = make_report(db, member_id=member.id)
    for path in (f"/staff/members/{member.id}", f"/staff/reports/{report}", "/staff/members"):
        html = admin.get(path).get_data(as_text=True)
        assert "Uniquename" in html
        title = re.search(r"<title>(.*?)</title>", html, re.S)
        assert title is not None and "Uniquename" not in title.group(1) and "7911" not in title.group(1)


def test_ids_beyond_the_integer_range_are_not_found(admin) -> None:
    huge = 2**31
    for path in (f"/staff/reports/{huge}", f"/staff/reports/{huge}/audio", f"/staff/members/{huge}"):
        assert admin.get(path).status_code == 404, path
    assert post(admin, f"/staff/numbers/{huge}/release").status_code == 404
    # A cursor past the id column's range is no id at all: refused, never a DataError.
    assert admin.get(f"/staff/reports?after={huge}").status_code == 400
    assert admin.get(f"/staff/audit?before={10**11}").status_code == 400


def test_a_form_over_https_needs_no_referer(admin) -> None:
    """Console pages send "Referrer-Policy: no-referrer", so browsers send no
    Referer: over https the CSRF token alone must be enough."""
    response = post(admin, "/staff/logout", base_url="https://localhost")
    assert response.status_code == 302 and response.location.endswith("/staff/login")


def test_twilio_webhooks_are_not_asked_for_a_csrf_token(inline_app, suite: SuiteConfig) -> None:
    """Twilio signs its requests and carries no session: CSRF is the console's alone."""
    form = {"MessageSid": "SM" + "0" * 32, "From": "+447700900123", "To": "+442079460001"}
    response = TwilioClient(inline_app.test_client(), suite).send("/sms/incoming", form)
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
