"""The prompt catalogue: every sentence the service speaks, keyed by message id.

Each entry is the message id and its English text; the English is the
gettext ``msgid`` (with the id as ``msgctxt``), so Babel extracts this module
into ``callflows/locales/messages.pot`` and each language's ``messages.po``
translates it (docs/members-and-callers.md, "Languages"). :mod:`callflows.speech` says them in a
member's language with that language's voice.

A sentence is always one whole message with named placeholders
(``{digits}``, ``{count}``, ``{category}``), never glued together from
pieces, so a translation may put the words in its own order. Placeholders
are filled per language: digits read one by one, counts as that language
writes numbers, categories in that language.

Nothing here is ever given a full phone number: the most a prompt speaks is
the last three digits, one by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Message:
    """One catalogue entry: its id and its English text (and English plural)."""

    id: str
    text: str
    plural: str | None = None

    def __call__(self, count: int | None = None, **values: Any) -> Phrase:
        """This message with its placeholders' values (``count`` picks the plural form)."""
        return Phrase(self, count, values)


@dataclass(frozen=True, slots=True)
class Phrase:
    """A message ready to speak: the values of its placeholders, unformatted."""

    message: Message
    count: int | None = None
    values: Mapping[str, Any] = field(default_factory=dict)


CATALOGUE: dict[str, Message] = {}


def message(id: str, text: str) -> Message:
    """Register a message (Babel extracts the calls: keyword ``message:1c,2``)."""
    return _register(Message(id, text))


def plural_message(id: str, singular: str, plural: str) -> Message:
    """Register a message with plural forms (keyword ``plural_message:1c,2,3``)."""
    return _register(Message(id, singular, plural))


# Ids so prefixed are the caseworker's side of calls from the scheme: always
# English, the console's language, so no catalogue translates them.
STAFF_SIDE = "staff."


def heard_by_members(entry: Message) -> bool:
    """Whether a member (or a caller, or a buddy) may hear ``entry``: each of
    these must be translated in every catalogue (tests/test_prompt_catalogue.py)."""
    return not entry.id.startswith(STAFF_SIDE)


def _register(entry: Message) -> Message:
    if entry.id in CATALOGUE:
        raise ValueError(f"message id {entry.id} is defined twice")
    CATALOGUE[entry.id] = entry
    return entry


@dataclass(frozen=True, slots=True)
class Digits:
    """Digits to be read one by one (``"123"`` -> ``"1 2 3"``), never as a number."""

    digits: str


# Calls to a Safety Number: what the caller may hear ---------------------------

# The menu's one neutral answer to a call it will not serve: the same bytes
# whatever the reason, so nobody can probe who is a member. Always English.
LINE_UNAVAILABLE = message("caller.line_unavailable", "The number you have called is not available. Goodbye.")

# The greeting a member may choose. Spoken before the member's phone rings,
# it answers the call: the caller pays from then on (Greeting's docstring).
LOGGED_GREETING = message(
    "caller.logged_greeting",
    "Calls to this number are logged for safety. Please hold while we connect your call.",
)

# The caller hears this for anything but a bridged call: it says nothing of
# whether the member declined, was busy or did not answer.
MEMBER_UNAVAILABLE = message(
    "caller.member_unavailable",
    "The person you are calling is not available. Please try again later. Goodbye.",
)

# Any internal failure, from the app or the static fallback document. Spoken
# before anything is known about the call, so always in English.
APOLOGY = message(
    "caller.apology", "Sorry, this number cannot take your call right now. Please try again later. Goodbye."
)

# The whisper: the member hears these on their own phone before bridging ----

WHISPER_FROM_NUMBER = message("whisper.from_number", "Safety Number call, from a number ending {digits}.")
WHISPER_FROM_WITHHELD = message("whisper.from_withheld", "Safety Number call, from a withheld number.")
WARNINGS_ON_FILE = plural_message(
    "whisper.warnings_on_file",
    "Warning: {count} warning on file for this caller: {categories}.",
    "Warning: {count} warnings on file for this caller: {categories}.",
)
WHISPER_CHOICES = message("whisper.choices", "Press 1 to accept, 2 to decline and block.")
CALLER_BLOCKED = message("whisper.caller_blocked", "Caller blocked. Goodbye.")
CANNOT_BLOCK_WITHHELD = message(
    "whisper.cannot_block_withheld", "This caller withheld their number, so it cannot be blocked. Goodbye."
)

