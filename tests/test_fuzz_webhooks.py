"""Every Twilio-facing endpoint fuzzed with hypothesis.

Random forms (Twilio's own keys and others, repeated keys), keypad digits,
real, national, withheld and malformed numbers, unicode, invalid UTF-8 and
oversized values, random query strings. Signed exactly as Twilio signs them,
each must get 200 and TwiML (XML with a ``<Response>`` root) — never a 5xx,
and never an internal failure swallowed into the apology. Unsigned or
wrongly signed, each must get 403.

The endpoints are read from the app's URL map (every POST rule of the voice,
menu and sms blueprints), so a new webhook is fuzzed without touching this
file.
"""

from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis import Redis

from tests.support.people import LINE, MEMBER_PHONE, EnrolledMember
from tests.support.twilio import TwilioClient

TWILIO_BLUEPRINTS = ("voice", "menu", "checkin_menu", "checkin_call", "sms")


def _twilio_paths() -> list[str]:
    from ivr import checkin_call, checkin_menu, menu, sms, voice

    probe = Flask(__name__)
    for blueprint in (voice.bp, menu.bp, checkin_menu.bp, checkin_call.bp, sms.bp):
        probe.register_blueprint(blueprint)
    return sorted(
        rule.rule
        for rule in probe.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in TWILIO_BLUEPRINTS and "POST" in (rule.methods or ())
    )


PATHS = _twilio_paths()

# Ids Twilio makes up: fuzzed with junk, never with a member's number (a
# number there would be echoed by logs of ids and trip tests/test_log_scan.py).
ID_KEYS = st.sampled_from(["CallSid", "AccountSid", "ParentCallSid", "RecordingSid"])
KEYS = st.sampled_from(
    [
        "From",
        "To",
        "Caller",
        "Called",
        "Digits",
        "FinishedOnKey",
        "CallStatus",
        "Direction",
        "SequenceNumber",
        "CallDuration",
        "DialCallStatus",
        "DialBridged",
        "DialCallDuration",
        "RecordingUrl",
        "RecordingDuration",
        "RecordingStatus",
        "Body",
    ]
) | st.text(min_size=1, max_size=12)
NUMBERS = st.sampled_from(
    [
        MEMBER_PHONE,
        "020 7946 0123",
        "02079460123",
        LINE,
        "+447911123456",
        "Anonymous",
        "Restricted",
        "+266696687",
        "",
        "+",
        "+44",
        "999",
        "+1 (555) 010-0000",
        "00442079460123",
    ]
)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
VALUES = st.one_of(
    NUMBERS,
    st.text("0123456789*#", max_size=24),
    TEXT,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["completed", "in-progress", "no-answer", "busy", "true", "false", "CA", "RE"]),
    # oversized, yet under the app's 64 KiB body limit
    st.builds(lambda c, n: c * n, st.sampled_from("x9#é"), st.integers(500, 4000)),
)
ID_VALUES = st.one_of(
    st.from_regex(r"\A(CA|RE|AC)[0-9a-f]{32}\Z"),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    st.builds(lambda n: "CA" + "f" * n, st.integers(60, 3000)),
)
# Ten oversized values can add up past the app's 64 KiB body limit ("é" is
# six bytes encoded); a body over the limit has a test of its own below.
FORMS = st.lists(st.tuples(KEYS, VALUES) | st.tuples(ID_KEYS, ID_VALUES), max_size=10).filter(
    lambda pairs: len(_body(pairs, "utf-8")) < 64 * 1024
)
# Query strings the app could have put in its own URLs, and junk; an id out of
# PostgreSQL's integer range has a test of its own below.
QUERIES = st.sampled_from(
    [
        "",
        "call=CAfuzz",
        "call=CAfuzz&answered=1",
        "report=1",
        "report=x",
        "retry=1",
        "call=",
        "report=-1",
        "report=0",
    ]
)
ENCODINGS = st.sampled_from(["utf-8", "latin-1"])

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def fuzz_app(app: Flask, member: EnrolledMember, redis: Redis) -> Iterator[Flask]:
    """The app with a member, so some random forms reach the real flows."""
    yield app


