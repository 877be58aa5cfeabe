"""Phone-number normalisation: the one door every number comes through.

Numbers become E.164 strings here and stay E.164 inside the system. Twilio's
withheld-caller forms are recognised as *withheld*, never parsed as numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from callflows.errors import InvalidPhoneNumber, WithheldNumber
from callflows.phone_validity import is_valid

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
    if _valid_plain_e164(text):
        return text  # already the E.164 form: nothing to format
    # not plain E.164, or not valid as it stands: the parser may still make a
    # number of it (a national prefix written after the country code)
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber("that is not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber("that is not a working phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# "+" and 7 to 15 digits, the first not 0: what Twilio sends in From and To.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def _valid_plain_e164(text: str) -> bool:
    """Whether ``text`` is a valid number written in plain E.164 (every
    inbound call's ``From``), read without phonenumbers' general parser: its
    patterns cost as much as the validity check, and E.164 needs none of
    them. Country calling codes are prefix-free, so the first known 1-, 2-
    or 3-digit prefix is the code; validity is phonenumbers' answer, checked
    more cheaply (:mod:`callflows.phone_validity`). A national number with a
    leading zero (Italy's) is left to the parser, and so is one not valid as
    it stands (see :func:`normalise`), so the answer is always the parser's
    (tests/test_phone.py compares them)."""
    if not _E164.fullmatch(text):
        return False
    digits = text[1:]
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[size:]
            return not national.startswith("0") and is_valid(code, national)
    return False


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
    tail = e164[-3:]
    if len(tail) == 3 and tail.isascii() and tail.isdigit():
        return tail  # E.164, as every stored number is
    digits = [c for c in e164 if c.isdigit()]
    return "".join(digits[-3:])


def mask(e164: str | None) -> str:
    """A number as logs may show it: ``…123``."""
    if not e164:
        return "withheld"
    return "…" + last_three(e164)
