"""The member menu: what it decides (the daily caps of masked calls) and
what the member hears (options, blocking, warnings, cancellation and masked
calls; the PIN is asked on the access line, ``callflows.access``). Plain functions of plain values;
every action URL is handed in by the caller.

Nothing here ever speaks a number beyond its last three digits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from twilio.twiml.voice_response import VoiceResponse

from callflows import prompts
from callflows.destinations import Refusal, Verdict
from callflows.inbound import line_unavailable
from callflows.languages import ENGLISH
from callflows.prompts import Digits, Message, Phrase
from callflows.sanitise import sanitise_summary
from callflows.speech import Speaker, Utterance, Verbatim, offers
from callflows.status import CallStatus, Category

# The options, read as one sentence after another in one <Say>.
MENU_OPTIONS = (
    prompts.MENU_CALL,
    prompts.MENU_REPORT,
    prompts.MENU_BLOCK,
    prompts.MENU_WARNINGS,
    prompts.MENU_CHECKIN_START,
    prompts.MENU_CHECKIN_END,
    prompts.MENU_CHECKIN_SETTINGS,
    prompts.MENU_LANGUAGE,
    prompts.MENU_CANCEL,
    prompts.MENU_SCHEME,
)


def gather_keys(
    response: VoiceResponse,
    *,
    speaker: Speaker,
    action: str,
    timeout: int,
    prompts: Sequence[Utterance],
    num_digits: int | None = None,
    finish_on_key: str | None = None,
    action_on_empty: bool = True,
    together: bool = False,
) -> None:
    """A keypad ``<Gather>``. With ``action_on_empty`` silence also reaches
    ``action`` (with no Digits): Twilio's ``actionOnEmptyResult``, backed by a
    ``<Redirect>`` to the same URL for anything that ignores it. ``together``
    says the prompts (catalogue messages) in one ``<Say>``."""
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
        if together:
            speaker.say_together(gather, [prompt for prompt in prompts if not isinstance(prompt, Verbatim)])
        else:
            speaker.say(gather, *prompts)
    if action_on_empty:
        response.redirect(action, method="POST")


def keys_after(before: Sequence[Utterance], *, speaker: Speaker, **gather: Any) -> VoiceResponse:
    """A document that says ``before``, then asks for keys (:func:`gather_keys`'s options)."""
    response = VoiceResponse()
    speaker.say(response, *before)
    gather_keys(response, speaker=speaker, **gather)
    return response


def goodbye(speaker: Speaker, *sentences: Utterance) -> VoiceResponse:
    """Say ``sentences``, then hang up."""
    response = VoiceResponse()
    speaker.say(response, *sentences)
    response.hangup()
    return response


def not_available() -> VoiceResponse:
    """The neutral answer to anything that is not a member on their own line
    (or a step that did not pass the PIN): byte-identical to a dead line's."""
    return line_unavailable()


def main_menu(speaker: Speaker, action: str, timeout: int, before: Sequence[Utterance] = ()) -> VoiceResponse:
    """Say ``before`` (a confirmation, warnings ...), then offer the options."""
    return keys_after(
        before,
        speaker=speaker,
        action=action,
        timeout=timeout,
        prompts=MENU_OPTIONS,
        num_digits=1,
        together=True,
    )


def caller_blocked(last3: str) -> Phrase:
    return prompts.BLOCKED_CALLER_ENDING(digits=Digits(last3))


@dataclass(frozen=True)
class SpokenWarning:
    category: Category
    summary: str  # as staff wrote it, in English
    # Staff's translation of the summary into the listener's language, if any.
    translated_summary: str | None = None


def warnings_read_out(speaker: Speaker, warnings: Sequence[SpokenWarning]) -> list[Utterance]:
    """Utterances reading current warnings: the category in the member's
    language, then the sanitised summary: staff's translation if there is
    one, otherwise the English summary in an English voice, announced."""
    if not warnings:
        return [prompts.NO_WARNINGS]
    spoken: list[Utterance] = [prompts.CURRENT_WARNINGS(len(warnings))]
    for n, warning in enumerate(warnings, start=1):
        spoken.append(prompts.WARNING_CATEGORY(number=n, category=prompts.CATEGORY_NAMES[warning.category]))
        # Summaries are sanitised when written; again here because they are
        # about to be spoken and a number must never be read out.
        if warning.translated_summary and speaker.language is not ENGLISH:
            spoken.append(Verbatim(sanitise_summary(warning.translated_summary), speaker.language))
            continue
        if speaker.language is not ENGLISH:
            spoken.append(prompts.SUMMARY_IN_ENGLISH)
        spoken.append(Verbatim(sanitise_summary(warning.summary), ENGLISH))
    return spoken


def ask_one_key(speaker: Speaker, action: str, timeout: int, prompts: Sequence[Utterance]) -> VoiceResponse:
    """A question answered by one key; silence reaches ``action`` too."""
    return keys_after((), speaker=speaker, action=action, timeout=timeout, prompts=prompts, num_digits=1)


def ask_cancel_confirmation(speaker: Speaker, action: str, timeout: int) -> VoiceResponse:
    return ask_one_key(speaker, action, timeout, [prompts.CONFIRM_CANCEL])


def ask_language(speaker: Speaker, action: str, timeout: int) -> VoiceResponse:
    """Every language offered by its key, each in its own language and voice."""
    return ask_one_key(speaker, action, timeout, offers(prompts.LANGUAGE_CHOICE))


def ask_keyed(
    speaker: Speaker, action: str, timeout: int, prompt: Message, before: Sequence[Utterance] = ()
) -> VoiceResponse:
    """Say ``before``, then ask with ``prompt`` for keys ended by ``#`` (a number, a PIN, minutes)."""
    return keys_after(
        before, speaker=speaker, action=action, timeout=timeout, prompts=[prompt], finish_on_key="#"
    )


def ask_destination(
    speaker: Speaker, action: str, timeout: int, before: Sequence[Utterance] = ()
) -> VoiceResponse:
    """Ask for the number to call (``finishOnKey="#"``), after ``before``."""
    return ask_keyed(speaker, action, timeout, prompts.ENTER_DESTINATION, before)


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


def refuse_destination(verdict: Verdict, *, speaker: Speaker, retry: str, timeout: int) -> VoiceResponse:
    """Say why the keyed number was refused and ask again; for an emergency
    number, end the call so the member can dial it at once from their own phone."""
    reason = verdict.reason
    assert reason is not None  # only a refused verdict comes here
    if verdict.refusal is Refusal.EMERGENCY:
        return goodbye(speaker, reason)
    return ask_destination(speaker, retry, timeout, [reason])
