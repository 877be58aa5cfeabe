"""The staff console under ``/staff/``: caseworkers and admins.

Each module registers its own views on :data:`bp`; importing them here is
what wires them up. Request hooks run in registration order: sign-in
(``auth``) is registered before the CSRF check (``csrf``), so anonymous
visitors are sent to sign in before their form is looked at.
"""

from __future__ import annotations

# Importing a module registers its views and hooks on ``bp``.
from ivr.staff import (
    account,
    audio,
    audit_log,
    auth,
    csrf,
    errors,
    export,
    headers,
    members,
    numbers,
    reports,
    stats,
    warnings,
    warnings_import,
)
from ivr.staff.blueprint import bp

__all__ = [
    "account",
    "audio",
    "audit_log",
    "auth",
    "bp",
    "csrf",
    "errors",
    "export",
    "headers",
    "members",
    "numbers",
    "reports",
    "stats",
    "warnings",
    "warnings_import",
]
