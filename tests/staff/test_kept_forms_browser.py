"""In a real browser at phone width: a caseworker types notes, the idle
timeout strikes before they press Save, and nothing is lost. They sign in
again, see what they were sending, send it, and are back on the report
with their notes saved, line breaks and all. Chromium as in
tests/staff/test_browser.py; axe-core as in tests/staff/test_accessibility.py."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from storage.db import Database
from storage.models import Report
from tests.staff.browser_helpers import fill_sign_in, new_tab
from tests.staff.helpers import Clock
from tests.staff.test_accessibility import violations
from tests.staff.test_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, sync_api
from tests.support.console_world import CASEWORKER_EMAIL, seed_console
from tests.support.live_server import migrated_database, serving
from tests.support.suite import PG_URL

NOTES = "She was followed to her car.\nHe knew her working name."


@pytest.fixture
def served_db() -> Iterator[Database]:
    with migrated_database(PG_URL, f"sn_kept_forms_browser_{os.getpid()}", pool_size=5) as db:
        yield db


def _sign_in(tab: Any) -> None:
    fill_sign_in(tab, CASEWORKER_EMAIL)


def test_notes_typed_as_the_session_times_out_are_saved_after_signing_in(
    make_app: Callable[..., Flask], served_db: Database, clock: Clock
) -> None:
    app = make_app(database=served_db, REDIS_URL=None, clock=clock)
    facts = seed_console(app)
    report_path = f"/staff/reports/{facts['report_id']}"
    with serving(app) as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = new_tab(
                browser,
                viewport={"width": 390, "height": 844},
                device_scale_factor=2,
                is_mobile=True,
                bypass_csp=True,
            )
            tab.goto(base + report_path)
            _sign_in(tab)
            tab.wait_for_url(base + report_path)
            tab.get_by_label("Status").select_option("in_review")
            tab.get_by_label("Notes").fill(NOTES)
            clock.advance(31 * 60)  # away from the keyboard past the idle timeout
            tab.get_by_role("button", name="Save").click()

            tab.wait_for_url(f"{base}/staff/login?next={report_path}")
            assert NOTES.split()[0] not in tab.url
            status = tab.get_by_role("status").inner_text()
            assert "inactivity" in status and "What you were sending was kept" in status
            _sign_in(tab)
            tab.wait_for_url("**/staff/kept-form")
            assert tab.get_by_text("She was followed to her car.").is_visible()
            assert violations(tab) == []
            assert tab.evaluate("document.documentElement.scrollWidth") <= 390
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(SCREENSHOTS / "kept-form-phone.png"), full_page=True)

            tab.get_by_role("button", name="Send it now").click()
            tab.wait_for_url(base + report_path)
            assert tab.get_by_text("Report updated.").is_visible()
            assert tab.get_by_label("Notes").input_value() == NOTES
        finally:
            browser.close()
    with served_db.session() as s:
        report = s.get_one(Report, facts["report_id"])
        assert (report.notes, report.status) == (NOTES, "in_review")
