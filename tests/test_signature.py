"""X-Twilio-Signature: Twilio's published test vector, fail-closed rejections
that write, enqueue and log nothing, and acceptance behind a TLS proxy."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Flask, Response
from hypothesis import given, settings
from hypothesis import strategies as st
from redis import Redis
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from ivr import create_app
from ivr.webhook import SignedForm, require_twilio_signature, twilio_signature
from storage.db import Database
from storage.models import Block, Call
from tests.support.people import LINE, Enrol
from tests.support.suite import AppConfig, SuiteConfig
from tests.support.twilio import TwilioClient, twiml_of

# Twilio's published example (twilio-php docs "Validate Incoming Requests",
# and twilio-python's own tests): auth token 12345.
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
VECTOR_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="

CALLER = "+447911123456"
INCOMING = {"CallSid": "CAsig0001", "From": CALLER, "To": LINE, "CallStatus": "ringing"}


def test_published_test_vector() -> None:
    validator = RequestValidator("12345")
    assert validator.compute_signature(VECTOR_URL, VECTOR_PARAMS) == VECTOR_SIGNATURE
    assert validator.validate(VECTOR_URL, VECTOR_PARAMS, VECTOR_SIGNATURE)
    assert not validator.validate(VECTOR_URL, {**VECTOR_PARAMS, "Digits": "1235"}, VECTOR_SIGNATURE)


def test_our_signature_is_the_published_vectors() -> None:
    assert twilio_signature("12345", VECTOR_URL, list(VECTOR_PARAMS.items())) == VECTOR_SIGNATURE


# Keys and values that stress the library's ordering: repeats, blanks,
# case, prefixes of each other, non-ASCII.
_form_text = st.text(alphabet=st.sampled_from(list("aAbB_0 1+%&=é€")), max_size=6)


@settings(max_examples=300)
@given(
    url=st.sampled_from([VECTOR_URL, "https://example.org/voice/incoming", "https://x.test/v?call=CA1&a=é"]),
    form=st.lists(st.tuples(_form_text, _form_text), max_size=8),
)
def test_our_signature_is_twilios_over_any_form(url: str, form: list[tuple[str, str]]) -> None:
    """ivr.webhook.twilio_signature writes the library's algorithm out; every
    repeated key, repeated value and ordering must come out the same."""
    expected = RequestValidator("tok3n").compute_signature(url, SignedForm(form))
    assert twilio_signature("tok3n", url, form) == expected


def test_our_guard_accepts_the_published_vector(app_config: AppConfig, db: Database, tmp_path: Path) -> None:
    """The same bytes Twilio's example sends, to a route guarded by our hook."""
    app = create_app(app_config(PUBLIC_BASE_URL="https://mycompany.com", database=db))

    def myapp() -> Response:
        return require_twilio_signature() or Response("ok")

    app.add_url_rule("/myapp.php", "vector", myapp, methods=["POST"])
    client = app.test_client()
    body = urlencode(VECTOR_PARAMS)
    kwargs = {"data": body, "content_type": "application/x-www-form-urlencoded"}
    headers = {"X-Twilio-Signature": VECTOR_SIGNATURE}
    ok = client.post("/myapp.php?foo=1&bar=2", headers=headers, **kwargs)
    assert ok.status_code == 200 and ok.get_data() == b"ok"
    swapped = client.post("/myapp.php?foo=1&bar=3", headers=headers, **kwargs)
    assert swapped.status_code == 403


