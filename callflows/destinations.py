"""Which numbers a member may call through their Safety Number.

Masked calls are paid for by the scheme, and a stolen PIN must not turn a
line into a premium-rate or international dialler (toll fraud). The policy is
a small table: numbers that must be dialled directly (emergency and public
service short codes) are refused *before* normalisation, then the number is
normalised and judged by its country and its phonenumbers type, with a few
UK national prefixes refused for a more precise spoken reason.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers import PhoneNumberType

from callflows import prompts
from callflows.errors import InvalidPhoneNumber, WithheldNumber
from callflows.phone import normalise
from callflows.prompts import Digits, Phrase


class Refusal(enum.StrEnum):
    """Why a destination was refused; each has one spoken reason."""

    EMERGENCY = "emergency"
    DIAL_DIRECTLY = "dial_directly"
    DIRECTORY = "directory"
    PREMIUM = "premium"
    PERSONAL = "personal"
    SERVICE = "service"
    NOT_UK = "not_uk"
    NOT_WORKING = "not_working"
    NOT_ALLOWED = "not_allowed"


# What the member hears (callflows.prompts). No number is ever read back:
# the member keyed it.
REASONS: Mapping[Refusal, Phrase] = {
    Refusal.EMERGENCY: prompts.REFUSED_EMERGENCY(),
    Refusal.DIAL_DIRECTLY: prompts.REFUSED_DIAL_DIRECTLY(),
    Refusal.DIRECTORY: prompts.REFUSED_DIRECTORY(),
    Refusal.PREMIUM: prompts.REFUSED_PREMIUM(),
    Refusal.PERSONAL: prompts.REFUSED_PERSONAL(prefix=Digits("070")),
    Refusal.SERVICE: prompts.REFUSED_SERVICE(prefix=Digits("084"), other_prefix=Digits("087")),
    Refusal.NOT_UK: prompts.REFUSED_NOT_UK(),
    Refusal.NOT_WORKING: prompts.REFUSED_NOT_WORKING(),
    Refusal.NOT_ALLOWED: prompts.REFUSED_NOT_ALLOWED(),
}

# Keyed exactly (after dropping spaces and punctuation): refused before any
# parsing, so that no normalisation quirk can ever turn an emergency call into
# a masked one. 18000 is the text-relay emergency number.
DIRECT_DIAL: Mapping[str, Refusal] = {
    "999": Refusal.EMERGENCY,
    "112": Refusal.EMERGENCY,
    "911": Refusal.EMERGENCY,
    "18000": Refusal.EMERGENCY,
    "101": Refusal.DIAL_DIRECTLY,
    "111": Refusal.DIAL_DIRECTLY,
    "105": Refusal.DIAL_DIRECTLY,
    "119": Refusal.DIAL_DIRECTLY,
}
# Keyed prefixes refused before parsing (118 directory enquiries are short codes
# that phonenumbers does not know as numbers).
DIRECT_DIAL_PREFIXES: Mapping[str, Refusal] = {"118": Refusal.DIRECTORY, "116": Refusal.DIAL_DIRECTLY}

UK_CALLING_CODE = 44
# The UK numbering plan also covers the Crown Dependencies: phonenumbers files
# some ordinary UK mobile ranges (07911 12…) under Guernsey.
UK_REGIONS = frozenset({"GB", "GG", "IM", "JE"})

# UK national significant number prefixes with a more precise reason than
# their phonenumbers type gives (phonenumbers calls 084/087 "premium rate").
UK_PREFIX_REFUSALS: Mapping[str, Refusal] = {
    "9": Refusal.PREMIUM,
    "70": Refusal.PERSONAL,
    "84": Refusal.SERVICE,
    "87": Refusal.SERVICE,
    "55": Refusal.NOT_ALLOWED,  # corporate numbers: charged like premium
    "56": Refusal.NOT_ALLOWED,  # location-independent VoIP
    "76": Refusal.NOT_ALLOWED,  # pagers
}

TYPE_REFUSALS: Mapping[int, Refusal] = {
    PhoneNumberType.PREMIUM_RATE: Refusal.PREMIUM,
    PhoneNumberType.PERSONAL_NUMBER: Refusal.PERSONAL,
    PhoneNumberType.SHARED_COST: Refusal.SERVICE,
}

DEFAULT_ALLOWED_TYPES = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.UAN,  # 03: charged like geographic numbers
    }
)


@dataclass(frozen=True)
class Verdict:
    """The policy's answer: an E.164 destination, or the reason it is refused."""

    e164: str | None = None
    refusal: Refusal | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None and self.e164 is not None

    @property
    def reason(self) -> Phrase | None:
        return REASONS[self.refusal] if self.refusal else None


@dataclass(frozen=True)
class DestinationPolicy:
    """A configurable table of what a masked call may ring.

    ``allowed_regions`` are phonenumbers region codes (add ``"IE"`` to allow
    Irish numbers); ``allowed_types`` are ``PhoneNumberType`` values
    (add ``PhoneNumberType.TOLL_FREE`` to allow 0800/0808).
    """

    region: str = "GB"
    allowed_regions: frozenset[str] = UK_REGIONS
    allowed_types: frozenset[int] = DEFAULT_ALLOWED_TYPES
    uk_prefix_refusals: Mapping[str, Refusal] = field(default_factory=lambda: dict(UK_PREFIX_REFUSALS))

    def check(self, keyed: str) -> Verdict:
        """Judge what the member keyed (national, ``00…`` or ``+…`` form)."""
        compact = _compact(keyed)
        direct = self._direct_dial(compact)
        if direct is not None:
            return Verdict(refusal=direct)
        try:
            e164 = normalise(compact, self.region)
        except (InvalidPhoneNumber, WithheldNumber):
            # Includes the Ofcom ranges reserved for drama (07700 900xxx,
            # 01632 960xxx), which phonenumbers knows are not in service.
            return Verdict(refusal=Refusal.NOT_WORKING)
        parsed = phonenumbers.parse(e164)
        region = phonenumbers.region_code_for_number(parsed)
        if parsed.country_code == UK_CALLING_CODE:
            national = str(parsed.national_number)
            for prefix, refusal in self.uk_prefix_refusals.items():
                if national.startswith(prefix):
                    return Verdict(refusal=refusal)
        if region not in self.allowed_regions:
            return Verdict(refusal=Refusal.NOT_UK)
        number_type = phonenumbers.number_type(parsed)
        if number_type not in self.allowed_types:
            return Verdict(refusal=TYPE_REFUSALS.get(number_type, Refusal.NOT_ALLOWED))
        return Verdict(e164=e164)

    @staticmethod
    def _direct_dial(compact: str) -> Refusal | None:
        digits = compact.lstrip("+")
        if digits in DIRECT_DIAL:
            return DIRECT_DIAL[digits]
        for prefix, refusal in DIRECT_DIAL_PREFIXES.items():
            # Short codes only: a full national number never starts 11x.
            if digits.startswith(prefix) and len(digits) <= 7:
                return refusal
        return None


def _compact(keyed: str) -> str:
    """Digits, ``*`` and a leading ``+`` only; spaces and punctuation dropped."""
    text = keyed.strip()
    plus = "+" if text.startswith("+") else ""
    return plus + "".join(ch for ch in text if ch.isdigit() or ch == "*")
