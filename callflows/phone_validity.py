"""``phonenumbers.is_valid_number``'s answer, for a number read from plain
E.164, at a fraction of its cost.

The library decides validity by working out the number's *type*: the
general pattern, then premium rate, toll free, shared cost, VoIP, personal,
pager, UAN and voicemail, and only then fixed line and mobile — eleven
regular expressions before a mobile number is known valid. For a country
code shared by several regions (+44: GB, GG, IM, JE) it does that twice,
once to find the region and once to validate for it. That was about a
quarter of an inbound call's CPU (BENCHMARKS.md, "Profile").

A number is valid when it matches its region's general pattern and *any*
type's pattern; the order only matters for naming the type. So this checks
the same patterns, with the same possible-length shortcut, mobile and fixed
line first (what callers' numbers are), and once per region.
``tests/test_phone.py`` holds it equal to ``is_valid_number`` over every
region's example numbers of every type, their near misses and random
numbers.
"""

from __future__ import annotations

import re
from typing import Any

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

# The number types of phonenumbers' metadata, the common ones first (mobile
# first of all: skipped where it shares fixed line's pattern).
_TYPES = (
    "mobile",
    "fixed_line",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)
_NON_GEOGRAPHIC = "001"
_patterns: dict[str, re.Pattern[str]] = {}


def is_valid(country_code: int, national: str) -> bool:
    """``is_valid_number`` of the number ``+<country_code><national>``
    (``national`` as its digits, without a leading zero)."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if not regions:
        return False
    region, known_valid = regions[0], False
    if len(regions) > 1:
        # phonenumbers' region_code_for_number: the first region whose
        # leading digits match, or that the number is valid in.
        for candidate in regions:
            metadata = PhoneMetadata.metadata_for_region(candidate.upper(), None)
            if metadata is None:
                continue
            if metadata.leading_digits is not None:
                if _pattern(metadata.leading_digits).match(national):
                    region = candidate
                    break
            elif _valid_in(national, metadata):
                region, known_valid = candidate, True
                break
        else:
            return False
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region.upper())
    if metadata is None:
        return False
    if region != _NON_GEOGRAPHIC and metadata.country_code != country_code:
        return False
    return known_valid or _valid_in(national, metadata)


def _valid_in(national: str, metadata: Any) -> bool:
    """phonenumbers' ``_number_type_helper(...) != UNKNOWN``, in any order."""
    if not _matches(national, metadata.general_desc):
        return False
    # As the library does: where mobile and fixed line share a pattern, the
    # mobile description is never consulted.
    kinds = _TYPES[1:] if metadata.same_mobile_and_fixed_line_pattern else _TYPES
    return any(_matches(national, getattr(metadata, kind)) for kind in kinds)


def _matches(national: str, desc: Any) -> bool:
    """phonenumbers' ``_is_number_matching_desc`` (whole-number match)."""
    if desc is None:
        return False
    lengths = desc.possible_length
    if lengths and len(national) not in lengths:
        return False
    pattern = desc.national_number_pattern
    if not pattern:
        return False
    return _pattern(pattern).fullmatch(national) is not None


def _pattern(text: str) -> re.Pattern[str]:
    compiled = _patterns.get(text)
    if compiled is None:
        compiled = _patterns[text] = re.compile(text)
    return compiled
