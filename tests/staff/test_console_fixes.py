"""Newcomers' stumbles in the console (issue 17): HEAD on the sign-in form,
the favicon, one full stop, the audit-log pointer, the recording player,
focus contrast and tap targets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from core.services import recording_store
from ivr import create_app, services_of
from storage.db import Database
from storage.models import SignInWindow
from tests.staff.helpers import make_report, post, wav_bytes
from tests.support.suite import AppConfig
from worker.recordings import NEVER_ARRIVED

CSS = Path(__file__).resolve().parents[2] / "ivr" / "static" / "staff" / "console.css"


def test_head_on_the_sign_in_form_is_no_attempt(app_config: AppConfig, db: Database) -> None:
    """An uptime monitor's HEAD requests must not use up the address's limit
    and lock every member of staff out."""
    config = app_config(STAFF_IP_FAILURES_PER_15_MIN=2)
    config.pop("REDIS_URL")
    client = create_app({**config, "database": db}).test_client()
    for _ in range(5):
        assert client.head("/staff/login").status_code == 200
        assert client.head("/staff/login/code").status_code == 302  # nothing pending: back to sign-in
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(SignInWindow)) == 0
    page = client.get("/staff/login")
    assert page.status_code == 200 and 'name="password"' in page.get_data(as_text=True)


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_other_methods_on_the_sign_in_form_are_refused_and_not_counted(
    anon, db: Database, method: str
) -> None:
    assert getattr(anon, method)("/staff/login").status_code == 405
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(SignInWindow)) == 0


def test_the_favicon_is_served(anon) -> None:
    response = anon.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/vnd.microsoft.icon"
    assert response.get_data()[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert 'rel="icon" href="/favicon.ico"' in anon.get("/staff/login").get_data(as_text=True)


@pytest.mark.parametrize("error", [NEVER_ARRIVED, "download failed"])
def test_a_failed_recording_message_ends_with_one_full_stop(db: Database, alice, error: str) -> None:
    report = make_report(db, recording_state="failed", recording_error=error)
    html = alice.get(f"/staff/reports/{report}").get_data(as_text=True)
    assert "could not be stored: " + error.rstrip(".") + ". Contact the member" in html
    assert ".." not in html.replace("...", "")


def test_only_admins_are_pointed_to_the_audit_log(db: Database, alice, admin) -> None:
    report = make_report(db)
    caseworker_page = alice.get(f"/staff/reports/{report}").get_data(as_text=True)
    assert "audit log" not in caseworker_page.lower()
    assert alice.get("/staff/audit").status_code == 403
    admin_page = admin.get(f"/staff/reports/{report}").get_data(as_text=True)
    assert '<a href="/staff/audit">audit log</a>' in admin_page


def test_the_recording_player_offers_no_download(inline_app: Flask, db: Database, alice) -> None:
    key = recording_store(services_of(inline_app)).put("RE_player", wav_bytes(1.0))
    report = make_report(db, recording_state="stored", recording_path=key)
    html = alice.get(f"/staff/reports/{report}").get_data(as_text=True)
    assert re.search(r'<audio controls controlslist="nodownload"', html)
    audio = alice.get(f"/staff/reports/{report}/audio")
    assert audio.headers["Content-Disposition"] == "inline"


def test_inbox_links_are_tap_sized_and_say_what_they_open(db: Database, alice) -> None:
    report = make_report(db)
    html = alice.get("/staff/reports").get_data(as_text=True)
    assert f'<a class="tap" href="/staff/reports/{report}">Open report #{report}</a>' in html
    css = CSS.read_text()
    assert re.search(r"\.site-header nav a, \.pager a, \.tap \{[^}]*min-height: 44px", css)
    assert re.search(r"button, \.button, input, select \{ min-height: 44px; \}", css)


def _luminance(hex_colour: str) -> float:
    if len(hex_colour) == 4:  # #fff
        hex_colour = "#" + "".join(c * 2 for c in hex_colour[1:])
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_focus_indicator_has_3_to_1_contrast_on_every_background() -> None:
    """WCAG 1.4.11: the two focus rings, read from the stylesheet; at least
    one of them stands out 3:1 against each background the console uses."""
    css = CSS.read_text()
    colours = dict(re.findall(r"--([a-z-]+): (#[0-9a-f]{6}|#[0-9a-f]{3})\b", css))
    rule = re.search(
        r":focus-visible \{ outline: 3px solid var\(--(\w+)\);.*box-shadow: 0 0 0 6px var\(--(\w+)\)", css
    )
    assert rule, "the focus rule changed shape: update this test"
    rings = [colours[rule.group(1)], colours[rule.group(2)]]
    header = re.search(r"\.site-header \{[^}]*background: (#[0-9a-f]{6})", css)
    assert header
    backgrounds = [colours["bg"], colours["card"], "#ffffff", header.group(1), "#eef1f4"]
    for background in backgrounds:
        assert max(contrast(ring, background) for ring in rings) >= 3, background


def test_the_totp_set_up_link_is_a_tap_sized_link(admin) -> None:
    """On the phone that has the authenticator app, one tap adds the key."""
    post(admin, "/staff/account/totp/start")
    html = admin.get("/staff/account").get_data(as_text=True)
    link = re.search(
        r'<a class="button secondary" href="(otpauth://totp/[^"]+)">Open in your authenticator app</a>', html
    )
    assert link and "secret=" in link.group(1)
