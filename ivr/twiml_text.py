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
import re
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


class Stencil:
    """A document rendered once, with named slots filled in per answer.

    For the hottest answer (ringing the member), building twilio's verb
    objects and writing them out was most of what is left of the view's own
    CPU (BENCHMARKS.md, "Webhook against its floor"), yet only a few values
    change from call to call. The document is built by the call flow as
    usual, once per shape, with :meth:`slot` markers where those values go;
    :meth:`fill` writes each value escaped as :func:`render` would escape it
    there (as an attribute or as text), so the bytes are those of rendering
    the same document built with the values (``tests/test_twiml_text.py``).
    """

    _MARK = "__stencil_slot_{}__"
    _FIND = re.compile(r"__stencil_slot_([a-z_]+)__")

    def __init__(self, document: TwiML) -> None:
        pieces = self._FIND.split(render(document))
        # pieces: literal, slot name, literal, slot name, ..., literal
        self._literals = pieces[0::2]
        self._slots: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        written = ""
        for literal, name in zip(pieces[0::2], pieces[1::2], strict=False):
            written += literal
            in_attribute = written.rfind("<") > written.rfind(">")  # inside a tag: an attribute value
            self._slots.append((name, _ATTRIBUTE_ESCAPES if in_attribute else _TEXT_ESCAPES))

    @classmethod
    def slot(cls, name: str) -> str:
        """The marker to build the document with where ``name``'s value goes
        (as many places as the document needs it)."""
        return cls._MARK.format(name)

    def fill(self, **values: str) -> str | None:
        """The document with ``values`` in its slots; None when a slot that
        is an element's whole text is given none (that element would be
        written ``<Verb />``, another shape: render the document instead)."""
        parts = [self._literals[0]]
        for (name, escapes), literal in zip(self._slots, self._literals[1:], strict=True):
            value = values[name]
            if not value and escapes is _TEXT_ESCAPES:
                return None
            parts.append(_escape(value, escapes))
            parts.append(literal)
        return "".join(parts)
