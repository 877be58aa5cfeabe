"""The signed-in user's own account: role, password, being on call for
check-in alarms and risk signals, and (for admins) the TOTP second factor."""

from __future__ import annotations

import pyotp
from flask import abort, flash, redirect, render_template, session, url_for
from werkzeug.wrappers import Response

from callflows.phone import last_three
from ivr.services import current_services
from ivr.staff.auth import totp_ok
from ivr.staff.blueprint import bp
from ivr.staff.common import audit, db, require_admin, viewer
from ivr.staff.forms import CodeForm, OnCallForm, PasswordForm, StaffPhoneForm
from ivr.staff_phone import encrypted_staff_phone
from storage import staff_accounts
from storage.hashing import verify_secret
from storage.models import Staff

ISSUER = "Safety Number staff"


@bp.route("/account")
def account() -> str:
    """Who is signed in, and whether a TOTP code is asked at sign-in."""
    staff = viewer()
    # The cookie session is signed, not secret: the pending TOTP secret sits
    # in it encrypted, and is shown only on this page.
    token = session.get("totp_pending")
    pending = current_services().vault.cipher.decrypt(token) if isinstance(token, str) else None
    uri = pyotp.TOTP(pending).provisioning_uri(name=staff.email, issuer_name=ISSUER) if pending else None
    return render_template(
        "staff/account.html", staff=staff, pending=pending, uri=uri, phone_last3=phone_last3(staff)
    )


def phone_last3(staff: Staff) -> str | None:
    """The last three digits of the staff member's own phone (decrypted only for this)."""
    if staff.phone_encrypted is None:
        return None
    return last_three(current_services().vault.reveal(staff.phone_encrypted))


@bp.route("/account/phone", methods=["POST"])
def phone_change() -> Response | tuple[str, int]:
    """Set (or, left empty, remove) one's own phone: "Call the member" rings it first."""
    staff = viewer()
    typed = StaffPhoneForm().phone.data or ""
    try:
        token = encrypted_staff_phone(typed) if typed else None
    except ValueError as exc:
        error = f"Not changed: {exc}."
        page = render_template(
            "staff/account.html", staff=staff, phone_last3=phone_last3(staff), phone_error=error
        )
        return page, 400
    staff_accounts.set_phone(db(), staff.id, token)
    audit("staff.phone", "staff", staff.id, "set" if token else "removed")
    db().commit()
    flash("Your phone is saved: calls to members ring it first." if token else "Your phone is removed.")
    return redirect(url_for("staff.account"))


@bp.route("/account/on-call", methods=["POST"])
def account_on_call() -> Response:
    """Go on or off call for check-in alarms and risk signals (on call: each is emailed to you)."""
    staff = viewer()
    staff.on_call = bool(OnCallForm().on_call.data)
    audit("staff.on_call", "staff", staff.id, "on" if staff.on_call else "off")
    db().commit()
    flash(
        "You are on call: check-in alarms and new risk signals are emailed to you."
        if staff.on_call
        else "You are off call."
    )
    return redirect(url_for("staff.account"))


@bp.route("/account/totp/start", methods=["POST"])
def totp_start() -> Response:
    """Make a new TOTP secret to show once; it is kept only after a correct code."""
    staff = require_admin()
    if staff.totp_secret_encrypted:
        abort(400)
    session["totp_pending"] = current_services().vault.cipher.encrypt(pyotp.random_base32())
    return redirect(url_for("staff.account"))


@bp.route("/account/totp/confirm", methods=["POST"])
def totp_confirm() -> Response | tuple[str, int]:
    """Turn TOTP on once the authenticator app shows a matching code."""
    staff = require_admin()
    encrypted = session.get("totp_pending")
    if not isinstance(encrypted, str):
        return redirect(url_for("staff.account"))
    if not totp_ok(staff.id, encrypted, CodeForm().code.data):
        flash("That code did not match. Check the clock of your phone and try again.")
        return redirect(url_for("staff.account"))
    staff.totp_secret_encrypted = encrypted
    session.pop("totp_pending", None)
    audit("totp.enable", "staff", staff.id)
    db().commit()
    flash("Two-step sign-in is on: you will be asked for a code at every sign-in.")
    return redirect(url_for("staff.account"))


@bp.route("/account/totp/disable", methods=["POST"])
def totp_disable() -> Response:
    """Turn TOTP off; needs a current code, so a stolen session alone cannot."""
    staff = require_admin()
    code = CodeForm().code.data
    if not staff.totp_secret_encrypted or not totp_ok(staff.id, staff.totp_secret_encrypted, code):
        flash("That code did not match; two-step sign-in stays on.")
        return redirect(url_for("staff.account"))
    staff.totp_secret_encrypted = None
    audit("totp.disable", "staff", staff.id)
    db().commit()
    flash("Two-step sign-in is off.")
    return redirect(url_for("staff.account"))


@bp.route("/account/password", methods=["POST"])
def password_change() -> Response | tuple[str, int]:
    """Change one's own password (the current one is asked); every session of
    the account ends, this one too, so whoever copied a cookie is out."""
    staff = viewer()
    form = PasswordForm()
    error = None
    if not verify_secret(staff.password_hash, form.current.data or ""):
        error = "Your current password did not match."
    elif form.new.data != form.again.data:
        error = "The new password and its repeat differ."
    else:
        try:
            staff_accounts.change_password(db(), staff.id, form.new.data or "")
        except ValueError as exc:
            error = f"Not changed: {exc}."
    if error is not None:
        page = render_template(
            "staff/account.html", staff=staff, phone_last3=phone_last3(staff), password_error=error
        )
        return page, 400
    audit("password.change", "staff", staff.id)
    db().commit()
    session.clear()
    flash("Your password is changed and you are signed out everywhere. Sign in with the new password.")
    return redirect(url_for("staff.login"))
