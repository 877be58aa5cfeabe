"""PINs anyone would try first are refused wherever a PIN is set."""

import pytest

from callflows.errors import PinTooShort, WeakPin
from callflows.pin_quality import check_pin_quality

PHONE = "+447911123456"


@pytest.mark.parametrize(
    "pin",
    ["0000", "1111", "99999", "1234", "0123", "012345", "6789", "9876", "543210", "1123456", "911123456"],
)
def test_guessable_pins_are_refused(pin: str) -> None:
    with pytest.raises(WeakPin, match="too easy to guess"):
        check_pin_quality(pin, 4, PHONE)


@pytest.mark.parametrize("pin", ["4821", "2468", "1357", "9080", "1243", "8901", "0987"])
def test_other_pins_are_accepted(pin: str) -> None:
    check_pin_quality(pin, 4, PHONE)


def test_the_message_never_carries_the_phone_number() -> None:
    with pytest.raises(WeakPin) as refused:
        check_pin_quality("1123456", 4, PHONE)
    assert "own phone" in str(refused.value) and "123456" not in str(refused.value)


# fullwidth 4821 and superscript twos: str.isdigit() says yes to both
@pytest.mark.parametrize("pin", ["12", "12ab", "\uff14\uff18\uff12\uff11", "\u00b2" * 4])
def test_short_or_non_ascii_pins_are_refused(pin: str) -> None:
    with pytest.raises(PinTooShort):
        check_pin_quality(pin, 4, PHONE)
