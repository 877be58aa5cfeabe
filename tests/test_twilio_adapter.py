"""The Twilio adapter against the local fake Twilio: auth, origin, errors, numbers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from callflows.errors import TwilioResourceGone, TwilioUnavailable
from simulator.fake_twilio import FakeTwilio
from tests.support.suite import SuiteConfig
from worker.twilio_adapter import TwilioAdapter, rebase, webhook_urls

STATIC_FALLBACK = "https://safety-fallback.s3.example.net/fallback.xml"
AUDIO = b"RIFF" + bytes(range(256)) * 40


SUITE = SuiteConfig()  # the account the fake_twilio fixture serves


def adapter(fake: FakeTwilio, token: str = SUITE.auth_token, timeout: float = 5.0) -> TwilioAdapter:
    return TwilioAdapter(SUITE.account_sid, token, fake.base_url, timeout=timeout)


def test_fake_twilio_demands_basic_auth(fake_twilio: FakeTwilio) -> None:
    import requests

    fake_twilio.add_recording("RE1", AUDIO)
    url = fake_twilio.recording_url("RE1") + ".wav"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, auth=(SUITE.account_sid, "wrong"), timeout=5).status_code == 401
    assert requests.get(url, auth=(SUITE.account_sid, SUITE.auth_token), timeout=5).content == AUDIO


def test_downloads_recording_with_basic_auth_through_the_configured_origin(fake_twilio: FakeTwilio) -> None:
    fake_twilio.add_recording("RE1", AUDIO, duration=42)
    tw = adapter(fake_twilio)
    assert tw.fetch_recording("RE1") == AUDIO
    assert tw.recording_seconds("RE1") == 42
    media = [r for r in fake_twilio.requests if r.path.endswith("/Recordings/RE1.wav")]
    assert len(media) == 1 and media[0].status == 200


def test_wrong_credentials_are_not_retried_into_success(fake_twilio: FakeTwilio) -> None:
    fake_twilio.add_recording("RE1", AUDIO)
    with pytest.raises(TwilioUnavailable, match="401"):
        adapter(fake_twilio, token="wrong").fetch_recording("RE1")


def test_missing_recording_is_gone_not_unavailable(fake_twilio: FakeTwilio) -> None:
    with pytest.raises(TwilioResourceGone):
        adapter(fake_twilio).fetch_recording("RE404")


def test_server_errors_and_timeouts_are_unavailable(fake_twilio: FakeTwilio) -> None:
    fake_twilio.add_recording("RE1", AUDIO)
    tw = adapter(fake_twilio, timeout=0.5)
    fake_twilio.fail_next(1)
    with pytest.raises(TwilioUnavailable, match="500"):
        tw.fetch_recording("RE1")
    fake_twilio.stall_next(1, 2.0)
    with pytest.raises(TwilioUnavailable):
        tw.fetch_recording("RE1")
    assert tw.fetch_recording("RE1") == AUDIO


def test_deletes_recordings_and_call_records(fake_twilio: FakeTwilio) -> None:
    fake_twilio.add_recording("RE1", AUDIO)
    tw = adapter(fake_twilio)
    assert tw.delete_recording("RE1") is True
    assert tw.delete_recording("RE1") is False  # already gone: not an error
    assert fake_twilio.deleted_recordings == ["RE1"]
    assert tw.delete_call("CA1") is True
    assert tw.delete_call("CA1") is False
    assert fake_twilio.deleted_calls == ["CA1"]


def test_sids_are_checked_before_they_reach_a_url(fake_twilio: FakeTwilio) -> None:
    tw = adapter(fake_twilio)
    for bad in ("../Calls/CA1", "RE1/../../x", "CA1"):
        with pytest.raises(ValueError):
            tw.fetch_recording(bad)
    assert fake_twilio.requests == []


def test_recording_urls_are_resolved_against_the_configured_origin(fake_twilio: FakeTwilio) -> None:
    tw = adapter(fake_twilio)
    sent = f"https://api.twilio.com/2010-04-01/Accounts/{SUITE.account_sid}/Recordings/RE1"
    assert tw.resolve_recording_url(sent) == fake_twilio.recording_url("RE1")
    with pytest.raises(ValueError):
        tw.resolve_recording_url("https://api.twilio.com/2010-04-01/Accounts/ACother/Recordings/RE1")
    with pytest.raises(ValueError):
        tw.resolve_recording_url("https://evil.example.org/steal")
    assert rebase("https://api.twilio.com/x?y=1", "http://127.0.0.1:1") == "http://127.0.0.1:1/x?y=1"
    assert rebase("https://example.org/x", "http://127.0.0.1:1") == "https://example.org/x"


def test_buys_a_number_with_the_four_webhooks(fake_twilio: FakeTwilio) -> None:
    fake_twilio.add_available("20", "+442079460555")
    bought = adapter(fake_twilio).buy_number("20", SUITE.public_base_url, STATIC_FALLBACK)
    assert bought.e164 == "+442079460555"
    number = fake_twilio.numbers[bought.sid]
    assert number["voice_url"] == f"{SUITE.public_base_url}/voice/incoming"
    assert number["status_callback"] == f"{SUITE.public_base_url}/voice/status"
    assert number["voice_fallback_url"] == STATIC_FALLBACK
    assert number["sms_url"] == f"{SUITE.public_base_url}/sms/incoming"
    assert number["voice_method"] == "POST"


def test_no_number_on_offer_is_a_clear_error(fake_twilio: FakeTwilio) -> None:
    fake_twilio.add_available("99")  # an area code with nothing on offer
    with pytest.raises(TwilioResourceGone, match="area code 99"):
        adapter(fake_twilio).buy_number("99", SUITE.public_base_url, STATIC_FALLBACK)


@pytest.fixture
def numbers_runner(make_app: Callable[..., Flask], fake_twilio: FakeTwilio) -> FlaskCliRunner:
    return make_app(TWILIO_API_BASE_URL=fake_twilio.base_url, REDIS_URL=None).test_cli_runner()


@pytest.fixture
def static_fallback_runner(make_app: Callable[..., Flask], fake_twilio: FakeTwilio) -> FlaskCliRunner:
    """The CLI of an app whose FALLBACK_URL is on separate static hosting."""
    app = make_app(TWILIO_API_BASE_URL=fake_twilio.base_url, REDIS_URL=None, FALLBACK_URL=STATIC_FALLBACK)
    return app.test_cli_runner()


def test_numbers_sync_sets_webhooks_on_every_pool_number(
    numbers_runner: FlaskCliRunner, fake_twilio: FakeTwilio
) -> None:
    stale = fake_twilio.add_number("+442079460001", voice_url="https://old.example.org/voice")
    fake_twilio.add_number("+442079460002")
    result = numbers_runner.invoke(args=["numbers", "add", "+442079460001", "+442079460002"])
    assert result.exit_code == 0, result.output
    result = numbers_runner.invoke(args=["numbers", "sync"])
    assert result.exit_code == 0, result.output
    # FALLBACK_URL unset: the app's own /voice/fallback.
    expected = webhook_urls(SUITE.public_base_url, f"{SUITE.public_base_url}/voice/fallback")
    for number in fake_twilio.numbers.values():
        assert {k: number[k] for k in expected} == expected
    assert fake_twilio.numbers[stale]["voice_url"] == f"{SUITE.public_base_url}/voice/incoming"
    assert "2 number(s) configured" in result.output


def test_numbers_sync_sets_fallback_url_on_every_number(
    static_fallback_runner: FlaskCliRunner, fake_twilio: FakeTwilio
) -> None:
    """The fallback lives apart from the app, so it answers when the app is down."""
    fake_twilio.add_number("+442079460001", voice_fallback_url=f"{SUITE.public_base_url}/voice/fallback")
    fake_twilio.add_number("+442079460002")
    added = static_fallback_runner.invoke(args=["numbers", "add", "+442079460001", "+442079460002"])
    assert added.exit_code == 0, added.output
    result = static_fallback_runner.invoke(args=["numbers", "sync"])
    assert result.exit_code == 0, result.output
    numbers = list(fake_twilio.numbers.values())
    assert [n["voice_fallback_url"] for n in numbers] == [STATIC_FALLBACK] * 2
    assert [n["voice_fallback_method"] for n in numbers] == ["POST"] * 2
    assert [n["voice_url"] for n in numbers] == [f"{SUITE.public_base_url}/voice/incoming"] * 2
    assert STATIC_FALLBACK in result.output


def test_numbers_buy_sets_fallback_url(
    static_fallback_runner: FlaskCliRunner, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.add_available("20", "+442079460778")
    assert static_fallback_runner.invoke(args=["numbers", "buy", "--area-code", "20"]).exit_code == 0
    bought = fake_twilio.number_by_e164("+442079460778")
    assert bought is not None and bought["voice_fallback_url"] == STATIC_FALLBACK


def test_numbers_sync_reports_numbers_missing_at_twilio(
    numbers_runner: FlaskCliRunner, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.add_number("+442079460001")
    numbers_runner.invoke(args=["numbers", "add", "+442079460001", "+442079460003"])
    result = numbers_runner.invoke(args=["numbers", "sync"])
    assert result.exit_code != 0
    assert "1 number(s) configured" in result.output
    assert "+442079460003" in result.output


def test_numbers_buy_adds_the_number_to_the_pool(
    numbers_runner: FlaskCliRunner, fake_twilio: FakeTwilio, db
) -> None:
    from sqlalchemy import select

    from storage.models import LineStatus, SafetyNumber

    fake_twilio.add_available("20", "+442079460777")
    result = numbers_runner.invoke(args=["numbers", "buy", "--area-code", "020"])
    assert result.exit_code == 0, result.output
    assert "+442079460777" in result.output
    with db.session() as s:
        line = s.scalars(select(SafetyNumber).where(SafetyNumber.e164 == "+442079460777")).one()
        assert line.status == LineStatus.AVAILABLE
    bought = fake_twilio.number_by_e164("+442079460777")
    assert bought is not None
    assert bought["sms_url"] == f"{SUITE.public_base_url}/sms/incoming"


def test_numbers_buy_fails_cleanly_when_twilio_is_down(
    numbers_runner: FlaskCliRunner, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.fail_next(5)
    result = numbers_runner.invoke(args=["numbers", "buy", "--area-code", "20"])
    assert result.exit_code != 0
    assert "Twilio" in result.output


def test_numbers_buy_refuses_a_bad_area_code(numbers_runner: FlaskCliRunner, fake_twilio: FakeTwilio) -> None:
    result = numbers_runner.invoke(args=["numbers", "buy", "--area-code", "London"])
    assert result.exit_code != 0 and "digits only" in result.output
    assert fake_twilio.requests == []
