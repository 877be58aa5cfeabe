"""Make free text safe to store in a warning and to speak to a member.

Warnings are read aloud by text-to-speech and shown to staff; they must not
carry a phone number, markup or control characters.
"""

from __future__ import annotations

import re
import unicodedata

MAX_SUMMARY = 400
# A run with this many digits or more is taken for (part of) a phone number.
# Five-digit runs stay: house numbers, postcodes' digits, amounts of money.
MIN_NUMBER_DIGITS = 6
# What may sit between the digits of a number as people write it: spaces,
# dots, dashes (the ASCII one and Unicode's), commas, slashes, brackets, and
# the plus and underscore of "+44" and "0791_112_3456". A number split by
# any mix of these ("0791,112,3456", "(0791) 112-3456") is still a number.
_SEPARATORS = r"\s.,/\\()\[\]{}\-\u2010-\u2015\u2212+_"
# ``\d`` is every Unicode decimal digit; NFKC has already turned the
# compatibility ones (fullwidth, superscript, circled) into ASCII. A leading
# "+" goes with the number it introduces.
_DIGIT_RUN = re.compile(rf"\+?\d(?:[{_SEPARATORS}]*\d)*")
_TAGS = re.compile(r"<[^>]*>")


def sanitise_summary(text: str) -> str:
    """Strip markup, control characters and number-like runs; collapse space."""
    text = unicodedata.normalize("NFKC", text)
    text = _TAGS.sub(" ", text)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = redact_numbers(text)
    text = " ".join(text.split())
    return text[:MAX_SUMMARY].strip()


def sanitise_lines(text: str) -> str:
    """Multi-line text (caseworkers' notes) cleaned line by line, after the
    numbers of the whole text are redacted: a number broken over two lines
    is still a number."""
    text = redact_numbers(unicodedata.normalize("NFKC", text))
    return "\n".join(sanitise_summary(line) for line in text.splitlines()).strip()


def redact_numbers(text: str) -> str:
    """Every run of six or more digits, whatever separates them, becomes
    "[number ending 456]": the last three digits say which caller is meant
    (as the console and the whisper do) and nothing more. The words read
    naturally when a warning is spoken; the brackets are not said."""
    return _DIGIT_RUN.sub(_redacted, text)


def _redacted(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = [str(unicodedata.digit(ch)) for ch in run if ch.isdecimal()]
    if len(digits) < MIN_NUMBER_DIGITS:
        return run
    return f"[number ending {''.join(digits[-3:])}]"


# Whitespace a form's text may carry: tabs and the line breaks of a textarea.
_ALLOWED_CONTROLS = frozenset("\t\r\n")
# Not control characters to Unicode, but they reorder or break what a
# reader sees: bidirectional overrides and isolates, line and paragraph
# separators.
_DISGUISING = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")


def forbidden_characters(text: str, *, multiline: bool = True) -> list[str]:
    """The characters of ``text`` no field may hold, named for a message.

    NUL (which PostgreSQL refuses, issue 12) and every other C0/C1 control
    character, plus the disguising ones above. Tabs and line breaks are
    allowed where ``multiline`` (a form's textarea), never in one-line input.
    """
    found = []
    for ch in text:
        if ch in _ALLOWED_CONTROLS and multiline:
            continue
        if unicodedata.category(ch) == "Cc" or ch in _DISGUISING:
            name = "NUL" if ch == "\0" else f"U+{ord(ch):04X}"
            if name not in found:
                found.append(name)
    return found
