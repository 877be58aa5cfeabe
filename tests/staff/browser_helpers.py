"""What the browser tests share: Debian's Chromium, a tab, and signing in
through the real form."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.staff.helpers import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]
TIMEOUT_MS = 15_000


@contextmanager
def chromium_browser() -> Iterator[Any]:
    """Headless Chromium driven by Playwright, closed afterwards. (The test
    modules skip themselves where Playwright or Chromium is missing.)"""
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_tab(browser: Any, **context_options: Any) -> Any:
    """A tab in a context of its own (``context_options``: viewport, mobile…)."""
    tab = browser.new_context(**context_options).new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    return tab


def fill_sign_in(tab: Any, email: str, password: str = PASSWORD) -> None:
    """Type into the sign-in form the tab shows and send it."""
    tab.get_by_label("Email").fill(email)
    tab.get_by_label("Password").fill(password)
    tab.get_by_role("button", name="Sign in").click()


def sign_in(tab: Any, base: str, email: str, password: str = PASSWORD) -> None:
    """Open the sign-in page, sign in, and wait for the inbox."""
    tab.goto(base + "/staff/login")
    fill_sign_in(tab, email, password)
    tab.wait_for_url("**/staff/reports")
