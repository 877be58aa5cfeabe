"""Masked calls from the console: a caseworker reaches a member without
either seeing the other's number.

The service rings the caseworker's own phone first; when they answer they
hear whom and why ("Safety Number: connecting you to Ruby about report
12") and press 1, and only then is the member's phone dialled, showing the
scheme's access line — the one number members learn means "the scheme is
calling". The member hears "Safety Number call from the scheme" and presses
1 to take it; anything else ends their leg, so the caseworker never lands
in the member's voicemail (its greeting may carry a real name) and a
caseworker's voicemail never rings the member. Neither TwiML document
carries the caseworker's number; the member's appears only in the
``<Number>`` that rings them (docs/members-and-callers.md, calls from the scheme).

Here: who may call (a pure decision over facts storage gathers), what each
side hears, and how Twilio's answers map to an outcome the console shows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from twilio.twiml.voice_response import VoiceResponse

from callflows import prompts
from callflows.prompts import Message, Phrase
from callflows.speech import Speaker
from callflows.status import CallReason, StaffCallOutcome, StaffCallState

# --- who may call -----------------------------------------------------------------


class CallRefusal(enum.StrEnum):
    """Why "Call the member" placed no call; the value is what the console says."""

    NOT_ALLOWED = "Only the report's caseworker or an admin may call the member."
    NO_MEMBER = "No member is linked to this, so there is nobody to call."
    MEMBER_CANCELLED = "This member has cancelled their membership and cannot be called."
    OPTED_OUT = "The member has asked not to be called by the scheme, so no call was placed."
    NO_OWN_PHONE = "Add your own phone on your account page first: the call rings it before the member's."
    NO_ACCESS_LINE = (
        "No members' access line is set up to show as the caller "
        "(an operator adds one with: flask --app ivr numbers add --access NUMBER)."
    )
    RATE_LIMITED = "You have reached the limit of calls to members for this hour. Try again later."


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What decides whether a call may be placed, gathered under a lock on
    the caseworker's row (``storage.staff_calls``) so parallel clicks see
    each other's calls."""

    allowed: bool  # the report's caseworker, an admin, or an open call-back task
    member_found: bool
    member_active: bool
    member_accepts: bool  # the member's "calls from the scheme" preference
    staff_has_phone: bool
    has_access_line: bool
    calls_this_hour: int  # by this caseworker, in the last 60 minutes


def refusal(facts: CallFacts, per_hour: int) -> CallRefusal | None:
    """The first reason not to call, or None: the call may be placed.

    Authorisation comes first, so someone not allowed learns nothing about
    the member (not even that they opted out)."""
    checks = (
        (facts.allowed, CallRefusal.NOT_ALLOWED),
        (facts.member_found, CallRefusal.NO_MEMBER),
        (facts.member_active, CallRefusal.MEMBER_CANCELLED),
        (facts.member_accepts, CallRefusal.OPTED_OUT),
        (facts.staff_has_phone, CallRefusal.NO_OWN_PHONE),
        (facts.has_access_line, CallRefusal.NO_ACCESS_LINE),
        (facts.calls_this_hour < per_hour, CallRefusal.RATE_LIMITED),
    )
    return next((refused for passed, refused in checks if not passed), None)


# --- what the caseworker and the member hear -----------------------------------------

CONFIRM_KEY = "1"


@dataclass(frozen=True, slots=True)
class StaffCallUrls:
    confirm: str  # the caseworker's key after the whisper
    dialled: str  # the <Dial> action on the caseworker's leg
    member_whisper: str  # <Number url>: the member's leg before bridging
    member_status: str  # status callbacks of the member's leg


_WHISPERS = {
    CallReason.REPORT: prompts.STAFF_WHISPER_REPORT,
    CallReason.CHECKIN: prompts.STAFF_WHISPER_CHECKIN,
    CallReason.CALLBACK: prompts.STAFF_WHISPER_CALLBACK,
    CallReason.OTHER: prompts.STAFF_WHISPER_OTHER,
}


def whisper_to_caseworker(
    speaker: Speaker,
    working_name: str,
    reason: CallReason,
    report_id: int | None,
    confirm_url: str,
    timeout: int,
) -> VoiceResponse:
    """Whom and why, then press 1. Silence or any other key places no call:
    a voicemail that answered the caseworker's phone must not ring the member."""
    message = (
        _WHISPERS[reason] if reason is not CallReason.REPORT or report_id else prompts.STAFF_WHISPER_OTHER
    )
    response = VoiceResponse()
    with response.gather(
        input="dtmf",
        action=confirm_url,
        method="POST",
        timeout=timeout,
        num_digits=1,
        action_on_empty_result=True,
    ) as gather:
        # The id as the console writes it ("report 1234"), not grouped ("1,234").
        speaker.say(gather, message(name=working_name, report=str(report_id or "")))
    response.redirect(confirm_url, method="POST")
    return response


def confirmed(digits: str | None) -> bool:
    return (digits or "").strip() == CONFIRM_KEY


def dial_member(
    speaker: Speaker,
    *,
    member_phone: str,
    access_line: str,
    urls: StaffCallUrls,
    timeout: int,
    time_limit: int,
) -> VoiceResponse:
    """Ring the member showing the access line: never the caseworker's number."""
    response = VoiceResponse()
    speaker.say(response, prompts.STAFF_CALLING)
    dial = response.dial(
        caller_id=access_line, timeout=timeout, time_limit=time_limit, action=urls.dialled, method="POST"
    )
    dial.number(
        member_phone,
        url=urls.member_whisper,
        method="POST",
        status_callback=urls.member_status,
        status_callback_event="initiated ringing answered completed",
        status_callback_method="POST",
    )
    return response


