"""The member menu: what it decides (the daily caps of masked calls) and
what the member hears (options, blocking, warnings, cancellation and masked
calls; the PIN is asked on the access line, ``callflows.access``). Plain functions of plain values;
every action URL is handed in by the caller.

Nothing here ever speaks a number beyond its last three digits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from twilio.twiml.voice_response import VoiceResponse

from callflows.destinations import Refusal, Verdict
from callflows.inbound import line_unavailable
from callflows.prompts import category_words, say, spoken_digits
from callflows.sanitise import sanitise_summary
from callflows.status import CallStatus, Category

MENU_OPTIONS = (
    "Press 1 to make a call showing your Safety Number. "
    "Press 2 to record an incident report. "
    "Press 3 to block your last caller. "
    "Press 4 to hear current warnings. "
    "Press 9 to cancel your membership."
)
NOT_AN_OPTION = "Sorry, that is not an option."
NO_CHOICE = "We did not hear a choice. Goodbye."
NO_CALLER_TO_BLOCK = "There is no caller to block."
NO_WARNINGS = "There are no current warnings."
CONFIRM_CANCEL = (
    "You chose to cancel your membership. Your Safety Number will stop working "
    "and your details will be deleted. Press 9 again to confirm, or any other key to go back."
)
NOT_CANCELLED = "Your membership has not been cancelled."
CANCELLED = "Your membership is cancelled and your details have been deleted. Take care. Goodbye."
ENTER_DESTINATION = "Please key the number you want to call, then press hash."
NO_DESTINATION = "No number was entered."
DAILY_LIMIT = "You have reached today's limit for calls from your Safety Number. Please try again tomorrow."
CALL_ENDED = "Your call has ended. Goodbye."


def gather_keys(
    response: VoiceResponse,
    *,
    action: str,
    timeout: int,
    prompts: Iterable[str],
    num_digits: int | None = None,
    finish_on_key: str | None = None,
    action_on_empty: bool = True,
) -> None:
    """A keypad ``<Gather>``. With ``action_on_empty`` silence also reaches
    ``action`` (with no Digits): Twilio's ``actionOnEmptyResult``, backed by a
    ``<Redirect>`` to the same URL for anything that ignores it."""
    options: dict[str, str] = {}
    if action_on_empty:
        options["actionOnEmptyResult"] = "true"
    with response.gather(
        input="dtmf",
        action=action,
        method="POST",
        timeout=timeout,
        num_digits=num_digits,
        finish_on_key=finish_on_key,
        **options,
    ) as gather:
        for text in prompts:
            say(gather, text)
    if action_on_empty:
        response.redirect(action, method="POST")


def goodbye(*sentences: str) -> VoiceResponse:
    """Say ``sentences``, then hang up."""
    response = VoiceResponse()
    for text in sentences:
        say(response, text)
    response.hangup()
    return response


def not_available() -> VoiceResponse:
    """The neutral answer to anything that is not a member on their own line
    (or a step that did not pass the PIN): byte-identical to a dead line's."""
    return line_unavailable()


def main_menu(action: str, timeout: int, before: Sequence[str] = ()) -> VoiceResponse:
    """Say ``before`` (a confirmation, warnings ...), then offer the options."""
    response = VoiceResponse()
    for text in before:
        say(response, text)
    gather_keys(response, action=action, timeout=timeout, prompts=[MENU_OPTIONS], num_digits=1)
    return response


def caller_blocked(last3: str) -> str:
    return f"Blocked the caller ending {spoken_digits(last3)}."


@dataclass(frozen=True)
class SpokenWarning:
    category: Category
    summary: str


def warnings_read_out(warnings: Sequence[SpokenWarning]) -> list[str]:
    """Sentences reading current warnings: category, then the sanitised summary."""
    if not warnings:
        return [NO_WARNINGS]
    count = len(warnings)
    sentences = [f"There {'is' if count == 1 else 'are'} {count} current warning{'' if count == 1 else 's'}."]
    for n, warning in enumerate(warnings, start=1):
        category = category_words(warning.category)
        # Summaries are sanitised when written; again here because they are
        # about to be spoken and a number must never be read out.
        summary = sanitise_summary(warning.summary)
        sentences.append(f"Warning {n}: {category}. {summary}")
    return sentences


def ask_cancel_confirmation(action: str, timeout: int) -> VoiceResponse:
    response = VoiceResponse()
    gather_keys(response, action=action, timeout=timeout, prompts=[CONFIRM_CANCEL], num_digits=1)
    return response


def ask_destination(action: str, timeout: int, before: Sequence[str] = ()) -> VoiceResponse:
    """Ask for the number to call (``finishOnKey="#"``), after ``before``."""
    response = VoiceResponse()
    for text in before:
        say(response, text)
    gather_keys(response, action=action, timeout=timeout, prompts=[ENTER_DESTINATION], finish_on_key="#")
    return response


def masked_dial(
    *,
    safety_number: str,
    destination: str,
    time_limit: int,
    action: str,
    status_callback: str,
) -> VoiceResponse:
    """Ring ``destination`` showing the Safety Number, never the member's own."""
    response = VoiceResponse()
    dial = response.dial(caller_id=safety_number, time_limit=time_limit, action=action, method="POST")
    dial.number(
        destination,
        status_callback=status_callback,
        status_callback_event="initiated ringing answered completed",
        status_callback_method="POST",
    )
    return response


# --- decisions -------------------------------------------------------------------


class DailyUsage(NamedTuple):
    """Masked calls placed today, and the seconds they hold: what each
    finished call lasted, what each open call reserved."""

    calls: int
    seconds: int


@dataclass(frozen=True, slots=True)
class MaskedCallCaps:
    """What one member may spend on masked calls: a stolen PIN cannot run up
    more than this in a day (toll fraud)."""

    daily_calls: int
    daily_minutes: int
    call_seconds: int  # the longest any one call may last

    def time_limit(self, usage: DailyUsage) -> int | None:
        """The ``timeLimit`` of the next masked call, which is what it
        reserves: the per-call limit or what is left of today's minutes;
        None once today's cap is reached."""
        remaining = self.daily_minutes * 60 - usage.seconds
        if usage.calls >= self.daily_calls or remaining <= 0:
            return None
        return min(self.call_seconds, remaining)


# Dial results of a masked call that never connected: nothing was spent.
NEVER_CONNECTED = frozenset({CallStatus.BUSY, CallStatus.NO_ANSWER, CallStatus.FAILED, CallStatus.CANCELED})


def seconds_spent(dial_status: str, duration: int | None) -> int | None:
    """What a finished masked call spent of the day's minutes, by its Dial
    result (or its dialled leg's final status): the duration Twilio measured,
    0 for a call never connected, None when unknown (then its reservation
    stands)."""
    if duration is not None:
        return duration
    return 0 if dial_status in NEVER_CONNECTED else None


def refuse_destination(verdict: Verdict, *, retry: str, timeout: int) -> VoiceResponse:
    """Say why the keyed number was refused and ask again; for an emergency
    number, end the call so the member can dial it at once from their own phone."""
    if verdict.refusal is Refusal.EMERGENCY:
        return goodbye(verdict.reason)
    return ask_destination(retry, timeout, [verdict.reason])
