import pytest

from callflows.errors import InvalidPhoneNumber, WithheldNumber
from callflows.phone import caller_from, is_withheld, last_three, mask, normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("020 7946 0123", "+442079460123"),
        ("+442079460123", "+442079460123"),
        ("(020) 7946-0123", "+442079460123"),
        ("07911 123456", "+447911123456"),
        ("+1 212 555 0100", "+12125550100"),
    ],
)
def test_normalise_gives_e164(raw: str, expected: str) -> None:
    assert normalise(raw, "GB") == expected


@pytest.mark.parametrize(
    "raw", ["Anonymous", "RESTRICTED", "unknown", "", "  ", "+266696687", "+7378742833", None]
)
def test_withheld_forms_are_never_numbers(raw: str | None) -> None:
    assert is_withheld(raw)
    with pytest.raises(WithheldNumber):
        normalise(raw)
    assert caller_from(raw).withheld


@pytest.mark.parametrize("raw", ["07700 900123", "01632 960123", "12", "hello", "+44", "9" * 60])
def test_invalid_numbers_raise_domain_error(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as info:
        normalise(raw)
    assert "7946" not in str(info.value)


def test_unparseable_caller_is_treated_as_withheld() -> None:
    assert caller_from("07700 900123").withheld


def test_last_three_and_mask_show_no_more_than_three_digits() -> None:
    assert last_three("+442079460123") == "123"
    assert mask("+442079460123") == "…123"
    assert mask(None) == "withheld"
