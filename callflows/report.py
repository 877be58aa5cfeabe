"""What the member hears while recording an incident report."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from callflows.menu import gather_keys, goodbye, say

RECORD_PROMPT = (
    "After the tone, tell us what happened: when, where, and anything about the person. "
    "Press hash when you have finished."
)
NOTHING_RECORDED = "We did not hear anything, so no report was made. Goodbye."
ASK_CONSENT = "May an anonymous version go to the police? Press 1 for yes, 2 for no."
THANKS = "Thank you. Your report has been passed to a caseworker. Goodbye."


def record_report(*, max_seconds: int, action: str, status_callback: str) -> VoiceResponse:
    """A short prompt and ``<Record>``; the recording reaches us by ``status_callback``."""
    response = VoiceResponse()
    say(response, RECORD_PROMPT)
    response.record(
        action=action,
        method="POST",
        max_length=max_seconds,
        play_beep=True,
        finish_on_key="#",
        recording_status_callback=status_callback,
        # "absent": Twilio tells us when nothing was recorded, so the report
        # does not wait for a recording forever.
        recording_status_callback_event="completed absent",
        recording_status_callback_method="POST",
    )
    # Twilio only continues here when nothing was recorded.
    say(response, NOTHING_RECORDED)
    response.hangup()
    return response


def ask_consent(action: str, timeout: int) -> VoiceResponse:
    """The police-consent question; silence reaches ``action`` too and means no."""
    response = VoiceResponse()
    gather_keys(response, action=action, timeout=timeout, prompts=[ASK_CONSENT], num_digits=1)
    return response


def consent_given(digits: str) -> bool:
    """Only an explicit 1 is consent; 2, any other key and silence are not."""
    return digits == "1"


def report_received() -> VoiceResponse:
    return goodbye(THANKS)