# What warnings are about (callflows.status.Category), read out in a sentence.
CATEGORY_NAMES: Mapping[str, Message] = {
    "physical-assault": message("category.physical-assault", "physical assault"),
    "sexual-assault": message("category.sexual-assault", "sexual assault"),
    "robbery": message("category.robbery", "robbery"),
    "threats": message("category.threats", "threats"),
    "stalking": message("category.stalking", "stalking"),
    "nuisance": message("category.nuisance", "nuisance"),
    "other": message("category.other", "other"),
}

# The members' access line (callflows.access) ----------------------------------

ENTER_SAFETY_NUMBER = message(
    "access.enter_safety_number", "Please key your Safety Number, starting with 0, then press hash."
)
# Said once per language, each in its own language and voice, after the first
# prompt; every catalogue names its own language here.
LANGUAGE_OFFER = message("access.language_offer", "For English, press {key}, then hash.")
ENTER_PIN = message("access.enter_pin", "Please key your PIN, then press hash.")
NOTHING_KEYED = message("access.nothing_keyed", "Nothing was keyed. Goodbye.")
# The one answer to every attempt that does not open the menu: a wrong PIN,
# a stranger's phone, a number that is no Safety Number, a locked menu, a
# rate-limited caller. It names the PIN only, as the member would expect,
# and says whom to ask.
NO_MATCH = message(
    "access.no_match",
    "That PIN did not match. If you have forgotten your PIN, please contact your caseworker. Goodbye.",
)

# The member menu (callflows.menu) ---------------------------------------------

MENU_CALL = message("menu.option_call", "Press 1 to make a call showing your Safety Number.")
MENU_REPORT = message("menu.option_report", "Press 2 to record an incident report.")
MENU_BLOCK = message("menu.option_block", "Press 3 to block your last caller.")
MENU_WARNINGS = message("menu.option_warnings", "Press 4 to hear current warnings.")
MENU_LANGUAGE = message("menu.option_language", "Press 8 to choose your language.")
MENU_CANCEL = message("menu.option_cancel", "Press 9 to cancel your membership.")
NOT_AN_OPTION = message("menu.not_an_option", "Sorry, that is not an option.")
NO_CHOICE = message("menu.no_choice", "We did not hear a choice. Goodbye.")
NO_CALLER_TO_BLOCK = message("menu.no_caller_to_block", "There is no caller to block.")
BLOCKED_CALLER_ENDING = message("menu.blocked_caller_ending", "Blocked the caller ending {digits}.")
NO_WARNINGS = message("menu.no_warnings", "There are no current warnings.")
CURRENT_WARNINGS = plural_message(
    "menu.current_warnings", "There is {count} current warning.", "There are {count} current warnings."
)
WARNING_CATEGORY = message("menu.warning_category", "Warning {number}: {category}.")
# Before a summary staff wrote in English and have not translated yet, read
# in an English voice: the member is told what is coming.
SUMMARY_IN_ENGLISH = message("menu.summary_in_english", "The description follows in English.")
CONFIRM_CANCEL = message(
    "menu.confirm_cancel",
    "You chose to cancel your membership. Your Safety Number will stop working "
    "and your details will be deleted. Press 9 again to confirm, or any other key to go back.",
)
NOT_CANCELLED = message("menu.not_cancelled", "Your membership has not been cancelled.")
CANCELLED = message(
    "menu.cancelled", "Your membership is cancelled and your details have been deleted. Take care. Goodbye."
)
# Choosing a language: one offer per language, each in its own voice.
LANGUAGE_CHOICE = message("menu.language_choice", "For English, press {key}.")
LANGUAGE_CHOSEN = message("menu.language_chosen", "From now on you will hear this service in English.")

# Masked calls (callflows.menu, callflows.destinations) -------------------------

ENTER_DESTINATION = message(
    "menu.enter_destination", "Please key the number you want to call, then press hash."
)
NO_DESTINATION = message("menu.no_destination", "No number was entered.")
DAILY_LIMIT = message(
    "menu.daily_limit",
    "You have reached today's limit for calls from your Safety Number. Please try again tomorrow.",
)
CALL_ENDED = message("menu.call_ended", "Your call has ended. Goodbye.")
# Why a destination is refused. No number is ever read back: the member keyed it.
REFUSED_EMERGENCY = message(
    "destination.emergency",
    "This service cannot connect emergency calls. "
    "Please hang up now and dial the emergency number directly from your own phone.",
)
REFUSED_DIAL_DIRECTLY = message(
    "destination.dial_directly",
    "This service cannot connect calls to that service number. "
    "Please hang up and dial it directly from your own phone.",
)
REFUSED_DIRECTORY = message(
    "destination.directory", "Directory enquiry numbers cannot be called from your Safety Number."
)
REFUSED_PREMIUM = message(
    "destination.premium", "Premium rate numbers cannot be called from your Safety Number."
)
REFUSED_PERSONAL = message(
    "destination.personal", "Personal numbers starting {prefix} cannot be called from your Safety Number."
)
REFUSED_SERVICE = message(
    "destination.service",
    "Service and shared cost numbers starting {prefix} or {other_prefix} "
    "cannot be called from your Safety Number.",
)
REFUSED_NOT_UK = message("destination.not_uk", "Only UK numbers can be called from your Safety Number.")
REFUSED_NOT_WORKING = message("destination.not_working", "That is not a working phone number.")
REFUSED_NOT_ALLOWED = message(
    "destination.not_allowed", "That kind of number cannot be called from your Safety Number."
)

