"""tests/twiml_rules.py catches what real Twilio would do otherwise than the
README promises: each rule shown failing on a document the app used to
serve, and the session-wide check shown to see a served document."""

from __future__ import annotations

import pytest
from flask import Flask
from twilio.twiml.voice_response import Dial, VoiceResponse

from callflows import inbound, prompts
from callflows import report as report_flow
from callflows.languages import ENGLISH
from callflows.speech import english_speaker
from ivr import twiml_text
from ivr.webhook import apology
from tests.twiml_rules import SERVED_VIOLATIONS, Where, violations, where_served

URL = "https://safety.example.org/voice/x"


def doc(response: VoiceResponse) -> str:
    return twiml_text.render(response)


def say(target: VoiceResponse, text: str) -> None:
    target.say(text, voice=ENGLISH.voice, language=ENGLISH.twilio_language)


def ringing(*, greeting: str | None = None, answer_on_bridge: bool = True, whisper: bool = True) -> str:
    response = VoiceResponse()
    if greeting is not None:
        say(response, greeting)
    dial = Dial(answer_on_bridge=answer_on_bridge, ring_tone="uk", timeout=20, action=URL, method="POST")
    dial.number("+442079460123", **({"url": URL} if whisper else {}))
    response.append(dial)
    return doc(response)


def test_where_a_document_is_served() -> None:
    assert where_served("/voice/incoming") is Where.SAFETY_NUMBER
    assert where_served("/voice/whisper") is where_served("/voice/screen") is Where.WHISPER
    assert where_served("/voice/fallback") is Where.FALLBACK
    assert where_served("/sms/incoming") is Where.MESSAGING
    assert where_served("/voice/menu/options") is Where.CALL
    # After a Dial nobody accepted, Twilio still reports the caller's leg as ringing.
    assert where_served("/voice/dial_result", "ringing") is Where.UNANSWERED
    assert where_served("/voice/dial_result", "in-progress") is Where.CALL


def test_after_a_dial_nobody_accepted_only_the_rejection_keeps_the_caller_unbilled() -> None:
    assert violations(doc(inbound.after_dial(False, caller_answered=False)), Where.UNANSWERED) == []
    # What the app used to serve there: "not available" answered the call.
    spoken = doc(inbound.after_dial(False, caller_answered=True))
    assert "answers a call nobody accepted" in violations(spoken, Where.UNANSWERED)[0]
    hangup = VoiceResponse()
    hangup.hangup()
    busy = VoiceResponse()
    busy.reject(reason="busy")
    for bad in (doc(hangup), doc(busy), doc(VoiceResponse())):
        assert violations(bad, Where.UNANSWERED) != [], bad
    # Once the member's greeting answered the call, a neutral word may follow.
    assert violations(spoken, Where.CALL) == []


def test_first_verb_rule_passes_what_keeps_the_caller_unbilled() -> None:
    reject = VoiceResponse()
    reject.reject()
    assert violations(doc(reject), Where.SAFETY_NUMBER) == []
    assert violations(ringing(), Where.SAFETY_NUMBER) == []
    # The member's explicit choice: the logged greeting may answer the call.
    assert violations(ringing(greeting=prompts.LOGGED_GREETING.text), Where.SAFETY_NUMBER) == []
    assert violations(doc(apology()), Where.SAFETY_NUMBER) == []  # an internal failure


@pytest.mark.parametrize(
    "document",
    [
        # The greeting the app used to speak before every Dial.
        ringing(greeting="Please hold while we connect your call."),
        # The answer dead lines used to get: answered, billed, distinguishable.
        doc(inbound.line_unavailable()),
        ringing(answer_on_bridge=False),
        ringing(whisper=False),
    ],
)
def test_first_verb_rule_catches_what_answers_or_bills_the_caller(document: str) -> None:
    assert violations(document, Where.SAFETY_NUMBER) != []


