"""Staff management in a real browser at phone width (issue 17, item 4):
headless Chromium at 390 and 320 CSS pixels. An admin invites a caseworker,
who sets a password through the one-time link and signs in; the admin then
disables the account (only once the box is ticked) and cannot demote
themselves, the last admin. The pages never scroll sideways, their controls
are 44 px tap targets and focus is visible. Screenshots go to
``artifacts/screenshots/``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from storage import repositories as repo
from storage.db import Database
from storage.models import AuditEntry, Staff
from tests.staff.browser_helpers import chromium_browser, new_tab, sign_in
from tests.staff.helpers import PASSWORD
from tests.staff.test_browser import CHROMIUM, SCREENSHOTS
from tests.support.live_server import migrated_database, serving
from tests.support.people import cheap_hashing
from tests.support.suite import PG_URL

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' installs playwright")
if not os.path.exists(CHROMIUM):
    pytest.skip("needs Debian's chromium (scripts/test.sh installs it)", allow_module_level=True)

NEW_PASSWORD = "chosen by the new caseworker"
# Every control a finger must hit on the staff pages.
CONTROLS = "main a, main button, main select, main input:not([type=hidden]):not([hidden])"


@pytest.fixture
def served_db() -> Iterator[Database]:
    """A database whose commits are real: the server's threads must see the seed."""
    with migrated_database(PG_URL, f"sn_browser_staff_{os.getpid()}", pool_size=5) as db:
        with cheap_hashing(), db.session() as s:
            repo.add_staff(s, email="admin@example.org", password=PASSWORD, role="admin")
        yield db


@pytest.fixture
def base(make_app: Callable[..., Flask], served_db: Database) -> Iterator[str]:
    app = make_app(database=served_db, REDIS_URL=None)
    with serving(app) as url:
        yield url


@pytest.fixture
def chromium() -> Iterator[Any]:
    with chromium_browser() as browser:
        yield browser


def _phone(chromium: Any, width: int) -> Any:
    tab = new_tab(chromium, viewport={"width": width, "height": 800}, device_scale_factor=2, is_mobile=True)
    return tab


def _fits_and_taps(tab: Any, width: int) -> None:
    """No sideways scroll; every visible control at least 44 px tall and wide
    (a checkbox by its label, which ticks it as well), once the page has loaded."""
    tab.wait_for_load_state("load")
    assert tab.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways"
    small = tab.evaluate(
        f"""[...document.querySelectorAll({CONTROLS!r})]
        .map(e => e.type === 'checkbox' ? document.querySelector(`label[for="${{e.id}}"]`) : e)
        .map(e => [e.outerHTML.slice(0, 80), e.getBoundingClientRect()])
        .filter(([_, r]) => r.width > 0 && (r.height < 44 || r.width < 44))
        .map(([html, r]) => `${{html}} ${{r.width}}x${{r.height}}`)"""
    )
    assert small == [], small


def _count(db: Database, action: str) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)) or 0


def test_invite_set_password_disable_and_keep_the_last_admin_at_phone_width(
    chromium: Any, base: str, served_db: Database
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    admin = _phone(chromium, 390)
    sign_in(admin, base, "admin@example.org", PASSWORD)
    admin.get_by_role("link", name="Staff", exact=True).click()
    admin.wait_for_url("**/staff/staff")
    admin.get_by_role("link", name="Invite a member of staff").click()
    admin.get_by_label("Email").fill("newcomer@example.org")
    admin.get_by_label("Role").select_option("caseworker")
    _fits_and_taps(admin, 390)
    admin.get_by_role("button", name="Add and show the invitation link").click()
    link = admin.locator("#one-time-link").inner_text()
    assert "/staff/link/" in link
    _fits_and_taps(admin, 390)
    admin.screenshot(path=str(SCREENSHOTS / "staff-link-phone.png"), full_page=True)

    # The newcomer opens the link on their own phone and chooses a password.
    newcomer = _phone(chromium, 320)
    newcomer.goto(base + link[link.index("/staff/link/") :])
    assert newcomer.get_by_role("heading", name="Welcome: choose your password").is_visible()
    _fits_and_taps(newcomer, 320)
    newcomer.get_by_label("New password (at least 10 characters)").fill(NEW_PASSWORD)
    newcomer.get_by_label("New password again").fill(NEW_PASSWORD)
    newcomer.get_by_role("button", name="Set password").click()
    newcomer.wait_for_url("**/staff/login")
    assert newcomer.get_by_text("Your password is set.").is_visible()
    sign_in(newcomer, base, "newcomer@example.org", NEW_PASSWORD)

    # The admin finds them in the list and disables the account: not before the box is ticked.
    admin.get_by_role("link", name="Staff", exact=True).click()
    admin.get_by_role("link", name="newcomer@example.org").click()
    _fits_and_taps(admin, 390)
    admin.get_by_role("button", name="Disable the account").focus()
    focus = admin.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focus == "solid", "the focused button shows no outline"
    admin.screenshot(path=str(SCREENSHOTS / "staff-page-phone.png"), full_page=True)
    admin.get_by_role("button", name="Disable the account").click()
    with served_db.session() as s:
        assert s.scalars(select(Staff.active).where(Staff.email == "newcomer@example.org")).one() is True
    admin.get_by_label("Yes, disable newcomer@example.org").check()
    admin.get_by_role("button", name="Disable the account").click()
    assert admin.get_by_text("newcomer@example.org is disabled and signed out everywhere.").is_visible()
    newcomer.reload()
    assert "/staff/login" in newcomer.url

    # The admin, the last one, cannot demote themselves.
    admin.get_by_role("link", name="Staff", exact=True).click()
    admin.get_by_role("link", name="admin@example.org").click()
    admin.get_by_label("Role", exact=True).select_option("caseworker")
    admin.get_by_label("Yes, change the role and sign them out").check()
    admin.get_by_role("button", name="Change role").click()
    assert admin.get_by_text("Not changed: this is the last active admin").is_visible()

    narrow = _phone(chromium, 320)
    sign_in(narrow, base, "admin@example.org", PASSWORD)
    narrow.goto(base + "/staff/staff")
    _fits_and_taps(narrow, 320)
    narrow.screenshot(path=str(SCREENSHOTS / "staff-list-320.png"), full_page=True)
    for path in ("/staff/staff/new", "/staff/staff/1", "/staff/staff/2"):
        narrow.goto(base + path)
        _fits_and_taps(narrow, 320)
    assert (_count(served_db, "staff.invite"), _count(served_db, "staff.invite_accepted")) == (1, 1)
    assert (_count(served_db, "staff.disable"), _count(served_db, "staff.role")) == (1, 0)
