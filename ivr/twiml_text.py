"""TwiML documents to text: the same bytes as ``str(response)``, faster.

twilio's own ``TwiML.to_xml`` builds an ElementTree copy of the document
and serialises that, which was about a tenth of an inbound call's CPU
(BENCHMARKS.md, "Profile"). This walks twilio's verb objects directly and
writes what ElementTree would: attributes sorted, booleans as ``true`` /
``false``, a dict value as JSON, ``<Verb />`` when empty, the same escaping.
``tests/test_twiml_text.py`` holds it to byte equality with ``str()`` over
every call flow's output and over random text.
"""

from __future__ import annotations

import json
from typing import Any

from twilio.twiml import TwiML

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'

# What ElementTree escapes, in the order it does it (ampersand first).
_TEXT_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))
_ATTRIBUTE_ESCAPES = (
    *_TEXT_ESCAPES,
    ('"', "&quot;"),
    ("\r", "&#13;"),
    ("\n", "&#10;"),
    ("\t", "&#09;"),
)


def render(document: TwiML) -> str:
    """The document with its XML declaration, as Twilio receives it."""
    parts = [DECLARATION]
    _write(document, parts)
    return "".join(parts)


def _escape(text: str, escapes: tuple[tuple[str, str], ...]) -> str:
    for char, entity in escapes:
        if char in text:
            text = text.replace(char, entity)
    return text


def _attribute(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _write(node: TwiML, parts: list[str]) -> None:
    # twilio's rules for mixing strings and verbs: a string before any child
    # verb is the element's text, a string after one is that verb's tail, and
    # a later string in the same place replaces an earlier one.
    text = node.value
    if isinstance(text, dict):
        text = json.dumps(text)
    children: list[list[Any]] = []  # [verb, tail]
    for verb in node.verbs:
        if isinstance(verb, str):
            if children:
                children[-1][1] = verb
            else:
                text = verb
        else:
            children.append([verb, None])

    parts.append(f"<{node.name}")
    for name in sorted(node.attrs):
        parts.append(f' {name}="{_escape(_attribute(node.attrs[name]), _ATTRIBUTE_ESCAPES)}"')
    if not text and not children:
        parts.append(" />")
        return
    parts.append(">")
    if text:
        parts.append(_escape(text, _TEXT_ESCAPES))
    for child, tail in children:
        _write(child, parts)
        if tail:
            parts.append(_escape(tail, _TEXT_ESCAPES))
    parts.append(f"</{node.name}>")
