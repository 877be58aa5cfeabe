"""The console in a real browser: headless Chromium (Debian's ``chromium``)
driven by Playwright, against the app served by werkzeug on 127.0.0.1.

The server thread needs committed data, so these tests use a database of
their own (created next to the run's test database, dropped afterwards).
Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import csv
import io
import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, make_url, select
from werkzeug.serving import make_server

from callflows.status import AlarmKind
from core.services import recording_store
from ivr import create_app, services_of
from storage import checkins
from storage import repositories as repo
from storage.events import MAX_ATTEMPTS
from storage.migrate import upgrade
from storage.models import (
    AuditEntry,
    Call,
    CallDirection,
    CallerWarning,
    CheckinAlarm,
    Event,
    Report,
    Staff,
    utcnow,
)
from tests.staff.browser_helpers import CHROMIUM, chromium_browser, fill_sign_in, new_tab, sign_in

# The other browser tests (signals, kept forms) still take these from here.
from tests.staff.browser_helpers import CHROMIUM_ARGS as CHROMIUM_ARGS
from tests.staff.helpers import PASSWORD, wav_bytes
from tests.support.databases import scratch_database
from tests.support.suite import SuiteConfig

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' installs playwright")
if not os.path.exists(CHROMIUM):
    pytest.skip("needs Debian's chromium (scripts/test.sh installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser_db_url(pg_url: str) -> Iterator[str]:
    """A migrated database of this module's own; dropped at the end."""
    with scratch_database(pg_url, f"{make_url(pg_url).database}_browser") as url:
        engine = create_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="module")
