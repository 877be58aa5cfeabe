"""Sign-in: password (Argon2id), optional one-time TOTP, lockout, per-IP limit.

Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax, Secure in
production; set in ``create_app``). A session carries only the staff id, the
account's session version, its start and last use (``ivr.staff.signed_in``)
and the CSRF token; it ends at sign-out everywhere, on the idle timeout and
at its absolute lifetime.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import timedelta
from urllib.parse import urlsplit

from flask import flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import Connection, select
from werkzeug.wrappers import Response

from callflows.lockout import LockoutPolicy
from ivr.services import current_services
from ivr.staff import kept_forms, signed_in
from ivr.staff.blueprint import bp
from ivr.staff.common import audit, clock, db
from ivr.staff.forms import CodeForm, SignInForm
from ivr.staff.totp import matching_step
from storage import sign_in_limits, staff_accounts
from storage.hashing import verify_secret
from storage.models import Staff, utcnow

# Endpoints anyone may reach without signing in (a one-time staff link
# carries its own proof: ivr.staff.link_pages).
PUBLIC_ENDPOINTS = frozenset({"staff.login", "staff.login_code", "staff.link_page"})
GENERIC_FAILURE = "That email and password did not match, or the account is locked for a while."
# A half-finished sign-in (password right, code not yet given) expires fast.
PENDING_SECONDS = 300


@bp.before_request
def load_signed_in_staff() -> Response | None:
    """Find the signed-in staff member; end sessions that were ended (sign-out,
    a new password or role, a disabled account), that are too old or idle;
    send everyone else to sign in."""
    g.staff = None
    staff_id = session.get("staff_id")
    if staff_id is not None:
        now = clock()
        staff = db().get(Staff, staff_id) if isinstance(staff_id, int) else None
        ended = signed_in.why_ended(
            session,
            staff,
            now,
            idle_seconds=current_services().settings.staff_idle_minutes * 60,
            lifetime_seconds=current_services().settings.staff_session_hours * 3600,
        )
        if ended is not None:
            # Before the old session goes: its CSRF token vouches for the form.
            kept = kept_forms.keep_typed_form(staff) if ended in signed_in.TIMED_OUT else None
            session.clear()
            flash(ended)
            if kept is not None:
                session[kept_forms.SESSION_KEY] = kept
                flash(KEPT)
        else:
            g.staff = staff
            session["seen"] = now
    if request.endpoint in PUBLIC_ENDPOINTS or g.staff is not None:
        return None
    return redirect(url_for("staff.login", next=safe_next(_return_to())))


def _return_to() -> str | None:
    """The page to come back to after signing in: the one asked for, or for a
    form that was sent, the page it belongs to (a form's own URL answers
    only POST: coming back to it was a 405 page)."""
    if request.method in ("GET", "HEAD"):
        return request.full_path
    return kept_forms.page_of(request.path)


def safe_next(target: str | None) -> str | None:
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


IP_WINDOW = timedelta(minutes=15)
TOO_MANY_FROM_HERE = "Too many failed sign-ins from here. Wait a while."
KEPT = "What you were sending was kept: sign in again to send it."


def _counters() -> AbstractContextManager[Connection]:
    """A connection for the sign-in counters whose statements commit on their
    own: a counter's row is locked only while PostgreSQL runs the statement,
    not until this process, busy with other requests, sends a COMMIT (40
    parallel attempts once queued past the statement timeout that way).
    Returned to the pool at the end of the block."""
    return current_services().db.standalone_connection()


def _take_client_attempt() -> sign_in_limits.CountedAttempt | None:
    """Count this attempt against the client's address before anything is
    checked (committed at once, so parallel requests see it); where it was
    counted, or None when the address is over its limit."""
    now = utcnow()
    with _counters() as counters:
        counted = sign_in_limits.take_client_attempt(
            counters,
            _client_ip(),
            now,
            limit=current_services().settings.staff_ip_failures_per_15_min,
            window=IP_WINDOW,
        )
        sign_in_limits.forget_finished_windows(counters, now, IP_WINDOW)
    return counted


def _lockout() -> LockoutPolicy:
    """The member menu's lockout policy, with the console's own limits."""
    settings = current_services().settings
    return LockoutPolicy(settings.staff_max_failed_logins, timedelta(minutes=settings.staff_lockout_minutes))


def _reserve_check(staff: Staff | None) -> sign_in_limits.Reserved | None:
    """Take one of the account's checks (committed at once); None when locked."""
    if staff is None:
        return None
    # The session's connection goes back to the pool first (the staff row
    # stays loaded): a request never holds two connections at once.
    db().commit()
    with _counters() as counters:
        return sign_in_limits.reserve_check(counters, staff.id, _lockout(), utcnow())


def _record_failure(staff: Staff | None, reserved: sign_in_limits.Reserved | None) -> None:
    """Audit a failed attempt; the counters already hold it (taken before the check)."""
    audit("login.failed", "staff", staff.id if staff else None, f"ip={_client_ip()}")
    if staff is not None and reserved is not None and reserved.locked_now:
        audit("login.locked", "staff", staff.id)
    db().commit()


