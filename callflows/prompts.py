"""What the service says, in one place, and how it says it.

Every spoken line goes through :func:`say` so the voice and language never
drift between flows. Nothing here is ever given a full phone number: the
most a prompt speaks is the last three digits, one by one.
"""

from __future__ import annotations

from collections.abc import Iterable

from twilio.twiml.voice_response import Gather, VoiceResponse

from callflows.status import Category

VOICE = "Polly.Amy"
LANGUAGE = "en-GB"

# Calls to a Safety Number ----------------------------------------------------

# The menu's one neutral answer to a call it will not serve: the same bytes
# whatever the reason, so nobody can probe who is a member.
LINE_UNAVAILABLE = "The number you have called is not available. Goodbye."

# The greeting a member may choose. Spoken before the member's phone rings,
# it answers the call: the caller pays from then on (Greeting's docstring).
LOGGED_GREETING = "Calls to this number are logged for safety. Please hold while we connect your call."

# The caller hears this for anything but a bridged call: it says nothing of
# whether the member declined, was busy or did not answer.
MEMBER_UNAVAILABLE = "The person you are calling is not available. Please try again later. Goodbye."

# The member hears these on their own phone before the call is bridged.
WHISPER_INTRO = "Safety Number call"
FROM_WITHHELD = "from a withheld number."
WHISPER_CHOICES = "Press 1 to accept, 2 to decline and block."
CALLER_BLOCKED = "Caller blocked. Goodbye."
CANNOT_BLOCK_WITHHELD = "This caller withheld their number, so it cannot be blocked. Goodbye."


def say(target: VoiceResponse | Gather, text: str) -> None:
    """Append ``<Say>`` in the service's voice to a response or a ``<Gather>``."""
    target.say(text, voice=VOICE, language=LANGUAGE)


def spoken_digits(digits: str) -> str:
    """``"123"`` -> ``"1 2 3"``: text-to-speech reads digits one by one, not as a hundred and …"""
    return " ".join(ch for ch in digits if ch.isdigit())


def from_number_ending(last3: str) -> str:
    return f"from a number ending {spoken_digits(last3)}."


def category_words(category: Category) -> str:
    """``"physical-assault"`` -> ``"physical assault"``."""
    return category.replace("-", " ")


def warnings_on_file(categories: Iterable[Category]) -> str:
    """``Warning: 2 warnings on file for this caller: robbery, threats.``"""
    found = list(categories)
    kinds = ", ".join(dict.fromkeys(category_words(c) for c in found))
    noun = "warning" if len(found) == 1 else "warnings"
    return f"Warning: {len(found)} {noun} on file for this caller: {kinds}."
