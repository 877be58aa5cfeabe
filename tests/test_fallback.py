"""The fallback that does not share the app's fate: FALLBACK_URL, the static
document ``fallback-twiml`` prints, and the start-up warning in production.
(``numbers sync`` setting it on every number: tests/test_twilio_adapter.py.)"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from core.settings import load_settings
from tests.support.suite import SuiteConfig
from tests.support.twilio import TwilioClient
from tests.twiml_rules import Where, violations

APOLOGY = "Sorry, this number cannot take your call right now. Please try again later. Goodbye."
STATIC = "https://fallback.example.net/safety/fallback.xml"


def test_fallback_twiml_prints_a_calm_apology_and_nothing_else(app: Flask, twilio: TwilioClient) -> None:
    result = app.test_cli_runner().invoke(args=["fallback-twiml"])
    assert result.exit_code == 0, result.output
    document = result.output.strip()
    body = document.split("?>", 1)[1]
    root = ET.fromstring(body)  # noqa: S314  (our own output)
    assert [verb.tag for verb in root] == ["Say", "Hangup"]
    assert root[0].text == APOLOGY
    assert not re.search(r"\d", body)  # no number, no id, nothing of a call
    # The same words as the app's own /voice/fallback, for partial failures.
    served = twilio.post("/voice/fallback", CallSid="CA1", ErrorCode="11200", ErrorUrl="https://x/voice")
    assert served.body.decode() == document
    assert violations(document, Where.FALLBACK) == []


def test_fallback_url_defaults_to_the_apps_own(tmp_path: Path) -> None:
    settings = load_settings({"PUBLIC_BASE_URL": "https://sn.example.org/"}, tmp_path)
    assert settings.voice_fallback_url == "https://sn.example.org/voice/fallback"
    settings = load_settings({"PUBLIC_BASE_URL": "https://sn.example.org", "FALLBACK_URL": STATIC}, tmp_path)
    assert settings.voice_fallback_url == STATIC


FALLBACK_WARNING = "FALLBACK_URL"


@pytest.mark.parametrize(
    ("fallback", "warned"),
    [
        (None, True),  # unset: the app's own /voice/fallback, down with the app
        (f"{SuiteConfig().public_base_url}/static/fallback.xml", True),  # same origin
        ("HTTPS://Safety.Example.org:443/fallback.xml", True),  # the same origin, spelt otherwise
        (STATIC, False),
        ("https://safety.example.org.fallback-host.net/fallback.xml", False),
    ],
)
def test_production_start_up_warns_when_the_fallback_shares_the_apps_fate(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture, fallback: str | None, warned: bool
) -> None:
    caplog.set_level(logging.WARNING, logger="ivr")
    make_app(SAFETY_ENV="production", FALLBACK_URL=fallback)
    warnings = [r.getMessage() for r in caplog.records if FALLBACK_WARNING in r.getMessage()]
    assert bool(warnings) is warned, warnings
    if warned:
        assert "fallback-twiml" in warnings[0]


def test_development_start_up_does_not_warn(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ivr")
    make_app()
    assert not [r for r in caplog.records if FALLBACK_WARNING in r.getMessage()]
