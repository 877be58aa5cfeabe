"""Make free text safe to store in a warning and to speak to a member.

Warnings are read aloud by text-to-speech and shown to staff; they must not
carry a phone number, markup or control characters.
"""

from __future__ import annotations

import re
import unicodedata

MAX_SUMMARY = 400
# Six or more digits, possibly split by spaces, dots, dashes or brackets:
# long enough to be (part of) a phone number.
_NUMBER_LIKE = re.compile(r"\+?\d[\d\s().\-]{4,}\d")
_TAGS = re.compile(r"<[^>]*>")


def sanitise_summary(text: str) -> str:
    """Strip markup, control characters and number-like runs; collapse space."""
    text = unicodedata.normalize("NFKC", text)
    text = _TAGS.sub(" ", text)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = _NUMBER_LIKE.sub(lambda m: _keep_short(m.group(0)), text)
    text = " ".join(text.split())
    return text[:MAX_SUMMARY].strip()


def _keep_short(run: str) -> str:
    digits = sum(ch.isdigit() for ch in run)
    return "[number removed]" if digits >= 6 else run
