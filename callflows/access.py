"""The members' access line (docs/members-and-callers.md, the member menu): the caller keys a
Safety Number, then its PIN, and only the full pair from that member's
registered phone opens the menu.

Caller ID proves nothing, and a Safety Number is public, so the access line
must be no oracle: every prompt and every answer is the same whichever part
was wrong, whether the keyed number is a Safety Number at all, and whether
that menu is locked. Plain functions of plain values; URLs come in
ready-made and carry no id (the web layer keys the call's state by CallSid).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from twilio.twiml.voice_response import VoiceResponse

from callflows.languages import ENGLISH, Language
from callflows.prompts import ENTER_PIN, ENTER_SAFETY_NUMBER, LANGUAGE_OFFER, NO_MATCH, NOTHING_KEYED, Message
from callflows.speech import offers, speaker

# A keyed entry this short is a choice on the first prompt (``2#`` for
# another language), never a Safety Number: UK national numbers are 10 or
# 11 digits. Anything longer always goes on to the PIN prompt, whether or
# not it names a Safety Number.
SHORT_KEY_DIGITS = 2
# How often the first prompt is asked at most before a short key ends the
# call: enough to pick a language, not enough to hold the line open.
MAX_ASKS = 3

# Failures of one calling number that is not the keyed member's phone before
# that number's attempts are failed without a check, and for how long. Such
# a number can never open a menu; the limit keeps it from burning the
# scheme's minutes and Argon2 time on guesses, and never locks a member out.
CALLER_MAX_FAILURES = 10
CALLER_LOCKOUT = timedelta(hours=1)


class FirstKey(enum.StrEnum):
    SAFETY_NUMBER = "safety_number"  # go on to the PIN, whatever was keyed
    REASK = "reask"  # a short key (a language, later) or nothing: ask again
    GOODBYE = "goodbye"  # asked often enough


def first_key(digits: str, asked: int) -> FirstKey:
    """What the digits keyed at the first prompt (the ``asked``-th time) are."""
    keyed = digits.strip()
    if len(keyed) > SHORT_KEY_DIGITS:
        return FirstKey.SAFETY_NUMBER
    return FirstKey.REASK if asked < MAX_ASKS else FirstKey.GOODBYE


def _gather_then_goodbye(
    action: str, timeout: int, language: Language, prompt: Message, *, offer_languages: bool = False
) -> VoiceResponse:
    """One keypad ``<Gather>`` ended by ``#``; silence ends the call."""
    says = speaker(language)
    response = VoiceResponse()
    with response.gather(
        input="dtmf", action=action, method="POST", timeout=timeout, finish_on_key="#"
    ) as gather:
        says.say(gather, prompt)
        if offer_languages:
            says.say(gather, *(offer for offer in offers(LANGUAGE_OFFER) if offer.language is not language))
    says.say(response, NOTHING_KEYED)
    response.hangup()
    return response


def ask_safety_number(action: str, timeout: int, language: Language = ENGLISH) -> VoiceResponse:
    """The access line's first prompt: the Safety Number, ended by ``#``,
    then every other language offered by its key, each in its own voice.

    Everything before the PIN is spoken in the language the caller picked
    here, never in a member's: it is the same for every caller who presses
    the same keys, so it tells nobody who is a member.
    """
    return _gather_then_goodbye(action, timeout, language, ENTER_SAFETY_NUMBER, offer_languages=True)


def ask_pin(action: str, timeout: int, language: Language = ENGLISH) -> VoiceResponse:
    """The second prompt, the same after any Safety Number keyed."""
    return _gather_then_goodbye(action, timeout, language, ENTER_PIN)


def no_match(language: Language = ENGLISH) -> VoiceResponse:
    """The one answer to an attempt that does not open the menu; the call ends
    (one attempt per call: a mistyping member calls again)."""
    return goodbye(language, NO_MATCH)


def goodbye(language: Language = ENGLISH, last_words: Message = NOTHING_KEYED) -> VoiceResponse:
    response = VoiceResponse()
    speaker(language).say(response, last_words)
    response.hangup()
    return response


# --- the decision --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessFacts:
    """What the PIN step knows about one attempt."""

    line_live: bool  # the keyed number is a live member's Safety Number
    from_member_phone: bool  # From is that member's registered phone
    menu_locked: bool  # that member's menu is locked
    caller_limited: bool  # this calling number is over its failure limit
    pin_matches: bool  # the keyed PIN is that member's (False without a member)


class AccessOutcome(enum.StrEnum):
    OPEN = "open"  # the menu opens
    MEMBER_FAILURE = "member_failure"  # counts towards that member's lock
    CALLER_FAILURE = "caller_failure"  # counts towards this calling number's limit
    FAILURE = "failure"  # counts nowhere (locked, limited, withheld)


def judge_access(facts: AccessFacts) -> AccessOutcome:
    """Every outcome but OPEN sounds the same; they differ only in what they count.

    Only failures from the member's registered phone count towards the
    member's lock: a Safety Number is public, so anyone else's failures
    (which can never succeed) count towards their own number's limit instead.
    """
    if facts.caller_limited:
        return AccessOutcome.FAILURE
    if not (facts.line_live and facts.from_member_phone):
        return AccessOutcome.CALLER_FAILURE
    if facts.menu_locked:
        return AccessOutcome.FAILURE
    if facts.pin_matches:
        return AccessOutcome.OPEN
    return AccessOutcome.MEMBER_FAILURE
