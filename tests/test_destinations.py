"""The destination policy of masked calls, over real UK ranges."""

from __future__ import annotations

import re

import pytest
from phonenumbers import PhoneNumberType

from callflows.destinations import REASONS, DestinationPolicy, Refusal

# keyed, expected E.164 when allowed or the refusal
TABLE = [
    # London geographic (Ofcom's drama block, but a valid geographic number).
    ("020 7946 0123", "+442079460123"),
    ("02079460999", "+442079460999"),
    ("+44 20 7946 0123", "+442079460123"),
    ("0044 20 7946 0123", "+442079460123"),
    ("0113 496 0123", "+441134960123"),
    # Mobiles (phonenumbers files 07911 12… under Guernsey: still the UK plan).
    ("07911 123456", "+447911123456"),
    ("07400 123456", "+447400123456"),
    # 03: charged like a geographic number.
    ("0300 123 4567", "+443001234567"),
    ("0345 123 4567", "+443451234567"),
    # Reserved for drama, not in service.
    ("07700 900123", Refusal.NOT_WORKING),
    ("07700 900999", Refusal.NOT_WORKING),
    ("01632 960123", Refusal.NOT_WORKING),
    ("0123", Refusal.NOT_WORKING),
    ("", Refusal.NOT_WORKING),
    ("*#", Refusal.NOT_WORKING),
    # Premium rate.
    ("0909 879 0123", Refusal.PREMIUM),
    ("0901 123 4567", Refusal.PREMIUM),
    ("0911 123 4567", Refusal.PREMIUM),
    # Personal numbers.
    ("070 1234 5678", Refusal.PERSONAL),
    # Service / shared cost.
    ("0845 123 4567", Refusal.SERVICE),
    ("0844 123 4567", Refusal.SERVICE),
    ("0871 234 5678", Refusal.SERVICE),
    ("0870 123 4567", Refusal.SERVICE),
    # Directory enquiries.
    ("118 118", Refusal.DIRECTORY),
    ("118500", Refusal.DIRECTORY),
    # Emergency and public services: dial them directly.
    ("999", Refusal.EMERGENCY),
    ("112", Refusal.EMERGENCY),
    ("911", Refusal.EMERGENCY),
    ("18000", Refusal.EMERGENCY),
    ("101", Refusal.DIAL_DIRECTLY),
    ("111", Refusal.DIAL_DIRECTLY),
    ("116 123", Refusal.DIAL_DIRECTLY),
    # Not UK.
    ("+1 202 555 0123", Refusal.NOT_UK),
    ("001 202 555 0123", Refusal.NOT_UK),
    ("+33 6 12 34 56 78", Refusal.NOT_UK),
    ("0033612345678", Refusal.NOT_UK),
    ("+881 6 1234 5678", Refusal.NOT_UK),
    ("+353 85 123 4567", Refusal.NOT_UK),
    # Other UK types outside the default table.
    ("0800 123 4567", Refusal.NOT_ALLOWED),
    ("0560 123 4567", Refusal.NOT_ALLOWED),
    ("055 1234 5678", Refusal.NOT_ALLOWED),
]


@pytest.mark.parametrize(("keyed", "expected"), TABLE)
def test_default_policy(keyed, expected):
    verdict = DestinationPolicy().check(keyed)
    if isinstance(expected, Refusal):
        assert not verdict.allowed
        assert verdict.e164 is None
        assert verdict.refusal == expected
        assert verdict.reason == REASONS[expected]
    else:
        assert verdict.allowed
        assert verdict.e164 == expected
        assert verdict.reason == ""


def test_every_refusal_has_its_own_spoken_reason_and_none_speaks_a_number():
    assert set(REASONS) == set(Refusal)
    assert len(set(REASONS.values())) == len(REASONS)
    for reason in REASONS.values():
        # Prefixes like "0 8 4" may be spoken; nothing as long as a number.
        assert re.search(r"\d(?:\s?\d){3,}", reason) is None, reason


def test_emergency_advice_says_hang_up_and_dial_directly():
    for keyed in ("999", "112", "101", "111"):
        reason = DestinationPolicy().check(keyed).reason
        assert "hang up" in reason and "directly from your own phone" in reason


def test_emergency_numbers_are_refused_before_any_parsing():
    # Even a policy that allows every region and type never connects them.
    anything = DestinationPolicy(
        allowed_regions=frozenset({"GB", "US", "FR"}),
        allowed_types=frozenset(v for k, v in vars(PhoneNumberType).items() if k.isupper()),
        uk_prefix_refusals={},
    )
    for keyed in ("999", "112", "911", "101", "111", "118118"):
        assert not anything.check(keyed).allowed


def test_the_table_is_configurable():
    wider = DestinationPolicy(
        allowed_regions=frozenset({"GB", "GG", "JE", "IM", "IE"}),
        allowed_types=frozenset(
            {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE}
        ),
    )
    assert wider.check("+353 85 123 4567").e164 == "+353851234567"
    assert wider.check("0800 123 4567").e164 == "+448001234567"
    # 03 is no longer in the allowed types.
    assert wider.check("0300 123 4567").refusal == Refusal.NOT_ALLOWED
    # Refused prefixes still apply.
    assert wider.check("0845 123 4567").refusal == Refusal.SERVICE


def test_region_for_national_input_is_the_policy_region():
    irish = DestinationPolicy(region="IE", allowed_regions=frozenset({"IE"}))
    assert irish.check("085 123 4567").e164 == "+353851234567"