def live(
    browser_db_url: str, suite: SuiteConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The app with seeded data, served on a free port in a thread."""
    folder = tmp_path_factory.mktemp("browser")
    app = create_app(suite.app_config(folder, DATABASE_URL=browser_db_url, REDIS_URL=None))
    services = services_of(app)
    facts = _seed(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"base": f"http://127.0.0.1:{server.server_port}", "app": app, **facts}
    finally:
        server.shutdown()
        thread.join()
        services.db.engine.dispose()


def _seed(app: Any) -> dict[str, Any]:
    services = services_of(app)
    vault = services.vault
    now = utcnow()
    key = recording_store(services).put("RE_browser_test", wav_bytes(3.0))
    with services.db.session() as s:
        repo.add_staff(s, email="admin@example.org", password=PASSWORD, role="admin")
        repo.add_staff(s, email="case@example.org", password=PASSWORD, role="caseworker")
        repo.add_numbers(s, ["+442079460001", "+442079460002"])
        member, _ = repo.enrol_member(s, vault, name="Ruby", phone_e164="+447911123456", pin="4821")
        caller = vault.protect("+447911654321")
        for day in range(14):
            for i in range(day % 5 + 1):
                s.add(
                    Call(
                        call_sid=f"CAbrowser{day:03d}{i:03d}",
                        direction=CallDirection.INBOUND,
                        member_id=member.id,
                        other_party_index=caller.index,
                        other_party_last3=caller.last3,
                        bridged=i % 2 == 0,
                        declined=i == 1,
                        blocked=i == 3,
                        warned=i == 2,
                        created_at=now - timedelta(days=day, minutes=i),
                    )
                )
        call = Call(
            call_sid="CAbrowserreport",
            direction=CallDirection.INBOUND,
            member_id=member.id,
            other_party_index=caller.index,
            other_party_encrypted=caller.token,
            other_party_last3=caller.last3,
            created_at=now - timedelta(hours=2),
        )
        s.add(call)
        s.flush()
        for i, category in enumerate(("threats", "robbery", None, "nuisance", "stalking")):
            s.add(
                Report(
                    member_id=member.id,
                    category=category,
                    status=("new", "in_review", "closed", "assigned", "new")[i],
                    recording_state=("awaited", "stored", "failed", "stored", "stored")[i],
                    police_consent=(None, True, False, True, False)[i],
                    created_at=now - timedelta(days=3 + i),
                )
            )
        report = Report(
            member_id=member.id,
            call_id=call.id,
            caller_index=caller.index,
            recording_state="stored",
            recording_path=key,
            recording_seconds=3,
            police_consent=True,
            category="threats",
            created_at=now - timedelta(hours=1),
        )
        s.add(report)
        s.flush()
        # A notification that failed after every retry, for the failed-jobs page.
        s.add(
            Event(
                job="assign_report",
                args=[report.id],
                due_at=utcnow(),
                attempts=MAX_ATTEMPTS,
                last_error="SMTPAuthenticationError",
                failed_at=utcnow(),
            )
        )
        checkin = checkins.start_checkin(s, member, 60, now - timedelta(hours=1))
        alarm = checkins.raise_alarm(s, checkin, AlarmKind.MISSED, now)
        assert alarm is not None
        return {"report_id": report.id, "alarm_id": alarm.id}


def _count(app: Any, model: Any, *where: Any) -> int:
    with services_of(app).db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


@pytest.fixture(scope="module")
def browser(live: dict[str, Any]) -> Iterator[Any]:
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def page(browser: Any, live: dict[str, Any]) -> Iterator[Any]:
    """One signed-in admin tab, shared by the tests below (they run in order)."""
    tab = new_tab(browser, accept_downloads=True, viewport={"width": 1200, "height": 900})
    tab.goto(live["base"] + "/staff/")
    assert "/staff/login" in tab.url
    fill_sign_in(tab, "admin@example.org")
    # Back to the page first asked for.
    tab.wait_for_url(live["base"] + "/staff/")
    yield tab
    tab.context.close()


def test_sign_in_lands_on_the_inbox(page: Any, live: dict[str, Any]) -> None:
    assert page.get_by_role("heading", name="Reports").is_visible()
    assert page.locator("table.reports tbody tr").count() == 6
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "inbox.png"), full_page=True)


def test_wrong_password_is_refused_in_the_browser(browser: Any, live: dict[str, Any]) -> None:
    tab = new_tab(browser)
    tab.goto(live["base"] + "/staff/login")
    fill_sign_in(tab, "case@example.org", "wrong password!")
    assert tab.get_by_role("alert").inner_text().startswith("That email and password did not match")
    tab.context.close()


def _poll(page: Any, condition: Any, tries: int = 100) -> bool:
    """Check ``condition`` until it holds (the page's CSP forbids Playwright's
    string-evaluating wait_for_function, so poll from Python)."""
    for _ in range(tries):
        if condition():
            return True
        page.wait_for_timeout(100)
    return False


def test_report_audio_plays(page: Any, live: dict[str, Any]) -> None:
    report_id = live["report_id"]
    plays_before = _count(live["app"], AuditEntry, AuditEntry.action == "recording.play")
    page.get_by_role("link", name=f"#{report_id}").click()
    page.wait_for_url(f"**/staff/reports/{report_id}")
    assert "yes — may go to police" in page.content()
    audio = page.locator("audio")
    audio.evaluate("a => a.play()")
    assert _poll(page, lambda: audio.evaluate("a => a.currentTime") > 0.3), "the audio never advanced"
    # Seeking works: the server answers ranges, so the player can jump.
    audio.evaluate("a => { a.currentTime = 2.0; }")
    assert _poll(page, lambda: audio.evaluate("a => a.currentTime") >= 2.0), "seeking failed"
    audio.evaluate("a => a.pause()")
    assert _count(live["app"], AuditEntry, AuditEntry.action == "recording.play") > plays_before
    assert _count(live["app"], AuditEntry, AuditEntry.action == "report.view") >= 1
    page.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=True)


def test_create_warning_from_the_report(page: Any, live: dict[str, Any]) -> None:
    page.goto(f"{live['base']}/staff/reports/{live['report_id']}")
    page.get_by_role("link", name="Create a warning about this caller").click()
    page.wait_for_url(f"**/staff/reports/{live['report_id']}/warning")
    assert "…321" in page.content() and "654321" not in page.content()
    page.get_by_label("Category").select_option("threats")
    page.get_by_label("Summary").fill("Threatened a member after she refused; seen in browser test")
    page.get_by_role("button", name="Create warning").click()
    page.wait_for_url("**/staff/warnings")
    assert page.get_by_text("seen in browser test").is_visible()
    assert _count(live["app"], CallerWarning, CallerWarning.source_report_id == live["report_id"]) == 1


def _csv(rows: list[tuple[str, str, str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(("number", "category", "summary"))
    writer.writerows(rows)
    return buf.getvalue().encode()


def test_csv_import_with_one_bad_row(page: Any, live: dict[str, Any]) -> None:
    before = _count(live["app"], CallerWarning)
    page.goto(live["base"] + "/staff/warnings/import")
    bad = _csv(
        [
            ("07911 100001", "threats", "One"),
            ("not a number", "robbery", "Two"),
            ("07911100003", "other", "Three"),
        ]
    )
    page.get_by_label("CSV file").set_input_files({"name": "w.csv", "mimeType": "text/csv", "buffer": bad})
    page.get_by_role("button", name="Check and import").click()
    alert = page.get_by_role("alert")
    assert "Nothing was imported" in alert.inner_text()
    assert "the number is not a valid phone number" in alert.inner_text()
    assert alert.locator("tbody tr").count() == 1
    assert alert.locator("tbody tr td").first.inner_text() == "3"
    assert _count(live["app"], CallerWarning) == before

    good = _csv([("07911 100001", "threats", "One"), ("07911100003", "other", "Three")])
    page.get_by_label("CSV file").set_input_files({"name": "w.csv", "mimeType": "text/csv", "buffer": good})
    page.get_by_role("button", name="Check and import").click()
    page.wait_for_url("**/staff/warnings")
    assert page.get_by_text("Imported 2 warnings.").is_visible()
    assert _count(live["app"], CallerWarning) == before + 2


def test_police_export_downloads(page: Any, live: dict[str, Any]) -> None:
    page.goto(live["base"] + "/staff/export")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").click()
    body = Path(info.value.path()).read_text()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert {r["reference"] for r in rows} >= {f"SN-{live['report_id']}"}
    assert len(rows) == 3  # the consented ones only
    assert "Ruby" not in body and "7911" not in body
    with page.expect_download() as info:
        page.get_by_role("button", name="Download JSON").click()
    assert '"reports"' in Path(info.value.path()).read_text()
    assert _count(live["app"], AuditEntry, AuditEntry.action.in_(("export.csv", "export.json"))) == 2


def test_stats_page_draws_charts(page: Any, live: dict[str, Any]) -> None:
    page.goto(live["base"] + "/staff/stats")
    assert page.locator("svg.chart").count() == 3
    assert page.locator("svg.chart rect").count() > 10
    page.screenshot(path=str(SCREENSHOTS / "stats.png"), full_page=True)


def test_phone_layout_and_keyboard(browser: Any, live: dict[str, Any]) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    tab = context.new_page()
    tab.goto(live["base"] + "/staff/login")
    # Keyboard only: type the email, Tab to the password, Enter submits.
    tab.get_by_label("Email").focus()
    tab.keyboard.type("case@example.org")
    tab.keyboard.press("Tab")
    tab.keyboard.type(PASSWORD)
    tab.keyboard.press("Enter")
    tab.wait_for_url("**/staff/reports")
    # The first Tab on a page reaches the skip link, which moves focus to the content.
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.className") == "skip-link"
    tab.keyboard.press("Enter")
    assert tab.evaluate("document.activeElement.id") == "main"
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the inbox scrolls sideways on a phone"
    tab.screenshot(path=str(SCREENSHOTS / "inbox-phone.png"), full_page=True)
    with services_of(live["app"]).db.session() as s:
        assert s.scalar(select(Staff.failed_logins).where(Staff.email == "case@example.org")) == 0
    context.close()


def _phone(browser: Any, live: dict[str, Any], width: int) -> Any:
    """A signed-in admin tab on a phone ``width`` CSS pixels wide."""
    tab = new_tab(browser, viewport={"width": width, "height": 800}, device_scale_factor=2, is_mobile=True)
    sign_in(tab, live["base"], "admin@example.org")
    return tab


def _no_sideways_scroll(tab: Any, width: int) -> None:
    assert tab.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways"


def test_stats_at_phone_width_are_readable_and_tabled(browser: Any, live: dict[str, Any]) -> None:
    tab = _phone(browser, live, 390)
    tab.goto(live["base"] + "/staff/stats")
    _no_sideways_scroll(tab, 390)
    # Chart labels as drawn on the screen: 11 px or taller (a 960-wide chart gave 4-5 px).
    heights = tab.evaluate(
        "[...document.querySelectorAll('svg.chart text')].map(t => t.getBoundingClientRect().height)"
    )
    assert heights and min(heights) >= 11, min(heights)
    tab.get_by_text("Calls per day as a table").click()
    assert tab.locator("details table tbody tr").count() == 30
    tab.screenshot(path=str(SCREENSHOTS / "stats-phone.png"), full_page=True)
    tab.context.close()


def test_failed_jobs_at_phone_width(browser: Any, live: dict[str, Any]) -> None:
    tab = _phone(browser, live, 390)
    tab.get_by_role("link", name="Failed jobs").click()
    assert tab.get_by_text("SMTPAuthenticationError").is_visible()
    _no_sideways_scroll(tab, 390)
    # Discard asks first: the box must be ticked before the form goes.
    tab.get_by_role("button", name="Discard").click()
    assert "/staff/jobs" in tab.url and tab.get_by_text("SMTPAuthenticationError").is_visible()
    tab.screenshot(path=str(SCREENSHOTS / "jobs-phone.png"), full_page=True)
    tab.get_by_role("button", name="Run again").click()
    assert tab.get_by_text("assign_report queued again.").is_visible()
    assert _count(live["app"], AuditEntry, AuditEntry.action == "job.requeue") == 1
    tab.context.close()


def test_the_inbox_reflows_at_320_px(browser: Any, live: dict[str, Any]) -> None:
    tab = _phone(browser, live, 320)
    _no_sideways_scroll(tab, 320)
    assert tab.get_by_text("police", exact=False).first.is_visible()
    tab.screenshot(path=str(SCREENSHOTS / "inbox-320.png"), full_page=True)
    tab.context.close()


def test_a_check_in_alarm_on_a_phone_from_banner_to_closed(browser: Any, live: dict[str, Any]) -> None:
    """The on-call caseworker's path: the banner, the alarm, closed as safe."""
    tab = new_tab(browser, viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    sign_in(tab, live["base"], "case@example.org")
    banner = tab.get_by_role("region", name="Check-in alarms")
    assert banner.inner_text().startswith("1 check-in alarm open.")
    tab.get_by_role("link", name="See it now").click()
    tab.get_by_role("link", name=f"#{live['alarm_id']}").click()
    tab.wait_for_url(f"**/staff/alarms/{live['alarm_id']}")
    assert tab.get_by_text("missed check-in: no PIN after every call").is_visible()
    assert tab.get_by_text("ending …321").is_visible()
    assert tab.evaluate("document.documentElement.scrollWidth") <= 390, "the alarm scrolls sideways"
    tab.screenshot(path=str(SCREENSHOTS / "alarm-phone.png"), full_page=True)
    tab.get_by_label("Outcome").select_option("safe")
    tab.get_by_role("button", name="Close alarm").click()
    assert tab.get_by_text("Alarm closed: member safe.").is_visible()
    assert tab.get_by_role("region", name="Check-in alarms").count() == 0
    assert _count(live["app"], CheckinAlarm, CheckinAlarm.outcome == "safe") == 1
    tab.context.close()