def password_matches(staff: Staff, password: str) -> bool:
    """Check an account's password outside the sign-in form (a TOTP reset
    link asks for it), under the same per-account lockout: a wrong one is
    counted and audited as a failed sign-in; a locked account's never matches."""
    reserved = _reserve_check(staff)
    ok = verify_secret(staff.password_hash if reserved else None, password)
    if not ok or reserved is None:
        _record_failure(staff, reserved)
        return False
    sign_in_limits.give_back_check(db(), staff.id, reserved, _lockout())
    return True


def _start_session(staff: Staff, client_window: sign_in_limits.CountedAttempt) -> Response:
    staff.failed_logins = 0
    staff.locked_until = None
    sign_in_limits.give_back_client_attempt(db(), _client_ip(), client_window)
    target = safe_next(session.get("next"))
    kept = session.get(kept_forms.SESSION_KEY)
    # A fresh session at sign-in: nothing from before survives (no fixation)
    # but the handle of a form this same account sent as its session timed out.
    session.clear()
    signed_in.open_session(session, staff, clock())
    g.staff = staff
    audit("login.ok", "staff", staff.id, f"ip={_client_ip()}")
    if kept is not None and kept_forms.offer_after_sign_in(kept, staff):
        target = url_for("staff.kept_form_page")
    db().commit()
    return redirect(target or url_for("staff.inbox"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    """Email and password; then the TOTP code when the account has one."""
    # Only a POST is an attempt: HEAD (an uptime monitor's) is answered as
    # GET is, and must not use up the address's sign-in limit.
    if request.method != "POST":
        if g.staff is not None:
            return redirect(url_for("staff.inbox"))
        nxt = safe_next(request.args.get("next"))
        if nxt:
            session["next"] = nxt
        return render_template("staff/login.html")
    client_window = _take_client_attempt()
    if client_window is None:
        return render_template("staff/login.html", error=TOO_MANY_FROM_HERE), 429
    form = SignInForm()
    email, password = form.email.data, form.password.data
    staff = db().scalars(select(Staff).where(Staff.email == email)).first() if email else None
    reserved = _reserve_check(staff)
    # A locked account's password is never checked; verify_secret spends the
    # same time on it (and on an unknown email) as on a real check.
    ok = verify_secret(staff.password_hash if staff is not None and reserved else None, password)
    if not ok or staff is None or not staff.active or reserved is None:
        _record_failure(staff, reserved)
        return render_template("staff/login.html", error=GENERIC_FAILURE, email=email), 401
    if staff.totp_secret_encrypted:
        # Only failures add up: the right password gives back what it took.
        sign_in_limits.give_back_check(db(), staff.id, reserved, _lockout())
        sign_in_limits.give_back_client_attempt(db(), _client_ip(), client_window)
        db().commit()
        session["pending_staff"] = staff.id
        session["pending_at"] = clock()
        return redirect(url_for("staff.login_code"))
    return _start_session(staff, client_window)


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> Response | str | tuple[str, int]:
    """The second step for accounts with TOTP turned on."""
    staff_id = session.get("pending_staff")
    fresh = clock() - float(session.get("pending_at", 0)) < PENDING_SECONDS
    staff = db().get(Staff, staff_id) if staff_id is not None and fresh else None
    if staff is None or not staff.totp_secret_encrypted:
        session.pop("pending_staff", None)
        return redirect(url_for("staff.login"))
    if request.method != "POST":
        return render_template("staff/login_code.html")
    client_window = _take_client_attempt()
    reserved = _reserve_check(staff) if client_window is not None else None
    if client_window is None or reserved is None:
        session.pop("pending_staff", None)
        return render_template("staff/login.html", error=GENERIC_FAILURE), 429
    if not totp_ok(staff.id, staff.totp_secret_encrypted, CodeForm().code.data):
        _record_failure(staff, reserved)
        return render_template("staff/login_code.html", error="That code did not match. Try again."), 401
    return _start_session(staff, client_window)


def totp_ok(staff_id: int, secret_encrypted: str, code: str) -> bool:
    """Accept a 6-digit code of this secret once: in its own 30-second step
    (one step of clock skew at most), and never a code of a step already used
    by this account (``storage.staff_accounts.claim_totp_step``)."""
    secret = current_services().vault.cipher.decrypt(secret_encrypted)
    step = matching_step(secret, code, clock())
    return step is not None and staff_accounts.claim_totp_step(db(), staff_id, step)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """Sign out everywhere: every session of the account ends, a copied cookie
    included (a POST with the CSRF token, so no page can sign someone out)."""
    if g.staff is not None:
        staff_accounts.end_sessions(db(), g.staff.id)
    audit("logout", "staff", g.staff.id if g.staff else None)
    db().commit()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("staff.login"))
