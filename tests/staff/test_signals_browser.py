"""Risk signals in a real browser at phone width: a caseworker finds the
signal, turns one into a warning and dismisses another with a reason.
Chromium and its settings as in tests/staff/test_browser.py."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from core.services import bound
from ivr import services_of
from storage import repositories as repo
from storage.db import Database
from storage.models import AuditEntry, CallerWarning, RiskSignal, utcnow
from tests.staff.browser_helpers import new_tab, sign_in
from tests.staff.helpers import PASSWORD, make_call
from tests.staff.test_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, sync_api
from tests.support.live_server import migrated_database, serving
from tests.support.people import cheap_hashing
from tests.support.suite import PG_URL
from worker.signals import compute_signals

WARNED, DISMISSED = "+447911123789", "+447911555246"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def signals_db() -> Iterator[Database]:
    with migrated_database(PG_URL, f"sn_signals_browser_{os.getpid()}", pool_size=5) as db:
        yield db


def _seed(app: Flask) -> None:
    """Three members each rung (and declined) by two callers; the signals counted."""
    services = services_of(app)
    now = utcnow()
    with cheap_hashing(), services.db.session() as s:
        repo.add_staff(s, email="case@example.org", password=PASSWORD, role="caseworker")
        repo.add_numbers(s, [f"+4420794600{k:02d}" for k in range(3)])
        members = [
            repo.enrol_member(
                s, services.vault, name=f"Member {k}", phone_e164=f"+4420794601{k:02d}", pin="4821"
            )[0]
            for k in range(3)
        ]
        member_ids = [member.id for member in members]
    for n, caller in enumerate((WARNED, DISMISSED)):
        for k, member_id in enumerate(member_ids):
            at = now - timedelta(hours=n * 10 + k)
            make_call(services.db, services.vault, caller, member_id=member_id, declined=k < 2, created_at=at)
    with bound(services):
        assert len(compute_signals().raised) == 2


def _signed_in(browser: Any, base: str) -> Any:
    tab = new_tab(browser, viewport=PHONE, device_scale_factor=2, is_mobile=True)
    sign_in(tab, base, "case@example.org")
    return tab


def test_a_caseworker_on_a_phone_warns_about_one_signal_and_dismisses_another(
    make_app: Callable[..., Flask], signals_db: Database
) -> None:
    app = make_app(database=signals_db, REDIS_URL=None)
    _seed(app)
    with serving(app) as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = _signed_in(browser, base)
            tab.get_by_role("link", name="Signals").click()
            tab.wait_for_url("**/staff/signals")
            assert tab.get_by_role("link", name="New signals (2)").is_visible()
            assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            content = tab.content()
            assert "123789" not in content and "555246" not in content and "Member 0" not in content
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(SCREENSHOTS / "signals-phone.png"), full_page=True)

            tab.get_by_role("link", name="number ending 789").click()
            tab.wait_for_url("**/staff/signals/*")
            assert tab.get_by_role("heading", name="Caller ending 789").is_visible()
            assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            tab.get_by_label("Category").select_option("threats")
            tab.get_by_label("Summary").fill("Rings member after member; threatening when turned down")
            tab.get_by_role("button", name="Create warning").click()
            assert "Warning created" in tab.get_by_role("status").inner_text()
            assert tab.get_by_text("under 1 live warning (threats)").is_visible()
            tab.screenshot(path=str(SCREENSHOTS / "signal-phone.png"), full_page=True)

            tab.get_by_role("link", name="← Risk signals").click()
            tab.get_by_role("link", name="number ending 246").click()
            tab.get_by_label("Reason").fill("Two members know him: a driver for the agency")
            tab.get_by_role("button", name="Dismiss signal").click()
            tab.wait_for_url("**/staff/signals")
            assert tab.get_by_text("No signals here.").is_visible()
            tab.get_by_role("link", name="Dismissed (1)").click()
            assert tab.get_by_role("link", name="number ending 246").is_visible()
            tab.get_by_role("link", name="Under a warning (1)").click()
            assert tab.get_by_role("link", name="number ending 789").is_visible()
        finally:
            browser.close()
    with signals_db.session() as s:
        warning = s.scalars(select(CallerWarning)).one()
        assert warning.caller_index == services_of(app).vault.index(WARNED)
        dismissed = s.scalars(select(RiskSignal).where(RiskSignal.status == "dismissed")).one()
        assert dismissed.dismiss_reason == "Two members know him: a driver for the agency"
        actions = set(s.scalars(select(AuditEntry.action)))
        assert {"signals.view", "signal.view", "signal.warning", "signal.dismiss"} <= actions
