"""The warning-text filter: no phone number survives, however it is written.

A number split by punctuation (``0791,112,3456``) used to be stored and then
read aloud to every member (issue 12). Property tests build numbers in every
separator style and digit script and check that only the last three digits
remain; short numbers and ordinary words are left alone.
"""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from callflows.sanitise import MAX_SUMMARY, sanitise_lines, sanitise_summary

# How people split the digits of a number, as the issue lists them: spaces,
# dots, dashes, commas, slashes, brackets (and mixes, and runs of them).
SEPARATORS = [
    "",
    " ",
    "  ",
    ".",
    "-",
    " - ",
    ",",
    ", ",
    "/",
    " / ",
    "(",
    ")",
    ") ",
    "[",
    "]",
    "{",
    "}",
    "\u00a0",  # no-break space (NFKC: a space)
    "\t",
    "\n",
    "\u2013",  # en dash
    "\u2014",  # em dash
    "\u2212",  # minus sign
    "\\",
    "_",
    "+",
]
# Digit scripts: ASCII, and Unicode digits NFKC turns into ASCII (fullwidth,
# superscript, mathematical bold, circled) or leaves as digits (Arabic-Indic,
# Devanagari, Bengali). A number typed in any of them is still a number.


def _script(zero: int) -> str:
    return "".join(chr(zero + d) for d in range(10))


SCRIPTS = [
    "0123456789",
    _script(0xFF10),  # fullwidth
    "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079",  # superscript
    _script(0x1D7CE),  # mathematical bold
    "\u24ea" + "".join(chr(0x2460 + d) for d in range(9)),  # circled
    _script(0x0660),  # Arabic-Indic
    _script(0x0966),  # Devanagari
    _script(0x09E6),  # Bengali
]
TEST_SEPARATORS = set("".join(SEPARATORS)) | {" "}


def _digit_value(ch: str) -> str | None:
    """The ASCII digit ``ch`` stands for, after NFKC, or None."""
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) == 1 and folded.isdecimal():
        return str(unicodedata.digit(folded))
    return None


def longest_digit_run(text: str) -> int:
    """Digits in the longest run of ``text`` once separators are removed."""
    longest = current = 0
    for ch in text:
        if _digit_value(ch) is not None:
            current += 1
            longest = max(longest, current)
        elif ch not in TEST_SEPARATORS:
            current = 0
    return longest


@st.composite
def written_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """(the number as somebody typed it, its digits in ASCII)."""
    digits = draw(st.lists(st.integers(0, 9), min_size=6, max_size=15))
    script = draw(st.sampled_from(SCRIPTS))
    mixed = draw(st.booleans())
    parts = [draw(st.sampled_from(["", "+", "(", "+44 (0)"]))]
    for position, digit in enumerate(digits):
        if position:
            parts.append(draw(st.sampled_from(SEPARATORS)))
        alphabet = draw(st.sampled_from(SCRIPTS)) if mixed else script
        parts.append(alphabet[digit])
    written = "".join(parts)
    ascii_digits = "".join(str(d) for d in digits)
    if written.startswith("+44 (0)"):
        ascii_digits = "440" + ascii_digits
    return written, ascii_digits


words = st.sampled_from(["Threatened", "a worker", "took cash", "call him on", "drives a van", "ok"])


@settings(deadline=None)  # timing is not the property; the machine is shared
@given(number=written_numbers(), before=words, after=words)
def test_a_number_in_any_separator_style_leaves_only_its_last_three_digits(
    number: tuple[str, str], before: str, after: str
) -> None:
    written, digits = number
    clean = sanitise_summary(f"{before}: {written} — {after}")
    assert f"[number ending {digits[-3:]}]" in clean
    assert longest_digit_run(clean) < 6, clean
    # The words carry no digits: the last three are all that is left.
    assert "".join(v for ch in clean if (v := _digit_value(ch)) is not None) == digits[-3:]
    assert clean.startswith(before) and clean.endswith(after)


def test_the_issue_example_is_redacted() -> None:
    clean = sanitise_summary("Calls from 0791,112,3456 at night")
    assert clean == "Calls from [number ending 456] at night"


def test_examples_of_everyday_writing() -> None:
    assert sanitise_summary("ring 0791 (112) 3456!") == "ring [number ending 456]!"
    assert sanitise_summary("+44 7911 123 456") == "[number ending 456]"
    assert sanitise_summary("07911.123.456 or 020/7946/0123") == (
        "[number ending 456] or [number ending 123]"
    )
    assert sanitise_summary("0791<b>112</b>3456") == "[number ending 456]"
    assert sanitise_summary("0791\x00112\u200b3456") == "[number ending 456]"
    assert sanitise_summary(_script(0xFF10)[:9] + " \u00b2\u00b3") == "[number ending 823]"


def test_notes_keep_their_lines_but_not_a_number_broken_over_two() -> None:
    notes = "Called back.\r\nHe gave 0791 112\n3456 as his\n<i>own</i> number"
    assert sanitise_lines(notes) == "Called back.\nHe gave [number ending 456] as his\nown number"


@settings(deadline=None)
@given(
    st.lists(
        st.one_of(
            words,
            st.integers(0, 99999).map(str),
            st.sampled_from(["flat 12b", "£250", "room 4", "12:30", "on 3/4"]),
        ),
        max_size=12,
    )
)
def test_words_and_short_numbers_are_kept_as_they_were(pieces: list[str]) -> None:
    # Joined by "; " so no two pieces make a longer run between them.
    text = "; ".join(pieces)
    assert sanitise_summary(text) == " ".join(text.split())[:MAX_SUMMARY].strip()


@settings(deadline=None)
@given(st.text(max_size=300))
def test_no_output_holds_a_long_run_of_digits_and_cleaning_twice_changes_nothing(text: str) -> None:
    clean = sanitise_summary(text)
    assert longest_digit_run(clean) < 6
    assert sanitise_summary(clean) == clean
    assert all(unicodedata.category(ch)[0] != "C" for ch in clean)
