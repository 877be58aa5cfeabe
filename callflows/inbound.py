"""Calls *to* a Safety Number: screen the caller, ring the member with a
whisper, act on the member's key, and tell the caller how it ended.

Plain functions of plain values returning TwiML. URLs come in ready-made
(the web layer builds them); nothing here looks anything up.

Privacy: the member's real number travels in one value only,
:attr:`Screening.member_phone` (filled for a call that rings), and appears
only as the text of the ``<Number>`` that :func:`ring_member` rings them
on. The caller's number is never spoken; the member hears at most its last
three digits.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from twilio.twiml.voice_response import VoiceResponse

from callflows import prompts, speech
from callflows.access import ask_safety_number
from callflows.languages import ENGLISH, Language
from callflows.phone import Caller
from callflows.speech import Speaker, category_names, english_speaker
from callflows.status import CallerIdShown, Category, Greeting

# Which events of the member's leg Twilio reports to the status callback.
MEMBER_LEG_EVENTS = "initiated ringing answered completed"


class InboundOutcome(enum.StrEnum):
    ACCESS = "access"  # a members' access line: ask for a Safety Number
    UNAVAILABLE = "unavailable"  # no live member behind this line
    REJECT = "reject"  # blocked, or withheld when the member refuses those
    RING = "ring"


@dataclass(frozen=True, slots=True)
class InboundFacts:
    """What the lookup found about one call to a number of the pool.

    Whether the caller is the member is deliberately not among them: caller
    ID proves nothing, so the answer to a Safety Number never depends on it
    (the member reaches their menu through an access line)."""

    access_line: bool  # a members' access line, not a Safety Number
    line_live: bool  # assigned to an active member whose phone is on file
    caller_withheld: bool
    caller_blocked: bool  # the member blocked this caller
    accept_withheld: bool  # the member takes calls from withheld numbers


def screen_inbound(facts: InboundFacts) -> InboundOutcome:
    """Decide what happens to a call before anyone's phone rings.

    This is the rule. For speed, ``storage.inbound_repository`` evaluates
    the same rule inside the one statement of an inbound call;
    ``tests/test_inbound_decision.py`` holds the two equal over random facts.
    """
    if facts.access_line:
        return InboundOutcome.ACCESS
    if not facts.line_live:
        return InboundOutcome.UNAVAILABLE
    if facts.caller_blocked:
        return InboundOutcome.REJECT
    if facts.caller_withheld and not facts.accept_withheld:
        return InboundOutcome.REJECT
    return InboundOutcome.RING


@dataclass(frozen=True, slots=True)
class Screening:
    """One inbound call as screened: its outcome and, when the outcome is
    :attr:`InboundOutcome.RING`, what ringing the member needs."""

    outcome: InboundOutcome
    safety_number: str = ""
    member_phone: str = ""  # in clear, and only when the outcome is RING
    greeting: Greeting = Greeting.NONE
    caller_id_shown: CallerIdShown = CallerIdShown.SAFETY_NUMBER
    # What callers to this member hear (the greeting): the member's choice
    # for their callers, apart from the language they hear themselves.
    caller_language: Language = ENGLISH


@dataclass(frozen=True, slots=True)
class InboundUrls:
    access_number: str  # where an access line's first Gather posts the Safety Number
    dial_action: str  # where Twilio posts the Dial result (caller's leg)
    whisper: str  # TwiML played to the member before bridging
    status_callback: str  # status events of the member's leg


def answer_inbound(
    screening: Screening,
    caller: Caller,
    urls: InboundUrls,
    *,
    timeout_seconds: int,
    access_timeout_seconds: int,
) -> VoiceResponse:
    """The TwiML of a screened call: the first verb Twilio acts on decides
    whether the call is answered and billed (docs/reference.md, How Twilio behaves)."""
    outcome = screening.outcome
    if outcome is InboundOutcome.RING:
        return ring_member(screening, caller, urls, timeout_seconds)
    if outcome is InboundOutcome.ACCESS:
        return ask_safety_number(urls.access_number, access_timeout_seconds)
    return will_not_ring()


def will_not_ring() -> VoiceResponse:
    """The one answer to every call that will not ring a member: a dead line
    (unassigned, quarantined, cancelled), a blocked caller, a refused withheld
    caller. ``<Reject/>`` first and only: the call is never answered, so the
    caller pays nothing, and every such call gets the same bytes, so nobody
    can tell a dead line from a live one that turned them away."""
    response = VoiceResponse()
    response.reject()
    return response


def line_unavailable() -> VoiceResponse:
    """The menu's neutral "not available", then hang up (identical bytes
    whatever the reason)."""
    response = VoiceResponse()
    # English whoever calls: the answer must not depend on any member.
    english_speaker().say(response, prompts.LINE_UNAVAILABLE)
    response.hangup()
    return response


def shown_caller_id(screening: Screening, caller: Caller) -> str:
    """What the member's phone displays: the caller's own number if the member
    chose that and there is one, otherwise their Safety Number. Never the
    member's own number."""
    # A caller ID that is the member's own phone (spoofed, or the member
    # calling their own Safety Number) is never put in callerId: the privacy
    # rule holds even then. Only the member's handset display differs; the
    # caller hears and is billed exactly as any other caller.
    if (
        screening.caller_id_shown is CallerIdShown.CALLER
        and caller.e164 is not None
        and caller.e164 != screening.member_phone
    ):
        return caller.e164
    return screening.safety_number