# Incident reports (callflows.report) --------------------------------------------

RECORD_PROMPT = message(
    "report.record",
    "After the tone, tell us what happened: when, where, and anything about the person. "
    "Take your time: pausing is fine. Press hash when you have finished.",
)
# Twilio continues after <Record> only when nothing was recorded (it makes
# no request to the Record's action then), so this is what the member hears
# after silence: a second chance rather than a dead end.
NOTHING_HEARD = message("report.nothing_heard", "We did not hear anything. To try again, press 1.")
NO_REPORT = message("report.no_report", "No report was recorded. Goodbye.")
ASK_CONSENT = message(
    "report.ask_consent", "May an anonymous version go to the police? Press 1 for yes, 2 for no."
)
THANKS = message("report.thanks", "Thank you. Your report has been passed to a caseworker. Goodbye.")

# Calls from the scheme: the member's side (callflows.staff_call; menu key 0) ----

MENU_SCHEME = message(
    "menu.option_scheme", "Press 0 to ask the scheme to call you back, or to stop its calls."
)
SCHEME_CHOICES = message(
    "scheme.choices", "Press 1 to ask a caseworker to call you back. Press 2 to stop calls from the scheme."
)
SCHEME_CHOICES_WHILE_OFF = message(
    "scheme.choices_while_off", "You have asked the scheme not to call you. Press 2 to allow its calls again."
)
# Calls from the scheme show the access line: the number the member called to reach the menu.
CALLBACK_ASKED = message(
    "scheme.callback_asked",
    "Thank you. A caseworker will call you back. "
    "Their call will show the number you called to reach this menu.",
)
CALLBACK_ALREADY = message(
    "scheme.callback_already", "You have already asked to be called back. A caseworker will call you."
)
SCHEME_CALLS_OFF = message(
    "scheme.calls_off", "The scheme will not call you. To allow its calls again, press 0, then 2."
)
SCHEME_CALLS_ON = message(
    "scheme.calls_on",
    "The scheme may call you again. Its calls show the number you called to reach this menu.",
)
# On the member's own phone before a caseworker's call is connected: names nobody.
SCHEME_CALL_WHISPER = message(
    "scheme.member_whisper", "Safety Number call from the scheme. Press 1 to take the call."
)

# Calls from the scheme: the caseworker's side, always in English (the
# console's language). {name} is the member's working name. ----------------

STAFF_WHISPER_REPORT = message(
    "staff.whisper_report",
    "Safety Number: connecting you to {name} about report {report}. Press 1 to call them now, or hang up.",
)
STAFF_WHISPER_CHECKIN = message(
    "staff.whisper_checkin",
    "Safety Number: connecting you to {name} about a missed check-in. Press 1 to call them now, or hang up.",
)
STAFF_WHISPER_CALLBACK = message(
    "staff.whisper_callback",
    "Safety Number: connecting you to {name}, who asked to be called back. "
    "Press 1 to call them now, or hang up.",
)
STAFF_WHISPER_OTHER = message(
    "staff.whisper_other", "Safety Number: connecting you to {name}. Press 1 to call them now, or hang up."
)
STAFF_CALLING = message("staff.calling", "Calling now. Please hold.")
STAFF_NOT_PLACED = message("staff.not_placed", "The member was not called. Goodbye.")
STAFF_NO_LONGER_NEEDED = message("staff.no_longer_needed", "This call is no longer needed. Goodbye.")
STAFF_CALL_ENDED = message("staff.call_ended", "The call has ended. Goodbye.")
STAFF_MEMBER_NO_ANSWER = message("staff.member_no_answer", "{name} did not answer. Goodbye.")
STAFF_MEMBER_BUSY = message("staff.member_busy", "{name}'s phone is busy. Goodbye.")
STAFF_MEMBER_UNREACHABLE = message(
    "staff.member_unreachable", "{name}'s phone could not be reached. Goodbye."
)
STAFF_MEMBER_DECLINED = message("staff.member_declined", "{name} did not take the call. Goodbye.")
# The check-in timer (callflows.checkin) -------------------------------------------

