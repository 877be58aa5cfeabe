"""Text options of the CLI, refused when they hold control characters.

The same rule as the staff console (ivr/staff/text_guard.py): a NUL byte
makes PostgreSQL raise, and other control characters have no place in a
name, an email or a summary. One-line input, so line breaks are refused too.
"""

from __future__ import annotations

from typing import Any

import click

from callflows.sanitise import forbidden_characters


def refusal(found: list[str]) -> str:
    """The message naming what was found, for an option or the password."""
    return f"contains a control character ({', '.join(found[:3])}); retype it without"


class OneLineText(click.ParamType):
    """A click parameter type: any text without control characters."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        found = forbidden_characters(text, multiline=False)
        if found:
            self.fail(refusal(found), param, ctx)
        return text


ONE_LINE = OneLineText()