def whisper_to_member(speaker: Speaker, accept_url: str, timeout: int) -> VoiceResponse:
    """The member's leg before bridging, in the member's language: press 1 to
    take the call; anything else ends the leg (no voicemail, nothing bridged)."""
    response = VoiceResponse()
    with response.gather(
        input="dtmf", action=accept_url, method="POST", timeout=timeout, num_digits=1
    ) as gather:
        speaker.say(gather, prompts.SCHEME_CALL_WHISPER)
    response.hangup()
    return response


def member_answer(accepted: bool) -> VoiceResponse:
    """An empty document bridges the call; ``<Hangup>`` ends the member's leg."""
    response = VoiceResponse()
    if not accepted:
        response.hangup()
    return response


def goodbye(speaker: Speaker, said: Message | Phrase) -> VoiceResponse:
    response = VoiceResponse()
    speaker.say(response, said)
    response.hangup()
    return response


# --- outcomes ---------------------------------------------------------------------

# A Dial that did not connect, by DialCallStatus.
_DIAL_OUTCOMES = {
    "no-answer": StaffCallOutcome.MEMBER_NO_ANSWER,
    "busy": StaffCallOutcome.MEMBER_BUSY,
    "failed": StaffCallOutcome.MEMBER_UNREACHABLE,
    "canceled": StaffCallOutcome.STAFF_HUNG_UP,
}

# The caseworker's leg ended without being answered, by CallStatus.
_UNANSWERED_OUTCOMES = {
    "no-answer": StaffCallOutcome.STAFF_NO_ANSWER,
    "canceled": StaffCallOutcome.STAFF_NO_ANSWER,
    "busy": StaffCallOutcome.STAFF_BUSY,
    "failed": StaffCallOutcome.STAFF_UNREACHABLE,
}


def dial_outcome(dial_status: str | None, bridged: bool) -> StaffCallOutcome:
    """How the member's side ended, from the Dial action."""
    if bridged:
        return StaffCallOutcome.TALKED
    # Answered but not bridged: the member did not press 1 in the whisper.
    return _DIAL_OUTCOMES.get((dial_status or "").strip().lower(), StaffCallOutcome.MEMBER_DECLINED)


def staff_leg_outcome(call_status: str, answered: bool, member_dialled: bool) -> StaffCallOutcome | None:
    """How the call ended when the caseworker's own leg ended first (its
    final status callback); None when the status is not a final one."""
    status = call_status.strip().lower()
    if status in _UNANSWERED_OUTCOMES and not answered:
        return _UNANSWERED_OUTCOMES[status]
    if status != "completed" and status not in _UNANSWERED_OUTCOMES:
        return None
    if member_dialled:
        return StaffCallOutcome.STAFF_HUNG_UP  # hung up while the member's phone rang
    # Answered but never pressed 1 (or a voicemail took it): nobody was rung.
    return StaffCallOutcome.STAFF_NOT_CONFIRMED if answered else StaffCallOutcome.STAFF_NO_ANSWER


def after_dial(outcome: StaffCallOutcome, working_name: str) -> Phrase:
    """What the caseworker hears when the member's side has ended."""
    said = {
        StaffCallOutcome.MEMBER_NO_ANSWER: prompts.STAFF_MEMBER_NO_ANSWER,
        StaffCallOutcome.MEMBER_BUSY: prompts.STAFF_MEMBER_BUSY,
        StaffCallOutcome.MEMBER_UNREACHABLE: prompts.STAFF_MEMBER_UNREACHABLE,
        StaffCallOutcome.MEMBER_DECLINED: prompts.STAFF_MEMBER_DECLINED,
    }.get(outcome, prompts.STAFF_CALL_ENDED)
    return said(name=working_name)


# What the console shows for each outcome.
OUTCOME_WORDS = {
    StaffCallOutcome.TALKED: "connected",
    StaffCallOutcome.TWILIO_UNREACHABLE: "failed: Twilio could not be reached or refused the call",
    StaffCallOutcome.TOO_LATE: "not placed: the service was too slow to place it; try again",
    StaffCallOutcome.STAFF_NO_ANSWER: "your phone did not answer",
    StaffCallOutcome.STAFF_BUSY: "your phone was busy",
    StaffCallOutcome.STAFF_UNREACHABLE: "your phone could not be reached",
    StaffCallOutcome.STAFF_NOT_CONFIRMED: "answered, but 1 was not pressed: the member was not rung",
    StaffCallOutcome.STAFF_HUNG_UP: "you hung up before the member answered",
    StaffCallOutcome.MEMBER_NO_ANSWER: "the member did not answer",
    StaffCallOutcome.MEMBER_BUSY: "the member's phone was busy",
    StaffCallOutcome.MEMBER_UNREACHABLE: "the member's phone could not be reached",
    StaffCallOutcome.MEMBER_DECLINED: "the member answered but did not take the call",
    StaffCallOutcome.NOT_CALLABLE: "not placed: the member cancelled or asked not to be called",
}

# What the console shows for a call still under way.
LIVE_WORDS = {
    StaffCallState.QUEUED: "in progress: about to ring your phone",
    StaffCallState.PLACING: "in progress: about to ring your phone",
    StaffCallState.RINGING: "in progress: your phone is ringing",
    StaffCallState.ANSWERED: "in progress: you answered",
    StaffCallState.DIALLING: "in progress: the member's phone is ringing",
    StaffCallState.CONNECTED: "in progress: connected",
}
