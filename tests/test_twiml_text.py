"""ivr.twiml_text writes the same bytes as twilio's own ``str(response)``.

Twilio acts on every attribute and every character of a TwiML answer, so
the fast renderer must not differ from the library's in a single byte:
checked here over random documents, and over every document the whole test
suite renders (``tests/conftest.py`` compares each one as it is served).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from ivr import twiml_text
from ivr.webhook import apology


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
