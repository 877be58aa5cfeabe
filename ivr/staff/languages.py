"""The languages the service speaks (all staff): voices, review status and
how many prompts each catalogue still says in English."""

from __future__ import annotations

from flask import render_template

from callflows.languages import LANGUAGES
from callflows.prompts import CATALOGUE
from callflows.speech import untranslated
from ivr.staff.blueprint import bp


@bp.route("/languages")
def languages_page() -> str:
    """Each language's voice, whether a native speaker has checked it, and its English fallbacks."""
    rows = [(language, len(untranslated(language))) for language in LANGUAGES]
    return render_template("staff/languages.html", rows=rows, total=len(CATALOGUE))
