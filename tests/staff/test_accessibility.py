"""axe-core over every console page, at both phone widths, signed in as an
admin and as a caseworker (and the sign-in page signed out): no WCAG 2.1 A
or AA violation anywhere (issue 17, item 8).

axe-core is the ``axe.min.js`` that the ``axe-playwright-python`` package
ships (a declared test dependency, so no network at test time); it runs in
Debian's Chromium as the other browser tests do. The pages are listed once,
in ``tests/support/console_pages.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ivr import create_app, services_of
from tests.staff.browser_helpers import chromium_browser, new_tab, sign_in
from tests.staff.test_browser import SCREENSHOTS
from tests.support.console_pages import ADMIN, ANONYMOUS, CASEWORKER, WIDTHS, pages_for
from tests.support.console_world import ADMIN_EMAIL, CASEWORKER_EMAIL, seed_console
from tests.support.live_server import migrated_database, serving
from tests.support.suite import PG_URL, SuiteConfig

axe_base = pytest.importorskip(
    "axe_playwright_python.base", reason="pip install -e '.[test]' installs axe-core"
)
AXE_SCRIPT = Path(axe_base.AXE_FILE_PATH).read_text(encoding="utf-8")
# WCAG 2.0 and 2.1, levels A and AA: what the issue holds the console to.
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
EMAILS = {ADMIN: ADMIN_EMAIL, CASEWORKER: CASEWORKER_EMAIL}


@pytest.fixture(scope="module")
def console(
    suite: SuiteConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, int]]]:
    """The seeded console served on a free port: its base URL and the seeded ids."""
    with migrated_database(PG_URL, f"sn_accessibility_{os.getpid()}", pool_size=5) as db:
        folder = tmp_path_factory.mktemp("accessibility")
        app: Flask = create_app(suite.app_config(folder, DATABASE_URL=db.url, REDIS_URL=None))
        facts = seed_console(app)
        with serving(app) as base:
            yield base, facts
        services_of(app).db.engine.dispose()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with chromium_browser() as browser:
        yield browser


def violations(tab: Any) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page in ``tab``, one line each."""
    tab.evaluate(AXE_SCRIPT)
    result = tab.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(str(n['target']) for n in v['nodes'][:5])}"
        for v in result["violations"]
    ]


def _tab(chromium: Any, base: str, role: str, width: int) -> Any:
    """A phone-sized tab, signed in as ``role`` (or not, for ANONYMOUS)."""
    # The console's CSP forbids scripts from anywhere but itself: axe is let in.
    tab = new_tab(
        chromium,
        viewport={"width": width, "height": 800},
        device_scale_factor=2,
        is_mobile=True,
        bypass_csp=True,
    )
    if role != ANONYMOUS:
        sign_in(tab, base, EMAILS[role])
    return tab


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("role", [ADMIN, CASEWORKER, ANONYMOUS])
def test_every_page_has_no_axe_violations(
    chromium: Any, console: tuple[str, dict[str, int]], role: str, width: int
) -> None:
    base, facts = console
    tab = _tab(chromium, base, role, width)
    found: dict[str, list[str]] = {}
    try:
        for page in pages_for(role):
            tab.goto(base + page.url(facts))
            problems = violations(tab)
            if tab.evaluate("document.documentElement.scrollWidth") > width:
                problems.append(f"the page scrolls sideways at {width} px (WCAG 1.4.10 reflow)")
            if problems:
                found[page.path] = problems
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                name = (
                    page.path.strip("/").replace("/", "-").replace("?", "-").replace("{", "").replace("}", "")
                )
                tab.screenshot(path=str(SCREENSHOTS / f"axe-{role}-{width}-{name}.png"), full_page=True)
    finally:
        tab.context.close()
    assert found == {}, "\n".join(f"{path}:\n  " + "\n  ".join(lines) for path, lines in found.items())


def test_axe_finds_a_violation_when_there_is_one(chromium: Any, console: tuple[str, dict[str, int]]) -> None:
    """The run can fail: an image without a text alternative is found."""
    base, _ = console
    tab = _tab(chromium, base, ANONYMOUS, WIDTHS[0])
    try:
        tab.goto(base + "/staff/login")
        tab.evaluate(
            "document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=\"/favicon.ico\">')"
        )
        assert any(line.startswith("image-alt") for line in violations(tab))
    finally:
        tab.context.close()