def test_every_rejection_is_a_bare_reject() -> None:
    busy = VoiceResponse()
    busy.reject(reason="busy")
    assert violations(doc(busy), Where.SAFETY_NUMBER) != []
    late = VoiceResponse()
    say(late, "Goodbye.")
    late.reject()
    assert violations(doc(late), Where.SAFETY_NUMBER) != []
    nested = '<?xml version="1.0" encoding="UTF-8"?><Response><Reject><Say>no</Say></Reject></Response>'
    assert "<Say> may not be nested in <Reject>" in violations(nested, Where.CALL)


def test_whisper_allows_only_what_twilio_allows_on_the_members_leg() -> None:
    whisper = inbound.whisper(
        inbound.WhisperFacts("456"), speaker=english_speaker(), screen_url=URL, timeout_seconds=6
    )
    assert violations(doc(whisper), Where.WHISPER) == []
    for bad in (ringing(), doc(VoiceResponse().redirect(URL))):
        assert violations(bad, Where.WHISPER) != []


def test_record_must_state_its_defaults_and_handle_silence() -> None:
    urls = report_flow.ReportUrls(URL, URL, URL)
    good = report_flow.record_report(
        urls, speaker=english_speaker(), max_seconds=180, silence_seconds=15, gather_timeout=6
    )
    assert violations(doc(good), Where.CALL) == []
    # The Record the app used to serve: Twilio's 5 s silence default.
    old = VoiceResponse()
    old.record(action=URL, max_length=180, play_beep=True, finish_on_key="#")
    say(old, "We did not hear anything, so no report was made. Goodbye.")
    assert any("silence timeout" in v for v in violations(doc(old), Where.CALL))
    short = report_flow.record_report(
        urls, speaker=english_speaker(), max_seconds=180, silence_seconds=5, gather_timeout=6
    )
    assert violations(doc(short), Where.CALL) != []
    last = VoiceResponse()
    last.record(action=URL, timeout=15, max_length=180, play_beep=True, finish_on_key="#")
    assert any("last verb" in v for v in violations(doc(last), Where.CALL))
    bare = VoiceResponse()
    bare.record(action=URL, timeout=15)
    say(bare, "Goodbye.")
    assert len(violations(doc(bare), Where.CALL)) == 3  # finishOnKey, maxLength, playBeep


def test_attributes_and_values_twilio_does_not_know_are_caught() -> None:
    for bad in (
        '<Response><Dial answerOnBridge="yes"><Number>+442079460123</Number></Dial></Response>',
        '<Response><Dial ringTone="gb"><Number>+442079460123</Number></Dial></Response>',
        '<Response><Say colour="red">hi</Say></Response>',
        "<Response><Gather><Dial>+442079460123</Dial></Gather></Response>",
        '<Response><Record timeout="15" maxLength="99999" finishOnKey="#" playBeep="true"/>'
        "<Hangup/></Response>",
        "<Response><Hangup>now</Hangup></Response>",
    ):
        assert violations(bad, Where.CALL) != [], bad


def test_fallback_and_sms_answers() -> None:
    assert violations(doc(apology()), Where.FALLBACK) == []
    assert violations(ringing(), Where.FALLBACK) != []
    assert violations(doc(VoiceResponse()), Where.MESSAGING) == []
    assert violations(doc(apology()), Where.MESSAGING) != []


def test_the_session_wide_check_sees_served_documents(app: Flask) -> None:
    """conftest's render hook applies the table to what a view serves."""
    with app.test_request_context("/voice/incoming", method="POST"):
        twiml_text.render(inbound.line_unavailable())
    caught = list(SERVED_VIOLATIONS)
    SERVED_VIOLATIONS.clear()  # caught on purpose: not this test's failure
    assert caught and "answers the call" in caught[0]
    # The leg's CallStatus reaches the rules: a word after a Dial nobody accepted is caught.
    with app.test_request_context("/voice/dial_result", method="POST", data={"CallStatus": "ringing"}):
        twiml_text.render(inbound.after_dial(False, caller_answered=True))
    caught = list(SERVED_VIOLATIONS)
    SERVED_VIOLATIONS.clear()
    assert caught and "answers a call nobody accepted" in caught[0]
