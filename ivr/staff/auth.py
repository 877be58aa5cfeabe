"""Sign-in: password (Argon2id), optional TOTP, lockout, per-IP limit, idle timeout.

Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax, Secure in
production; set in ``create_app``). A session carries only the staff id, the
time of the last request (for the idle timeout) and the CSRF token.
"""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import urlsplit

import pyotp
from flask import flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from callflows.lockout import Attempts, LockoutPolicy
from ivr.staff.blueprint import bp
from ivr.staff.common import audit, db, services, setting
from ivr.staff.forms import CodeForm, SignInForm
from storage.hashing import verify_secret
from storage.models import AuditEntry, Staff, utcnow

# Endpoints anyone may reach without signing in.
PUBLIC_ENDPOINTS = frozenset({"staff.login", "staff.login_code"})
GENERIC_FAILURE = "That email and password did not match, or the account is locked for a while."
# A half-finished sign-in (password right, code not yet given) expires fast.
PENDING_SECONDS = 300


@bp.before_request
def load_signed_in_staff() -> Response | None:
    """Find the signed-in staff member; expire idle sessions; send others to sign in."""
    g.staff = None
    staff_id = session.get("staff_id")
    if staff_id is not None:
        idle = time.time() - float(session.get("seen", 0))
        staff = db().get(Staff, staff_id)
        if idle > setting("STAFF_IDLE_MINUTES") * 60 or staff is None or not staff.active:
            session.clear()
            flash("You were signed out after a period of inactivity. Please sign in again.")
        else:
            g.staff = staff
            session["seen"] = time.time()
    if request.endpoint in PUBLIC_ENDPOINTS or g.staff is not None:
        return None
    return redirect(url_for("staff.login", next=_safe_next(request.full_path)))


def _safe_next(target: str | None) -> str | None:
    """Only a path inside the console may be a redirect target: no other site
    (open redirect), and no control character, which would split the
    ``Location`` header (CR/LF) or make Werkzeug refuse it with a 500."""
    if not target:
        return None
    target = target.rstrip("?")
    if not target.startswith("/staff/") or "\\" in target or not target.isprintable():
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/staff/"):
        return None
    return target


def _client_ip() -> str:
    return request.remote_addr or "unknown"


def _ip_blocked() -> bool:
    """Too many failed sign-ins from this address lately (kept in the audit log,
    so every web process sees the same count)."""
    since = utcnow() - timedelta(minutes=15)
    failures = db().scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.action == "login.failed",
            AuditEntry.at >= since,
            AuditEntry.detail == f"ip={_client_ip()}",
        )
    )
    return (failures or 0) >= setting("STAFF_IP_FAILURES_PER_15_MIN")


def _lockout() -> LockoutPolicy:
    """The member menu's lockout policy, with the console's own limits."""
    return LockoutPolicy(
        setting("STAFF_MAX_FAILED_LOGINS"), timedelta(minutes=setting("STAFF_LOCKOUT_MINUTES"))
    )


def _locked(staff: Staff) -> bool:
    return _lockout().is_locked(Attempts(staff.failed_logins, staff.locked_until), utcnow())


def _record_failure(staff: Staff | None) -> None:
    audit("login.failed", "staff", staff.id if staff else None, f"ip={_client_ip()}")
    if staff is not None:
        failure = _lockout().after_failure(Attempts(staff.failed_logins, staff.locked_until), utcnow())
        staff.failed_logins, staff.locked_until = failure.attempts.failures, failure.attempts.locked_until
        if failure.locked_now:
            audit("login.locked", "staff", staff.id)
    db().commit()


def _start_session(staff: Staff) -> Response:
    staff.failed_logins = 0
    staff.locked_until = None
    target = _safe_next(session.get("next"))
    # A fresh session at sign-in: nothing from before survives (no fixation).
    session.clear()
    session["staff_id"] = staff.id
    session["seen"] = time.time()
    g.staff = staff
    audit("login.ok", "staff", staff.id, f"ip={_client_ip()}")
    db().commit()
    return redirect(target or url_for("staff.inbox"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    """Email and password; then the TOTP code when the account has one."""
    if request.method == "GET":
        if g.staff is not None:
            return redirect(url_for("staff.inbox"))
        nxt = _safe_next(request.args.get("next"))
        if nxt:
            session["next"] = nxt
        return render_template("staff/login.html")
    if _ip_blocked():
        error = "Too many failed sign-ins from here. Wait a while."
        return render_template("staff/login.html", error=error), 429
    form = SignInForm()
    email, password = form.email.data, form.password.data
    staff = db().scalars(select(Staff).where(Staff.email == email)).first() if email else None
    # verify_secret spends the same time on an unknown email as on a real one.
    ok = verify_secret(staff.password_hash if staff else None, password)
    locked = staff is not None and _locked(staff)
    if not ok or staff is None or not staff.active or locked:
        _record_failure(staff if staff is not None and not locked else None)
        return render_template("staff/login.html", error=GENERIC_FAILURE, email=email), 401
    if staff.totp_secret_encrypted:
        session["pending_staff"] = staff.id
        session["pending_at"] = time.time()
        return redirect(url_for("staff.login_code"))
    return _start_session(staff)


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> Response | str | tuple[str, int]:
    """The second step for accounts with TOTP turned on."""
    staff_id = session.get("pending_staff")
    fresh = time.time() - float(session.get("pending_at", 0)) < PENDING_SECONDS
    staff = db().get(Staff, staff_id) if staff_id is not None and fresh else None
    if staff is None or not staff.totp_secret_encrypted:
        session.pop("pending_staff", None)
        return redirect(url_for("staff.login"))
    if request.method == "GET":
        return render_template("staff/login_code.html")
    if _ip_blocked() or _locked(staff):
        session.pop("pending_staff", None)
        return render_template("staff/login.html", error=GENERIC_FAILURE), 429
    if not totp_ok(staff.totp_secret_encrypted, CodeForm().code.data):
        _record_failure(staff)
        return render_template("staff/login_code.html", error="That code did not match. Try again."), 401
    return _start_session(staff)


def totp_ok(secret_encrypted: str, code: str) -> bool:
    """Check a 6-digit code against an encrypted TOTP secret (one step of clock drift allowed)."""
    code = "".join(code.split())
    if not code.isdigit() or len(code) != 6:
        return False
    secret = services().vault.cipher.decrypt(secret_encrypted)
    return bool(pyotp.TOTP(secret).verify(code, valid_window=1))


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """Sign out (a POST with the CSRF token, so no page can sign someone out)."""
    audit("logout", "staff", g.staff.id if g.staff else None)
    db().commit()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("staff.login"))