MENU_CHECKIN_START = message("menu.option_checkin_start", "Press 5 to start a check-in timer.")
MENU_CHECKIN_END = message("menu.option_checkin_end", "Press 6 to end your check-in.")
MENU_CHECKIN_SETTINGS = message("menu.option_checkin_settings", "Press 7 to set your duress PIN or buddy.")
CHECKIN_ASK_MINUTES = message(
    "checkin.ask_minutes",
    "Please key the number of minutes until we call you, from 15 to 480, then press hash.",
)
CHECKIN_BAD_MINUTES = message("checkin.bad_minutes", "That is not a number of minutes from 15 to 480.")
# {time}: the due time on the member's clock (UK time). A plural message
# although English never says "1 minute" (15 at least): Romanian and Polish
# change the noun's form with the number ("20 de minute", "22 minuty").
CHECKIN_SET = plural_message(
    "checkin.set",
    "Your check-in is set. We will call you in {minutes} minute, at {time}. "
    "If you do not answer with your PIN, we call your buddy and our caseworkers.",
    "Your check-in is set. We will call you in {minutes} minutes, at {time}. "
    "If you do not answer with your PIN, we call your buddy and our caseworkers.",
)
CHECKIN_RUNNING = message("checkin.running", "Your check-in call is due at {time}. A new one replaces it.")
CHECKIN_ENDED = message("checkin.ended", "Your check-in has been ended. We will not call you.")
NO_CHECKIN = message("checkin.none", "You have no check-in running.")
CHECKIN_NOTHING_KEYED = message("checkin.nothing_keyed", "Nothing was keyed, so nothing was changed.")
CHECKIN_SETTINGS_OPTIONS = message(
    "checkin.settings_options",
    "Press 1 to set your duress PIN. Press 2 to remove it. "
    "Press 3 to set your buddy's number. Press 4 to remove it. Press any other key to go back.",
)
ASK_DURESS_PIN = message(
    "checkin.ask_duress_pin",
    "Key a duress PIN, different from your PIN, then press hash. "
    "If you key it on a check-in call, we say you are checked in and quietly raise the alarm.",
)
DURESS_SET = message("checkin.duress_set", "Your duress PIN is set.")
DURESS_REMOVED = message("checkin.duress_removed", "Your duress PIN is removed.")
DURESS_SAME_AS_PIN = message("checkin.duress_same_as_pin", "The duress PIN must be different from your PIN.")
DURESS_TOO_SHORT = message("checkin.duress_too_short", "That duress PIN is too short. Nothing was changed.")
DURESS_TOO_EASY = message(
    "checkin.duress_too_easy", "That duress PIN is too easy to guess. Please choose another."
)
ASK_BUDDY = message(
    "checkin.ask_buddy",
    "Key your buddy's phone number, then press hash. We call them if you miss a check-in.",
)
BUDDY_SAVED = message("checkin.buddy_saved", "Your buddy's number ending {digits} is saved.")
BUDDY_REMOVED = message("checkin.buddy_removed", "Your buddy's number is removed.")
BUDDY_EMERGENCY = message("checkin.buddy_emergency", "An emergency or service number cannot be your buddy.")
BUDDY_OWN_PHONE = message("checkin.buddy_own_phone", "Your buddy's number must not be your own phone.")
# The check-in call to the member's own phone.
CHECKIN_CALL_INTRO = message("checkin.call_intro", "This is your Safety Number check-in call.")
CHECKIN_WRONG_PIN = message("checkin.wrong_pin", "That PIN did not match. Please try again.")
# The PIN and the duress PIN get exactly these words: whoever is listening
# next to the member cannot tell them apart.
CHECKED_IN = message("checkin.checked_in", "Checked in, thank you. Goodbye.")
NOT_CHECKED_IN = message("checkin.not_checked_in", "We could not check you in. Goodbye.")
# What the buddy hears: in the member's language, then in English (the
# buddy may not share it; callflows.checkin.buddy_message). Nobody's name,
# no place, no number.
BUDDY_MESSAGE = message(
    "checkin.buddy_message",
    "This is an automated call from Safety Number. "
    "A Safety Number check-in you are the contact for was missed. "
    "Please try to reach the person you agreed to look out for.",
)
BUDDY_REPEAT = message("checkin.buddy_repeat", "Press 1 to hear this again.")
BUDDY_GOODBYE = message("checkin.buddy_goodbye", "Goodbye.")
