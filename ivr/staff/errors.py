"""Clear error pages for the console; other parts of the app keep their own.

The handlers are app-wide (a 404 for an unknown ``/staff/…`` URL never
reaches the blueprint), so they answer with a console page only under
``/staff`` and hand everything else back unchanged.
"""

from __future__ import annotations

from flask import Response, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from ivr.staff.blueprint import bp
from ivr.staff.headers import _harden
from ivr.staff.text_guard import ControlCharacters

MESSAGES = {
    400: (
        "The form could not be used",
        "The page may have been open too long. Go back, reload it and try again.",
    ),
    401: ("Please sign in", "Your session has ended."),
    403: ("Not allowed", "Your role does not allow this page or action."),
    404: ("Not found", "There is nothing here, or it is not yours to see."),
    405: ("Not allowed", "That kind of request is not accepted here."),
    413: ("Too large", "The file is too large. Split it into smaller files."),
    429: ("Too many attempts", "Wait a while and try again."),
    500: ("Something went wrong", "The error was logged. Try again, or tell an admin if it keeps happening."),
}


def _page(exc: HTTPException) -> Response | HTTPException:
    if not request.path.startswith("/staff"):
        return exc
    code = exc.code or 500
    title, text = MESSAGES.get(code, ("Error", exc.description or ""))
    if isinstance(exc, ControlCharacters):
        text = exc.description or text  # names the field and what to do
    response = Response(render_template("staff/error.html", code=code, title=title, text=text), status=code)
    return _harden(response)


for _code in MESSAGES:
    if _code != 500:
        bp.app_errorhandler(_code)(_page)


@bp.app_errorhandler(InternalServerError)
def _server_error(exc: InternalServerError) -> Response | HTTPException:
    return _page(exc)
