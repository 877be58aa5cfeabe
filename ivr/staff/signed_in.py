"""What a staff session's cookie carries, and when that session has ended.

The cookie is Flask's signed session. It carries the staff id, the
account's ``session_version`` at sign-in, when the session began and when it
was last used. A session ends when the account's version has moved on
(sign-out anywhere, a new password or role, the account disabled:
``storage.staff_accounts``), when it is older than its absolute lifetime,
or after the idle timeout, whichever comes first. Using a session refreshes
only its idle time, never its lifetime.
"""

from __future__ import annotations

from flask.sessions import SessionMixin

from storage.models import Staff

SIGNED_OUT = "You were signed out. Please sign in again."
IDLE = "You were signed out after a period of inactivity. Please sign in again."
TOO_OLD = "Your session reached its time limit. Please sign in again."
# The session ran out of time, rather than being ended on purpose.
TIMED_OUT = (IDLE, TOO_OLD)


def open_session(session: SessionMixin, staff: Staff, now: float) -> None:
    """Start a session for ``staff`` in an (already cleared) cookie session."""
    session["staff_id"] = staff.id
    session["version"] = staff.session_version
    session["since"] = now
    session["seen"] = now


def why_ended(
    session: SessionMixin, staff: Staff | None, now: float, idle_seconds: float, lifetime_seconds: float
) -> str | None:
    """Why this session may no longer be used (the message to show), or None."""
    if staff is None or not staff.active or session.get("version") != staff.session_version:
        return SIGNED_OUT
    since, seen = session.get("since"), session.get("seen")
    if not isinstance(since, int | float) or now - since > lifetime_seconds:
        return TOO_OLD
    if not isinstance(seen, int | float) or now - seen > idle_seconds:
        return IDLE
    return None
