"""ivr.twiml_text writes the same bytes as twilio's own ``str(response)``, and so
does its stencil of the ringing answer.

Twilio acts on every attribute and every character of a TwiML answer, so
the fast renderer must not differ from the library's in a single byte:
checked here over random documents, and over every document the whole test
suite renders (``tests/conftest.py`` compares each one as it is served).
"""

from __future__ import annotations

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from callflows import inbound as flow
from callflows.languages import LANGUAGES, Language
from callflows.phone import Caller
from callflows.status import CallerIdShown, Greeting
from ivr import twiml_text, voice
from ivr.webhook import apology, external_url
from tests.twiml_rules import SERVED_VIOLATIONS


def twilio_bytes(document: VoiceResponse) -> bytes:
    return str(document).encode("utf-8")


def our_bytes(document: VoiceResponse) -> bytes:
    return twiml_text.render(document).encode("utf-8", "xmlcharrefreplace")


# Text that stresses escaping: markup, quotes, entities, whitespace that
# attributes must encode, non-ASCII, and lone surrogates (which ElementTree
# writes as character references).
awkward_text = st.text(
    alphabet=st.sampled_from(list("a Z0&<>\"'\r\n\t;#é€😀")) | st.characters(), max_size=30
)
attribute_value = awkward_text | st.booleans() | st.integers(-5, 500)


@st.composite
def documents(draw: st.DrawFn) -> VoiceResponse:
    response = VoiceResponse()
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["say", "dial", "gather", "pause", "hangup", "reject", "text", "dict"]))
        if kind == "say":
            response.say(draw(awkward_text), voice=draw(attribute_value), language="en-GB")
        elif kind == "dial":
            dial = Dial(
                answer_on_bridge=draw(st.booleans()),
                timeout=draw(attribute_value),
                caller_id=draw(st.none() | awkward_text),
                action=draw(awkward_text),
            )
            dial.number(draw(awkward_text), url=draw(awkward_text))
            response.append(dial)
        elif kind == "gather":
            gather = Gather(num_digits=1, action=draw(awkward_text), timeout=draw(attribute_value))
            gather.say(draw(awkward_text))
            if draw(st.booleans()):
                gather.pause(length=draw(st.integers(0, 3)))
            response.append(gather)
        elif kind == "pause":
            response.pause()
        elif kind == "hangup":
            response.hangup()
        elif kind == "reject":
            response.reject(reason=draw(st.none() | st.sampled_from(["busy", "rejected"])))
        elif kind == "text":
            # A bare string: the element's text before any verb, else the
            # previous verb's tail; a later one replaces an earlier one.
            response.append(draw(awkward_text))
        else:
            response.add_child("Custom", {"key": draw(awkward_text)}, flag=draw(st.booleans()))
    return response


@settings(max_examples=400, deadline=None)
@given(documents())
def test_random_documents_render_byte_for_byte_as_twilio_does(document: VoiceResponse) -> None:
    assert our_bytes(document) == twilio_bytes(document)


def test_an_empty_verb_closes_itself_and_the_declaration_leads() -> None:
    response = VoiceResponse()
    response.hangup()
    assert our_bytes(response) == b'<?xml version="1.0" encoding="UTF-8"?><Response><Hangup /></Response>'


def test_the_apology_renders_as_twilio_does() -> None:
    assert our_bytes(apology()) == twilio_bytes(apology())


# --- the ringing answer's stencil ------------------------------------------------------

# Characters XML can carry that escaping must get right (the document is
# served inside a request, so the suite also parses it as Twilio would).
markup_text = st.text(alphabet=st.sampled_from(list("a Z0+&<>\"';#é€😀")), max_size=30)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    greeting=st.sampled_from(list(Greeting)),
    shown=st.sampled_from(list(CallerIdShown)),
    language=st.sampled_from(LANGUAGES),
    caller=st.none() | st.sampled_from(["+447700900123", "+442079460001"]) | markup_text,
    member_phone=st.sampled_from(["+447700900999", "+442079460001"]) | markup_text,
    line=st.sampled_from(["+442079460001"]) | markup_text,
    call_sid=st.sampled_from(["CA0123456789abcdef0123456789abcdef", ""]) | markup_text,
    timeout=st.integers(5, 60),
)
def test_the_ringing_stencil_writes_what_rendering_the_document_writes(
    app: Flask,
    greeting: Greeting,
    shown: CallerIdShown,
    language: Language,
    caller: str | None,
    member_phone: str,
    line: str,
    call_sid: str,
    timeout: int,
) -> None:
    """``ivr.voice`` rings the member from a stencil of ``flow.ring_member``'s
    document; filled with any values, its bytes are those of the document
    built with them and rendered whole (and so, by the tests above, of
    twilio's own ``str()``)."""
    screening = flow.Screening(
        flow.InboundOutcome.RING,
        safety_number=line,
        member_phone=member_phone,
        greeting=greeting,
        caller_id_shown=shown,
        caller_language=language,
    )
    with app.test_request_context("/voice/incoming", method="POST"):
        answered = {voice.ANSWERED: "1"} if flow.answered_before_ringing(screening) else {}
        urls = flow.InboundUrls(
            access_number="",
            dial_action=external_url("voice.dial_result", call=call_sid, **answered),
            whisper=external_url("voice.whisper", call=call_sid),
            status_callback=external_url("voice.status"),
        )
        whole = flow.ring_member(screening, Caller(caller), urls, timeout)
        from_stencil = voice._ring_member(screening, Caller(caller), call_sid, timeout)
    # Arbitrary values make documents Twilio would refuse (an empty <Number>):
    # the rules for served TwiML (tests/conftest.py) are not this test's subject.
    SERVED_VIOLATIONS.clear()
    assert from_stencil.encode("utf-8", "xmlcharrefreplace") == our_bytes(whole)