class SwallowedFailures(logging.Handler):
    """Internal failures a voice view turned into the apology (ivr/webhook.py)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().splitlines()[0])


@pytest.fixture
def swallowed() -> Iterator[SwallowedFailures]:
    handler = SwallowedFailures()
    logger = logging.getLogger("ivr")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def _body(pairs: list[tuple[str, str]], encoding: str) -> bytes:
    return urlencode(pairs, encoding=encoding, errors="replace").encode("ascii")


def _post(app: Flask, path: str, query: str, body: bytes, signature: str | None):
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    return app.test_client().post(
        path + (f"?{query}" if query else ""),
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )


def _twiml_root(response) -> ET.Element:
    assert response.mimetype == "text/xml", response.mimetype
    root = ET.fromstring(response.get_data())  # noqa: S314 (our own TwiML, in a test)
    assert root.tag == "Response"
    return root


@pytest.mark.parametrize("path", PATHS)
@FUZZ
@given(form=FORMS, query=QUERIES, encoding=ENCODINGS)
def test_signed_random_forms_get_twiml(
    twilio: TwilioClient,
    fuzz_app: Flask,
    redis: Redis,
    swallowed: SwallowedFailures,
    path: str,
    form: list[tuple[str, str]],
    query: str,
    encoding: str,
) -> None:
    body = _body(form, encoding)
    # Twilio signs the parameters it sends; the guard reads the body as
    # UTF-8 (invalid bytes replaced), so that is what a valid signature covers.
    received = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    url = twilio.suite.public_base_url + path + (f"?{query}" if query else "")
    swallowed.messages.clear()

    response = _post(fuzz_app, path, query, body, twilio.sign(url, received))

    assert response.status_code == 200, (path, response.status_code)
    _twiml_root(response)
    assert swallowed.messages == [], (path, swallowed.messages)
    redis.flushdb()  # jobs made of random input are not this test's subject


@FUZZ
@given(
    path=st.sampled_from(PATHS),
    form=FORMS,
    query=QUERIES,
    # Any ASCII a header can carry: CR, LF and NUL end or break a header
    # line, so no HTTP server hands such a value to the app.
    signature=st.none() | st.just("") | TEXT.filter(lambda s: s.isascii() and not set(s) & set("\r\n\0")),
)
def test_unsigned_or_wrongly_signed_requests_get_403(
    fuzz_app: Flask, path: str, form: list[tuple[str, str]], query: str, signature: str | None
) -> None:
    response = _post(fuzz_app, path, query, _body(form, "utf-8"), signature)
    assert response.status_code == 403, (path, response.status_code)


@pytest.mark.parametrize("path", PATHS)
def test_a_body_over_the_size_limit_is_refused_not_crashed_on(
    twilio: TwilioClient, fuzz_app: Flask, path: str
) -> None:
    # Twilio never sends 64 KiB; Flask refuses it before any view runs.
    body = _body([("Body", "x" * 70_000)], "utf-8")
    url = twilio.suite.public_base_url + path
    response = _post(fuzz_app, path, "", body, twilio.sign(url, [("Body", "x" * 70_000)]))
    assert response.status_code in (403, 413), response.status_code


def test_every_contract_webhook_is_fuzzed() -> None:
    for path in ("/voice/incoming", "/voice/status", "/voice/fallback", "/sms/incoming"):
        assert path in PATHS


@pytest.mark.parametrize(
    "path", ["/voice/menu/consent", "/voice/menu/consent-answer", "/voice/menu/recording"]
)
def test_an_id_beyond_the_integer_range_is_not_an_internal_failure(
    twilio: TwilioClient, fuzz_app: Flask, swallowed: SwallowedFailures, path: str
) -> None:
    """A signed request naming a report id no row can have gets the ordinary
    answer for an unknown report, not the apology of an internal failure."""
    query = "report=99999999999"
    form = [("CallSid", "CAfuzz"), ("Digits", "1")]
    response = _post(
        fuzz_app,
        path,
        query,
        _body(form, "utf-8"),
        twilio.sign(twilio.suite.url(path, query), form),
    )
    assert response.status_code == 200
    _twiml_root(response)
    assert swallowed.messages == []