def test_our_endpoint_with_the_vector_signed_the_same_way(
    suite: SuiteConfig, app_config: AppConfig, db: Database, redis: Redis, tmp_path: Path
) -> None:
    app = create_app(app_config(PUBLIC_BASE_URL="https://mycompany.com", database=db))
    url = "https://mycompany.com/voice/status?foo=1&bar=2"
    signature = RequestValidator(suite.auth_token).compute_signature(url, VECTOR_PARAMS)
    response = app.test_client().post(
        "/voice/status?foo=1&bar=2",
        data=urlencode(VECTOR_PARAMS),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 200
    assert redis.llen("rq:queue:safety") == 1


# --- failing closed ----------------------------------------------------------


def _nothing_happened(db: Database, redis: Redis, caplog: pytest.LogCaptureFixture) -> None:
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 0
        assert s.scalar(select(func.count()).select_from(Block)) == 0
    assert redis.dbsize() == 0
    # No number, not even the digits of one, reaches the log.
    assert not re.search(r"\d{4,}", caplog.text)


def _forbidden(response: object) -> None:
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert b"Response" not in response.get_data()  # type: ignore[attr-defined]


@pytest.mark.usefixtures("member")
def test_missing_signature(client, db, redis, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.post("/voice/incoming", data=INCOMING)
    _forbidden(response)
    _nothing_happened(db, redis, caplog)


@pytest.mark.usefixtures("member")
def test_wrong_token(twilio: TwilioClient, client, db, redis, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    _forbidden(twilio.send("/voice/incoming", INCOMING, token="not-the-token"))
    _forbidden(twilio.send("/voice/status", {"CallSid": "CA1", "CallStatus": "completed"}, token="x"))
    _nothing_happened(db, redis, caplog)


@pytest.mark.usefixtures("member")
def test_tampered_form(twilio: TwilioClient, suite: SuiteConfig, client, db, redis, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    url = suite.public_base_url + "/voice/incoming"
    signature = twilio.sign(url, INCOMING)
    tampered = {**INCOMING, "From": "+447911999999"}
    response = client.post("/voice/incoming", data=tampered, headers={"X-Twilio-Signature": signature})
    _forbidden(response)
    extra = client.post(
        "/voice/incoming", data={**INCOMING, "Extra": "1"}, headers={"X-Twilio-Signature": signature}
    )
    _forbidden(extra)
    _nothing_happened(db, redis, caplog)


@pytest.mark.usefixtures("member")
def test_tampered_query(twilio: TwilioClient, suite: SuiteConfig, client, db, redis, caplog) -> None:
    """A screen answer signed for one call cannot be pointed at another."""
    caplog.set_level(logging.DEBUG)
    form = {"CallSid": "CAleg", "Digits": "2"}
    signature = twilio.sign(suite.public_base_url + "/voice/screen?call=CAone", form)
    response = client.post("/voice/screen?call=CAtwo", data=form, headers={"X-Twilio-Signature": signature})
    _forbidden(response)
    _nothing_happened(db, redis, caplog)


@pytest.mark.usefixtures("member")
def test_signature_replayed_to_another_path(
    twilio: TwilioClient, suite: SuiteConfig, client, db, redis, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    signature = twilio.sign(suite.public_base_url + "/voice/status", INCOMING)
    for path in ("/voice/incoming", "/voice/whisper", "/sms/incoming", "/voice/access/pin"):
        _forbidden(client.post(path, data=INCOMING, headers={"X-Twilio-Signature": signature}))
    _nothing_happened(db, redis, caplog)


TWILIO_BLUEPRINTS = ("voice", "access", "menu", "staff_call", "checkin_menu", "checkin_call", "sms")


def test_every_twilio_blueprint_is_guarded(app: Flask) -> None:
    client = app.test_client()
    paths = [
        str(rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in TWILIO_BLUEPRINTS and "POST" in (rule.methods or ())
    ]
    assert "/voice/incoming" in paths and "/sms/incoming" in paths
    assert "/voice/checkin/pin" in paths and "/voice/menu/checkin/duress" in paths
    for path in paths:
        assert client.post(path, data={"CallSid": "CA1"}).status_code == 403, path


# --- accepted -----------------------------------------------------------------


@pytest.mark.usefixtures("member")
def test_behind_a_tls_terminating_proxy(twilio: TwilioClient, suite: SuiteConfig, client, db) -> None:
    """The app sees plain http on an internal host; the signature is over the
    public https URL Twilio called, which is suite.public_base_url."""
    signature = twilio.sign(suite.public_base_url + "/voice/incoming", INCOMING)
    response = client.post(
        "/voice/incoming",
        data=INCOMING,
        base_url="http://10.0.0.7:8000",
        headers={"X-Twilio-Signature": signature, "Host": "10.0.0.7:8000"},
    )
    assert twiml_of(response).verbs == ["Dial"]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 1

    # A signature over the URL the app happens to see is not Twilio's.
    internal = twilio.sign("http://10.0.0.7:8000/voice/incoming", INCOMING)
    assert (
        client.post(
            "/voice/incoming",
            data=INCOMING,
            base_url="http://10.0.0.7:8000",
            headers={"X-Twilio-Signature": internal},
        ).status_code
        == 403
    )


def test_mounted_under_a_prefix(
    app_config: AppConfig, suite: SuiteConfig, db: Database, enrol: Enrol
) -> None:
    """Behind a proxy that mounts the app at /safety (SCRIPT_NAME), the URLs the
    app hands to Twilio and the URLs the guard checks agree."""
    app = create_app(app_config(PUBLIC_BASE_URL="https://proxy.example.org", database=db))
    enrol()
    client = app.test_client()
    signer = TwilioClient(client, suite)
    first = "https://proxy.example.org/safety/voice/incoming"
    response = client.post(
        "/voice/incoming",
        data=INCOMING,
        base_url="http://10.0.0.7:8000/safety",
        headers={"X-Twilio-Signature": signer.sign(first, INCOMING)},
    )
    whisper_url = twiml_of(response).one("Dial/Number").get("url")
    assert whisper_url is not None
    assert whisper_url == "https://proxy.example.org/safety/voice/whisper?call=CAsig0001"
    # Twilio now posts to the URL it was given, signed over exactly that URL.
    leg = {"CallSid": "CAleg0001", "ParentCallSid": "CAsig0001"}
    parts = urlsplit(whisper_url)
    response = client.post(
        parts.path.removeprefix("/safety") + "?" + parts.query,
        data=leg,
        base_url="http://10.0.0.7:8000/safety",
        headers={"X-Twilio-Signature": signer.sign(whisper_url, leg)},
    )
    assert twiml_of(response).verbs == ["Gather", "Hangup"]


@pytest.mark.usefixtures("member")
def test_repeated_form_keys_are_all_signed(twilio: TwilioClient, suite: SuiteConfig, client, db) -> None:
    form = [*INCOMING.items(), ("StirVerstat", "TN-Validation-Passed-A"), ("StirVerstat", "TN-No-Validation")]
    assert twilio.send("/voice/incoming", form).status_code == 200

    # Dropping one of the repeated values after signing breaks the signature.
    signature = twilio.sign(suite.public_base_url + "/voice/incoming", form)
    response = client.post(
        "/voice/incoming",
        data=urlencode(form[:-1]),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 403
