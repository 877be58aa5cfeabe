"""CSRF protection for every form: one random token per session.

Every POST to the console must carry it (form field ``csrf_token`` or the
``X-CSRF-Token`` header); a missing or wrong token is refused with 400 before
the view runs, so nothing changes.
"""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session

from ivr.staff.blueprint import bp

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token() -> str:
    """This session's token, made on first use."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


@bp.before_request
def check_csrf_token() -> None:
    """Refuse any state-changing request without this session's token."""
    if request.method in SAFE_METHODS:
        return
    expected = session.get("csrf")
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    if not isinstance(expected, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="csrf")


@bp.app_context_processor
def _token_for_templates() -> dict[str, object]:
    return {"csrf_token": csrf_token}
