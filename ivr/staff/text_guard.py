"""Every text a person sends the console is checked for control characters.

A NUL byte in a member's name made PostgreSQL raise, and the error logged
the statement's parameters (issue 12). So before any view runs, every field
of the query string and of the form is checked: NUL, other control
characters and the bidirectional overrides that disguise text get a 400
page saying which field and what to do, and nothing is written. Tabs and
line breaks stay allowed in form fields (notes are multi-line).
"""

from __future__ import annotations

from flask import request
from werkzeug.exceptions import BadRequest

from callflows.sanitise import forbidden_characters
from ivr.staff.blueprint import bp


class ControlCharacters(BadRequest):
    """A field holds characters no field may hold; the description says which."""


def _field_label(name: str) -> str:
    # Field names are the form's own, but a crafted request may send anything.
    clean = "".join(ch for ch in name if ch.isalnum() or ch in "_-")[:40]
    return clean.replace("_", " ") or "a field"


@bp.before_request
def refuse_control_characters() -> None:
    """400 with a clear message for any field carrying a control character."""
    fields = [(name, value, False) for name, value in request.args.items(multi=True)]
    if request.method not in ("GET", "HEAD"):
        fields += [(name, value, True) for name, value in request.form.items(multi=True)]
    for name, value, multiline in fields:
        found = forbidden_characters(name, multiline=False) or forbidden_characters(
            value, multiline=multiline
        )
        if found:
            raise ControlCharacters(
                description=(
                    f"The field “{_field_label(name)}” contains a character that cannot be stored "
                    f"({', '.join(found[:3])}), probably pasted from elsewhere. "
                    "Retype the text and send the form again."
                )
            )
