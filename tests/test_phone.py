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


def _general_parser(raw: str) -> str | None:
    """What phonenumbers' own parser and validity check make of ``raw``."""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(raw, "GB")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _normalised_or_none(raw: str) -> str | None:
    from callflows.errors import InvalidPhoneNumber

    try:
        return normalise(raw)
    except InvalidPhoneNumber:
        return None


def test_plain_e164_read_without_the_parser_gives_the_parsers_answer() -> None:
    """The fast path for Twilio's plain E.164 (callflows.phone._plain_e164)
    must accept, refuse and format exactly as phonenumbers' parser does: every
    region's example numbers of every type, and those numbers one digit
    shorter, one longer, and with their last digits changed."""
    import random

    import phonenumbers

    rng = random.Random(20)
    samples: set[str] = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in (
            phonenumbers.PhoneNumberType.FIXED_LINE,
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.TOLL_FREE,
            phonenumbers.PhoneNumberType.PREMIUM_RATE,
        ):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            samples.update({e164, e164[:-1], e164 + "7", e164[:-3] + f"{rng.randrange(1000):03d}"})
    samples.update(f"+{rng.randrange(1, 10 ** rng.randrange(7, 16))}" for _ in range(3000))
    assert len(samples) > 3000
    differ = {raw: (_normalised_or_none(raw), _general_parser(raw)) for raw in sorted(samples)}
    differ = {raw: pair for raw, pair in differ.items() if pair[0] != pair[1]}
    assert differ == {}


def test_validity_check_gives_phonenumbers_answer() -> None:
    """callflows.phone_validity.is_valid must say what phonenumbers'
    is_valid_number says: every region's (and every non-geographic code's)
    example number of every type, one digit shorter, one longer, with the
    last digits changed, and random numbers of every length."""
    import random

    import phonenumbers

    from callflows.phone_validity import is_valid

    rng = random.Random(21)
    numbers: set[tuple[int, int]] = set()
    examples = [
        phonenumbers.example_number_for_type(region, kind)
        for region in phonenumbers.SUPPORTED_REGIONS
        for kind in phonenumbers.PhoneNumberType.values()
    ]
    examples += [
        phonenumbers.example_number_for_non_geo_entity(code)
        for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS
    ]
    for example in filter(None, examples):
        code, national = example.country_code, example.national_number
        assert code is not None and national is not None
        numbers.update(
            {
                (code, national),
                (code, national // 10),
                (code, national * 10 + 7),
                (code, national - national % 1000 + rng.randrange(1000)),
            }
        )
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    numbers.update((rng.choice(codes), rng.randrange(1, 10 ** rng.randrange(4, 14))) for _ in range(5000))
    assert len(numbers) > 5000
    differ = {
        (code, national): is_valid(code, str(national))
        for code, national in sorted(numbers)
        if national > 0
        and is_valid(code, str(national))
        != phonenumbers.is_valid_number(phonenumbers.PhoneNumber(country_code=code, national_number=national))
    }
    assert differ == {}
