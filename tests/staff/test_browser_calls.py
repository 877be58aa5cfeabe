"""Issue 16 in a real browser: a caseworker presses "Call the member" on a
report page (headless Chromium, the app served on 127.0.0.1, the Twilio REST
API the local fake). The REST request rings the caseworker's phone and
carries no member number; the TwiML served when the caseworker answers dials
the member with the access line as caller ID; the audit log has the entry;
the page then shows how the call went.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from ivr import services_of
from simulator.fake_twilio import FakeTwilio
from storage.db import Database
from storage.models import AuditEntry
from tests.leak_scan import number_forms
from tests.staff.browser_helpers import chromium_browser, new_tab, sign_in
from tests.staff.test_browser import CHROMIUM, SCREENSHOTS
from tests.support import people
from tests.support.live_server import migrated_database, serving
from tests.support.staff_calls import CASEWORKER_PHONE, build_world
from tests.support.suite import PG_URL
from tests.support.twilio import TwiML

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' installs playwright")
if not os.path.exists(CHROMIUM):
    pytest.skip("needs Debian's chromium (scripts/test.sh installs it)", allow_module_level=True)


@pytest.fixture
def served_db() -> Iterator[Database]:
    """A database whose commits are real: the server's threads must see the seed."""
    with migrated_database(PG_URL, f"sn_browser_calls_{os.getpid()}", pool_size=5) as db:
        yield db


def test_call_the_member_from_a_report_page(
    make_app: Callable[..., Flask], served_db: Database, fake_twilio: FakeTwilio
) -> None:
    app = make_app(
        database=served_db,
        REDIS_URL=None,
        TWILIO_API_BASE_URL=fake_twilio.base_url,
        PROVIDER_RECORD_DELAY_SECONDS="0",
    )
    vault = services_of(app).vault
    world = build_world(app, fake_twilio, served_db, vault, functools.partial(people.enrol, served_db, vault))
    with serving(app) as base, chromium_browser() as chromium:
        tab = new_tab(chromium, viewport={"width": 1200, "height": 900})
        sign_in(tab, base, "case@example.org")
        tab.goto(f"{base}/staff/reports/{world.report}")
        tab.get_by_role("button", name="Call the member").click()
        tab.wait_for_url(f"**/staff/reports/{world.report}")
        assert "Calling your phone now" in tab.get_by_role("status").inner_text()

        # The REST request rings the caseworker's phone and carries no member number.
        [placed] = [r for r in fake_twilio.requests if r.path.endswith("/Calls.json")]
        assert placed.form["To"] == [CASEWORKER_PHONE]
        assert placed.form["From"] == [world.access_line]
        for form in number_forms(world.member.phone):
            assert form not in repr(placed.form)

        result = world.answer(caseworker="1", member="1")
        [document] = [d for d in result.documents if d.path == "/voice/staff-call/confirm"]
        dial = TwiML(document.xml.encode()).one("Dial")
        assert dial.get("callerId") == world.access_line
        assert result.bridged

        with served_db.session() as s:
            entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "member.call")).one()
        assert entry.detail is not None and entry.detail.startswith(f"reason=report report={world.report}")

        tab.reload()
        calls = tab.locator("table.calls tbody tr")
        assert calls.count() == 1
        assert "connected" in calls.inner_text()
        content = tab.content()
        for number in (CASEWORKER_PHONE, world.member.phone):
            for form in number_forms(number):
                assert form not in content
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / "report-call.png"), full_page=True)
