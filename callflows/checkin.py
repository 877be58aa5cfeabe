"""The check-in timer (docs/members-and-callers.md, Check-in timer): what it decides and what is said.

Before a booking a member sets a timer from the menu. When it runs out the
service calls the member from their Safety Number and asks for the PIN: the
PIN checks in; the duress PIN says exactly the same words and raises the
alarm silently; anything else (no answer, busy, voicemail, no key, three
wrong PINs) is a missed attempt, retried once, then escalated to the
member's buddy and the on-call caseworkers.

Plain functions of plain values; every URL is handed in. Nothing here ever
speaks a number beyond its last three digits, and the buddy's message names
nobody and no place.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from twilio.twiml.voice_response import VoiceResponse

from callflows import prompts
from callflows.destinations import DestinationPolicy, Refusal
from callflows.errors import BadBuddy
from callflows.languages import ENGLISH, Language
from callflows.menu import ask_keyed, ask_one_key, gather_keys, goodbye
from callflows.prompts import Digits, Phrase
from callflows.speech import Speaker, Utterance, english_speaker, in_turn

MIN_MINUTES = 15
MAX_MINUTES = 480
# The member hears the due time on the clock they live by.
SCHEME_ZONE = ZoneInfo("Europe/London")


class Miss(enum.StrEnum):
    """Why one check-in call did not check the member in."""

    NO_ANSWER = "no-answer"
    BUSY = "busy"
    FAILED = "failed"
    MACHINE = "machine"  # answering machine detection: voicemail
    NO_KEY = "no-key"
    WRONG_PINS = "wrong-pins"
    HUNG_UP = "hung-up"  # answered, then ended before a PIN
    NO_OUTCOME = "no-outcome"  # Twilio never told us how the call ended


# Twilio's final CallStatus values (status callback) -> the miss they are.
MISS_BY_STATUS = {
    "no-answer": Miss.NO_ANSWER,
    "busy": Miss.BUSY,
    "failed": Miss.FAILED,
    "canceled": Miss.NO_ANSWER,
    "completed": Miss.HUNG_UP,
}

# ``AnsweredBy`` values of answering machine detection that are not a person.
MACHINE_ANSWERS = frozenset(
    {"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax"}
)


def parse_minutes(digits: str) -> int | None:
    """Minutes keyed for a new check-in, or None when not 15 to 480."""
    keyed = digits.strip()
    if not keyed.isascii() or not keyed.isdigit() or len(keyed) > 3:
        return None
    minutes = int(keyed)
    return minutes if MIN_MINUTES <= minutes <= MAX_MINUTES else None


def on_the_members_clock(due_utc: datetime) -> datetime:
    """A naive UTC time as the member's clock shows it (UK time), for ``{time}``."""
    return due_utc.replace(tzinfo=UTC).astimezone(SCHEME_ZONE).replace(tzinfo=None)


def checkin_set(minutes: int, due_utc: datetime) -> Phrase:
    """The confirmation after a check-in is started."""
    return prompts.CHECKIN_SET(minutes, minutes=minutes, time=on_the_members_clock(due_utc))


def checkin_running(due_utc: datetime) -> Phrase:
    return prompts.CHECKIN_RUNNING(time=on_the_members_clock(due_utc))


def buddy_saved(last3: str) -> Phrase:
    return prompts.BUDDY_SAVED(digits=Digits(last3))


def check_buddy(policy: DestinationPolicy, keyed: str, own_phone_e164: str | None) -> str:
    """The buddy's number in E.164, judged like a masked call's destination
    (no premium, foreign or emergency number: the scheme pays for the call,
    and a missed check-in must reach a person); raises :class:`BadBuddy`
    carrying the spoken reason."""
    verdict = policy.check(keyed)
    refusal: Phrase | None = None
    if verdict.refusal in (Refusal.EMERGENCY, Refusal.DIAL_DIRECTLY):
        refusal = prompts.BUDDY_EMERGENCY()
    elif verdict.e164 is None:
        refusal = verdict.reason
    elif verdict.e164 == own_phone_e164:
        refusal = prompts.BUDDY_OWN_PHONE()
    if refusal is not None:
        raise BadBuddy(english_speaker().text(refusal), refusal)
    assert verdict.e164 is not None
    return verdict.e164


