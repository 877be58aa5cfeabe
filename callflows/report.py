"""What the member hears while recording an incident report."""

from __future__ import annotations

from dataclasses import dataclass

from twilio.twiml.voice_response import VoiceResponse

from callflows.menu import ask_one_key, gather_keys, goodbye
from callflows.prompts import ASK_CONSENT, NO_REPORT, NOTHING_HEARD, RECORD_PROMPT, THANKS
from callflows.speech import Speaker


@dataclass(frozen=True, slots=True)
class ReportUrls:
    recorded: str  # the Record's action: Twilio posts here only when something was recorded
    recording_status: str  # where the recording (or its absence) is reported
    try_again: str  # the "press 1 to try again" Gather's action


def record_report(
    urls: ReportUrls, *, speaker: Speaker, max_seconds: int, silence_seconds: int, gather_timeout: int
) -> VoiceResponse:
    """The prompt and ``<Record>``, then what Twilio plays when nothing was recorded.

    ``timeout`` is the silence that ends the recording: Twilio's default of
    5 s cut members off mid-report when they paused to collect themselves.
    ``#`` ends it on purpose (not any key, Twilio's default, which a member
    could press by accident).
    """
    response = VoiceResponse()
    speaker.say(response, RECORD_PROMPT)
    response.record(
        action=urls.recorded,
        method="POST",
        timeout=silence_seconds,
        max_length=max_seconds,
        play_beep=True,
        finish_on_key="#",
        recording_status_callback=urls.recording_status,
        # "absent": Twilio tells us when nothing was recorded, so the report
        # does not wait for a recording forever.
        recording_status_callback_event="completed absent",
        recording_status_callback_method="POST",
    )
    # Reached only when nothing was recorded (docs/reference.md, How Twilio behaves).
    gather_keys(
        response,
        speaker=speaker,
        action=urls.try_again,
        timeout=gather_timeout,
        prompts=[NOTHING_HEARD],
        num_digits=1,
        action_on_empty=False,
    )
    speaker.say(response, NO_REPORT)
    response.hangup()
    return response


def wants_to_try_again(digits: str) -> bool:
    """Only 1 records again; any other key ends the call."""
    return digits == "1"


def no_report(speaker: Speaker) -> VoiceResponse:
    return goodbye(speaker, NO_REPORT)


def ask_consent(speaker: Speaker, action: str, timeout: int) -> VoiceResponse:
    """The police-consent question; silence reaches ``action`` too and means no."""
    return ask_one_key(speaker, action, timeout, [ASK_CONSENT])


def consent_given(digits: str) -> bool:
    """Only an explicit 1 is consent; 2, any other key and silence are not."""
    return digits == "1"


def report_received(speaker: Speaker) -> VoiceResponse:
    return goodbye(speaker, THANKS)
