"""The languages the service speaks (all staff): voices, review status and
how many prompts members hear that each catalogue still says in English."""

from __future__ import annotations

from flask import render_template

from callflows.languages import LANGUAGES
from callflows.prompts import CATALOGUE, heard_by_members
from callflows.speech import untranslated
from ivr.staff.blueprint import bp

# The caseworker's side of calls from the scheme is English by design: not a
# gap in a catalogue, so not counted.
HEARD_BY_MEMBERS = frozenset(entry.id for entry in CATALOGUE.values() if heard_by_members(entry))


@bp.route("/languages")
def languages_page() -> str:
    """Each language's voice, whether a native speaker has checked it, and its English fallbacks."""
    rows = [(language, len(HEARD_BY_MEMBERS.intersection(untranslated(language)))) for language in LANGUAGES]
    return render_template("staff/languages.html", rows=rows, total=len(HEARD_BY_MEMBERS))