def answered_before_ringing(screening: Screening) -> bool:
    """Whether the call is answered (and the caller billed) before the
    member's phone rings: only when the member chose the spoken greeting,
    whose ``<Say>`` is the first verb (reference: "Answering and billing")."""
    return screening.greeting is Greeting.LOGGED


def ring_member(
    screening: Screening, caller: Caller, urls: InboundUrls, timeout_seconds: int
) -> VoiceResponse:
    """``<Dial answerOnBridge>`` with one screened ``<Number>``, first unless
    the member chose the spoken greeting.

    As the first verb, answerOnBridge keeps the caller's leg unanswered while
    the member is screened: the caller hears ringback and pays nothing unless
    the member accepts. A greeting before it answers the call, which is why
    it is only ever the member's explicit choice.
    """
    response = VoiceResponse()
    if answered_before_ringing(screening):
        speech.speaker(screening.caller_language).say(response, prompts.LOGGED_GREETING)
    dial = response.dial(
        answer_on_bridge=True,
        ring_tone="uk",
        timeout=timeout_seconds,
        action=urls.dial_action,
        method="POST",
        caller_id=shown_caller_id(screening, caller),
    )
    dial.number(
        screening.member_phone,
        url=urls.whisper,
        method="POST",
        status_callback=urls.status_callback,
        status_callback_event=MEMBER_LEG_EVENTS,
        status_callback_method="POST",
    )
    return response


@dataclass(frozen=True)
class WhisperFacts:
    """What the member is told about the caller before accepting."""

    caller_last3: str | None  # None: withheld
    warning_categories: Sequence[Category] = ()


def whisper(facts: WhisperFacts, *, speaker: Speaker, screen_url: str, timeout_seconds: int) -> VoiceResponse:
    """The member's screening prompt, then hang up their leg if no key comes.

    Hanging up (rather than falling through) matters: otherwise a member who
    does not answer in time could leave the caller in the member's personal
    voicemail, whose greeting may carry their real name. A whisper must never
    contain ``<Dial>`` or ``<Redirect>``.
    """
    response = VoiceResponse()
    gather = response.gather(
        num_digits=1, timeout=timeout_seconds, action=screen_url, method="POST", input="dtmf"
    )
    speaker.say(
        gather,
        prompts.WHISPER_FROM_WITHHELD
        if facts.caller_last3 is None
        else prompts.WHISPER_FROM_NUMBER(digits=prompts.Digits(facts.caller_last3)),
    )
    if facts.warning_categories:
        count = len(facts.warning_categories)
        kinds = category_names(facts.warning_categories)
        speaker.say(gather, prompts.WARNINGS_ON_FILE(count, categories=kinds))
    speaker.say(gather, prompts.WHISPER_CHOICES)
    response.hangup()
    return response


class ScreenChoice(enum.StrEnum):
    ACCEPT = "accept"
    BLOCK = "block"
    DECLINE = "decline"


def screen_choice(digits: str | None) -> ScreenChoice:
    """The member's key on the whisper: 1 accept, 2 decline and block, else decline."""
    key = (digits or "").strip()
    if key == "1":
        return ScreenChoice.ACCEPT
    if key == "2":
        return ScreenChoice.BLOCK
    return ScreenChoice.DECLINE


def screened(choice: ScreenChoice, *, caller_withheld: bool, speaker: Speaker) -> VoiceResponse:
    """TwiML for the member's leg after their key.

    An empty response ends the whisper and Twilio bridges the two legs;
    anything ending in ``<Hangup>`` ends the member's leg unbridged.
    """
    response = VoiceResponse()
    if choice is ScreenChoice.ACCEPT:
        return response
    if choice is ScreenChoice.BLOCK:
        speaker.say(response, prompts.CANNOT_BLOCK_WITHHELD if caller_withheld else prompts.CALLER_BLOCKED)
    response.hangup()
    return response


# DialCallStatus values of a Dial whose callee answered: Twilio reports a
# connected call as "completed" or as "answered" (docs/reference.md, How Twilio behaves).
ANSWERED_DIAL_STATUSES = frozenset({"completed", "answered"})


def was_bridged(dial_call_status: str | None, dial_bridged: str | None) -> bool | None:
    """Whether the caller actually talked to the member, from the Dial action's
    fields; None when Twilio did not say (``DialBridged`` absent)."""
    if (dial_call_status or "").strip().lower() not in ANSWERED_DIAL_STATUSES:
        return False
    flag = (dial_bridged or "").strip().lower()
    if flag == "":
        return None
    return flag == "true"


def after_dial(bridged: bool, *, caller_answered: bool, caller_language: Language = ENGLISH) -> VoiceResponse:
    """The caller's leg once the Dial ends.

    Connected: the conversation is over, hang up. Not connected, on a call
    nothing has answered yet (no greeting, the default): the same
    :func:`will_not_ring` rejection as a blocked caller or a dead line, so
    the call stays unanswered and the caller pays nothing; any spoken word
    here would answer it, billing the caller for not being put through.
    Only a call the member's greeting already answered, which the caller is
    paying for anyway, hears the neutral "not available" (never why), in
    the language the member chose for their callers.
    """
    if not bridged and not caller_answered:
        return will_not_ring()
    response = VoiceResponse()
    if not bridged:
        speech.speaker(caller_language).say(response, prompts.MEMBER_UNAVAILABLE)
    response.hangup()
    return response