def ask_minutes(
    speaker: Speaker, action: str, timeout: int, before: Sequence[Utterance] = ()
) -> VoiceResponse:
    return ask_keyed(speaker, action, timeout, prompts.CHECKIN_ASK_MINUTES, before)


def ask_settings(speaker: Speaker, action: str, timeout: int) -> VoiceResponse:
    return ask_one_key(speaker, action, timeout, [prompts.CHECKIN_SETTINGS_OPTIONS])


# The check-in call ------------------------------------------------------------------


def ask_checkin_pin(speaker: Speaker, action: str, timeout: int, *, first: bool) -> VoiceResponse:
    """The check-in call's PIN prompt (with its introduction the first time)."""
    response = VoiceResponse()
    opening = prompts.CHECKIN_CALL_INTRO if first else prompts.CHECKIN_WRONG_PIN
    # Silence reaches ``action`` too (no Digits): a missed check-in, "no key".
    gather_keys(
        response,
        speaker=speaker,
        action=action,
        timeout=timeout,
        prompts=[opening, prompts.ENTER_PIN],
        finish_on_key="#",
    )
    return response


def checked_in(speaker: Speaker) -> VoiceResponse:
    """What both the PIN and the duress PIN hear, byte for byte."""
    return goodbye(speaker, prompts.CHECKED_IN)


def not_checked_in(speaker: Speaker) -> VoiceResponse:
    return goodbye(speaker, prompts.NOT_CHECKED_IN)


def hang_up() -> VoiceResponse:
    """For an answering machine: leave nothing on it."""
    response = VoiceResponse()
    response.hangup()
    return response


def buddy_message(language: Language, repeat_action: str, timeout: int) -> VoiceResponse:
    """The buddy's call: the message and "1 to hear it again" in the member's
    language, then in English (the buddy may not share the member's language)."""
    response = VoiceResponse()
    gather_keys(
        response,
        speaker=english_speaker(),
        action=repeat_action,
        timeout=timeout,
        prompts=in_turn((language, ENGLISH), prompts.BUDDY_MESSAGE, prompts.BUDDY_REPEAT),
        num_digits=1,
        action_on_empty=False,
    )
    english_speaker().say(response, *in_turn((language, ENGLISH), prompts.BUDDY_GOODBYE))
    response.hangup()
    return response


def buddy_goodbye(language: Language) -> VoiceResponse:
    return goodbye(english_speaker(), *in_turn((language, ENGLISH), prompts.BUDDY_GOODBYE))


# Decisions --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many calls a check-in gets and how far apart."""

    retries: int  # extra calls after the first
    retry_delay: timedelta
    # A placed call with no outcome after this long counts as missed (a lost
    # status callback must not leave the member without help).
    call_window: timedelta

    def after_miss(self, attempts: int, now: datetime) -> datetime | None:
        """When to call again after the ``attempts``-th call missed; None: escalate."""
        if attempts <= self.retries:
            return now + self.retry_delay
        return None


# Where Twilio is sent for the calls the worker places (it has no URL map):
# the web app serves these paths (ivr/checkin_call.py), a test holds them equal.
CALL_ANSWER_PATH = "/voice/checkin/answer"
CALL_PIN_PATH = "/voice/checkin/pin"
CALL_STATUS_PATH = "/voice/checkin/status"
BUDDY_ANSWER_PATH = "/voice/checkin/buddy"
BUDDY_STATUS_PATH = "/voice/checkin/buddy-status"


def call_url(base_url: str, path: str, **ids: int) -> str:
    """An absolute webhook URL carrying opaque ids only (a check-in, an attempt, an alarm)."""
    query = "&".join(f"{name}={int(value)}" for name, value in ids.items())
    return f"{base_url.rstrip('/')}{path}" + (f"?{query}" if query else "")
