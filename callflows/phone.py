"""Phone-number normalisation: the one door every number comes through.

Numbers become E.164 strings here and stay E.164 inside the system. Twilio's
withheld-caller forms are recognised as *withheld*, never parsed as numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from callflows.errors import InvalidPhoneNumber, WithheldNumber

# What Twilio puts in ``From`` when the caller withheld their number. The two
# numeric forms are the keypad spellings of "ANONYMOUS" and "RESTRICTED" that
# some carriers pass through; they are not real numbers and must never be
# blocked, warned about or called back as if they were.
WITHHELD_FORMS = frozenset(
    {
        "",
        "anonymous",
        "restricted",
        "unknown",
        "private",
        "unavailable",
        "+266696687",
        "266696687",
        "+7378742833",
        "7378742833",
    }
)


def is_withheld(raw: str | None) -> bool:
    """True when ``raw`` is one of Twilio's withheld-caller forms."""
    if raw is None:
        return True
    return raw.strip().lower() in WITHHELD_FORMS


def normalise(raw: str | None, region: str = "GB") -> str:
    """Return the E.164 form of ``raw`` or raise.

    Accepts national (``020 7946 0123``) and international input. Raises
    :class:`WithheldNumber` for Twilio's withheld forms and
    :class:`InvalidPhoneNumber` for anything that is not a valid number.
    """
    if is_withheld(raw):
        raise WithheldNumber("the caller withheld their number")
    assert raw is not None
    text = raw.strip()
    if len(text) > 40:
        raise InvalidPhoneNumber("that is not a phone number")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber("that is not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber("that is not a working phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class Caller:
    """Who is on the other end: an E.164 number, or withheld."""

    e164: str | None

    @property
    def withheld(self) -> bool:
        return self.e164 is None

    @property
    def last_three(self) -> str:
        return last_three(self.e164) if self.e164 else ""


def caller_from(raw: str | None, region: str = "GB") -> Caller:
    """Read Twilio's ``From``: withheld and unparseable both mean no number.

    An unparseable caller ID (spoofed junk, a short code) is treated as
    withheld: it cannot be called back, blocked reliably or warned about.
    """
    try:
        return Caller(normalise(raw, region))
    except (WithheldNumber, InvalidPhoneNumber):
        return Caller(None)


def last_three(e164: str) -> str:
    """The last three digits: the most of any number a log or a voice may show."""
    digits = [c for c in e164 if c.isdigit()]
    return "".join(digits[-3:])


def mask(e164: str | None) -> str:
    """A number as logs may show it: ``…123``."""
    if not e164:
        return "withheld"
    return "…" + last_three(e164)
