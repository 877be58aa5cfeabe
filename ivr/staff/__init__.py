"""The staff console under ``/staff/``: caseworkers and admins.

Each module registers its own views on :data:`bp`; importing them here is
what wires them up. Request hooks run in registration order: sign-in
(``auth``, on import) runs before the CSRF check (registered below), so
anonymous visitors are sent to sign in before their form is looked at. The
check for control characters in any field (``text_guard``, on import) runs
before the CSRF check too: either refuses with a 400 and changes nothing.
"""

from __future__ import annotations

# Importing a module registers its views and hooks on ``bp``.
from ivr.staff import (
    account,
    audio,
    audit_log,
    auth,
    calls,
    checkins,
    errors,
    export,
    forms,
    headers,
    jobs,
    kept_forms,
    languages,
    link_pages,
    members,
    numbers,
    reports,
    signals,
    staff_admin,
    stats,
    text_guard,
    warnings,
    warnings_import,
)
from ivr.staff.blueprint import bp
from ivr.staff.forms import check_csrf_token, init_app

bp.before_request(check_csrf_token)

__all__ = [
    "account",
    "audio",
    "audit_log",
    "auth",
    "bp",
    "calls",
    "checkins",
    "errors",
    "export",
    "forms",
    "headers",
    "init_app",
    "jobs",
    "kept_forms",
    "languages",
    "link_pages",
    "members",
    "numbers",
    "reports",
    "signals",
    "staff_admin",
    "stats",
    "text_guard",
    "warnings",
    "warnings_import",
]
