"""The destination policy of masked calls, over real UK ranges."""

from __future__ import annotations

import re

import pytest
from phonenumbers import PhoneNumberType

from callflows.destinations import REASONS, DestinationPolicy, Refusal
from callflows.speech import english_speaker
from tests.support.destinations import TABLE


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
        assert verdict.reason is None


def test_every_refusal_has_its_own_spoken_reason_and_none_speaks_a_number():
    assert set(REASONS) == set(Refusal)
    assert len({english_speaker().text(phrase) for phrase in REASONS.values()}) == len(REASONS)
    for phrase in REASONS.values():
        reason = english_speaker().text(phrase)
        # Prefixes like "0 8 4" may be spoken; nothing as long as a number.
        assert re.search(r"\d(?:\s?\d){3,}", reason) is None, reason


def test_emergency_advice_says_hang_up_and_dial_directly():
    for keyed in ("999", "112", "101", "111"):
        phrase = DestinationPolicy().check(keyed).reason
        assert phrase is not None
        reason = english_speaker().text(phrase)
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
