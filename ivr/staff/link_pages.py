"""The pages a one-time staff link opens, without signing in: set a password
(an invitation or a reset), or replace a lost authenticator's key.

The link's secret is in its path; only its hash is stored
(``storage.staff_links``). A used, expired, replaced or unknown link, or
one for a disabled account, opens the same "this link does not work" page,
so the page tells nothing about which. Using a link ends every session of
the account. A TOTP link asks for the account's password too: a link
seen by someone else does not open the account by itself.
"""

from __future__ import annotations

import pyotp
from flask import flash, redirect, render_template, session, url_for
from werkzeug.wrappers import Response

from ivr.services import current_services
from ivr.staff.account import ISSUER
from ivr.staff.auth import password_matches, totp_ok
from ivr.staff.blueprint import bp
from ivr.staff.common import db
from ivr.staff.staff_forms import NewKeyForm, SetPasswordForm
from storage import repositories as repo
from storage import staff_accounts, staff_links
from storage.models import Staff, StaffLink, utcnow
from storage.staff_links import LinkPurpose

# The TOTP key being set up through a link, kept encrypted in the (signed,
# not secret) cookie session until a code of it is given.
PENDING_KEY = "link_totp"
DONE = {
    LinkPurpose.INVITE: "Your password is set. Sign in with your email and the new password.",
    LinkPurpose.PASSWORD: "Your new password is set and you are signed out everywhere. Sign in with it.",
    LinkPurpose.TOTP: "Your new key is set: sign in with your password and a code from the app.",
}


def _dead() -> tuple[str, int]:
    return render_template("staff/link_dead.html"), 404


def _spend(link: StaffLink, staff: Staff, action: str) -> Response | tuple[str, int]:
    """Mark the link used (once: a parallel post loses here and changes
    nothing), end the account's sessions, audit as the holder, commit."""
    if not staff_links.use(db(), link.id, utcnow()):
        db().rollback()
        return _dead()
    staff_accounts.end_sessions(db(), staff.id)
    repo.audit(db(), action, staff_id=staff.id, target_type="staff", target_id=staff.id)
    db().commit()
    # Nothing of a session from before survives a link's use.
    session.clear()
    flash(DONE[LinkPurpose(link.purpose)])
    return redirect(url_for("staff.login"))


@bp.route("/link/<token>", methods=["GET", "POST"])
def link_page(token: str) -> str | Response | tuple[str, int]:
    """The page a link opens: a new password, or a new TOTP key."""
    found = staff_links.live(db(), token, utcnow()) if token.isascii() else None
    if found is None:
        return _dead()
    link, staff = found
    if link.purpose == LinkPurpose.TOTP:
        return _new_key(link, staff)
    return _new_password(link, staff)


def _new_password(link: StaffLink, staff: Staff) -> str | Response | tuple[str, int]:
    form = SetPasswordForm()
    invited = link.purpose == LinkPurpose.INVITE
    if not form.is_submitted():
        return render_template("staff/link_password.html", staff=staff, invited=invited)
    error = None
    if form.new.data != form.again.data:
        error = "The password and its repeat differ."
    else:
        try:
            staff_accounts.change_password(db(), staff.id, form.new.data or "")
            # A forgotten password often ends in a locked account: the new one opens it.
            staff.failed_logins, staff.locked_until = 0, None
        except ValueError as exc:
            error = f"Not set: {exc}."
    if error is not None:
        return render_template("staff/link_password.html", staff=staff, invited=invited, error=error), 400
    return _spend(link, staff, "staff.invite_accepted" if invited else "password.reset")


def _new_key(link: StaffLink, staff: Staff) -> str | Response | tuple[str, int]:
    cipher = current_services().vault.cipher
    pending = session.get(PENDING_KEY)
    if not (isinstance(pending, list) and len(pending) == 2 and pending[0] == link.id):
        pending = [link.id, cipher.encrypt(pyotp.random_base32())]
        session[PENDING_KEY] = pending
    form = NewKeyForm()
    if form.is_submitted():
        if not password_matches(staff, form.password.data or ""):
            error = "That password did not match."
        elif not totp_ok(staff.id, pending[1], form.code.data):
            error = "That code did not match. Check the clock of your phone and try again."
        else:
            staff.totp_secret_encrypted = pending[1]
            return _spend(link, staff, "totp.reset")
        db().commit()  # the code's step, claimed or not, is kept either way
    else:
        error = None
    key = cipher.decrypt(pending[1])
    uri = pyotp.TOTP(key).provisioning_uri(name=staff.email, issuer_name=ISSUER)
    page = render_template("staff/link_totp.html", staff=staff, key=key, uri=uri, error=error)
    return (page, 400) if error else page
