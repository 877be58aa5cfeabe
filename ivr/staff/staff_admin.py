"""Staff management (admins only): invite, change role, on call, disable and
enable, and one-time links to reset a password or a TOTP key.

No password is ever shown, typed or mailed here: an admin issues a link
(``storage.staff_links``), sees it once and hands it over; its holder sets
their own password or key. Every change is audited. Taking the admin role
or the account away from the last active admin is refused, checked under a
row lock in the change's own transaction (``storage.staff_accounts``).
Staff's own phones show their last three digits at most.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from flask import abort, flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from callflows.errors import DuplicateStaff
from callflows.status import StaffRole
from ivr.services import current_services
from ivr.staff.account import phone_last3
from ivr.staff.blueprint import bp
from ivr.staff.common import audit, db, require_admin, viewer
from ivr.staff.forms import OnCallForm
from ivr.staff.staff_forms import ConfirmForm, InviteForm, RoleForm
from storage import repositories as repo
from storage import staff_accounts, staff_links
from storage.models import Staff, utcnow
from storage.staff_links import LinkPurpose
from worker.mail import staff_link

NOT_CONFIRMED = "Nothing was changed: tick the box to confirm first."
# One account's pages: an id within the column's range (storage.ids), else 404.
ACCOUNT = "/staff/<int(max=2147483647):staff_id>"
LINK_HOURS = int(staff_links.LINK_LIFETIME.total_seconds() // 3600)


@bp.route("/staff")
def staff_list() -> str:
    """Every account: role, state, on call, two-step sign-in, phone's last digits."""
    require_admin()
    people = db().scalars(select(Staff).order_by(Staff.active.desc(), Staff.email)).all()
    return render_template(
        "staff/staff_list.html",
        people=people,
        invited=staff_links.pending_invitations(db(), utcnow()),
        phones={s.id: phone_last3(s) for s in people},
    )


@bp.route("/staff/new", methods=["GET", "POST"])
def staff_invite() -> str | Response | tuple[str, int]:
    """Make an account with no password and show its invitation link once."""
    me = require_admin()
    form = InviteForm()
    if not form.is_submitted():
        return render_template("staff/staff_new.html", form=form, hours=LINK_HOURS)
    error = None
    if not form.validate():
        error = "Choose caseworker or admin."
    else:
        try:
            staff = repo.add_staff(db(), email=form.email.data or "", password=None, role=form.role.data)
        except (DuplicateStaff, ValueError) as exc:
            error = f"Not added: {exc}."
    if error is not None:
        return render_template("staff/staff_new.html", form=form, hours=LINK_HOURS, error=error), 400
    audit("staff.invite", "staff", staff.id, staff.role)
    return _show_link(me, staff, LinkPurpose.INVITE)


def _show_link(me: Staff, staff: Staff, purpose: LinkPurpose) -> str:
    """Issue a link, commit, and show it this once (the page is never cached;
    only the link's hash is kept, so it cannot be shown again)."""
    token = staff_links.issue(db(), staff.id, purpose, by=me.id, now=utcnow())
    db().commit()
    path = url_for("staff.link_page", token=token).removeprefix("/staff/")
    return render_template(
        "staff/link_shown.html",
        staff=staff,
        purpose=purpose,
        link=staff_link(current_services().settings, path),
        hours=LINK_HOURS,
    )


def _account(staff_id: int) -> Staff:
    """The account an admin acts on: 403 for anyone but an admin, 404 for no such account."""
    require_admin()
    staff = db().get(Staff, staff_id)
    if staff is None:
        abort(404)
    return staff


@bp.route(ACCOUNT)
def staff_page(staff_id: int) -> str:
    """One account and what an admin can do to it."""
    staff = _account(staff_id)
    return render_template(
        "staff/staff_page.html",
        staff=staff,
        invited=staff.id in staff_links.pending_invitations(db(), utcnow()),
        phone_last3=phone_last3(staff),
        roles=[role.value for role in StaffRole],
    )


def _back(staff: Staff, message: str) -> Response:
    flash(message)
    return redirect(url_for("staff.staff_page", staff_id=staff.id))


def _save(staff: Staff, action: str, said: str, detail: str = "") -> Response:
    """Audit ``action`` on the account, commit, and say ``said`` on its page."""
    audit(action, "staff", staff.id, detail)
    db().commit()
    return _back(staff, said)


def _save_unless_last_admin(
    staff: Staff, change: Callable[[], None], refused: str, action: str, said: str, detail: str = ""
) -> Response:
    """Make ``change`` and save it, unless it would leave no active admin: then
    nothing changes and the page says why, after ``refused``."""
    try:
        change()
    except staff_accounts.LastActiveAdmin as exc:
        db().rollback()
        return _back(staff, f"{refused}: {exc}.")
    return _save(staff, action, said, detail)


@bp.route(ACCOUNT + "/role", methods=["POST"])
def staff_role(staff_id: int) -> Response:
    """Another role; the account's sessions end. Confirmed first."""
    staff = _account(staff_id)
    form = RoleForm()
    if not form.validate():
        abort(400)
    if not form.confirm.data:
        return _back(staff, NOT_CONFIRMED)
    role = form.role.data
    said = f"{staff.email} is now {role}, and signed out everywhere."
    change = partial(staff_accounts.change_role, db(), staff.id, role)
    return _save_unless_last_admin(staff, change, "Not changed", "staff.role", said, role)


@bp.route(ACCOUNT + "/on-call", methods=["POST"])
def staff_on_call(staff_id: int) -> Response:
    """On or off call for check-in alarms (on call: each alarm is emailed to them)."""
    staff = _account(staff_id)
    staff.on_call = bool(OnCallForm().on_call.data)
    on_or_off = "on" if staff.on_call else "off"
    return _save(staff, "staff.on_call", f"{staff.email} is {on_or_off} call.", on_or_off)


@bp.route(ACCOUNT + "/disable", methods=["POST"])
def staff_disable(staff_id: int) -> Response:
    """The account can no longer sign in; its sessions end now. Confirmed first."""
    staff = _account(staff_id)
    if not ConfirmForm().confirm.data:
        return _back(staff, NOT_CONFIRMED)
    said = f"{staff.email} is disabled and signed out everywhere."
    change = partial(staff_accounts.set_active, db(), staff.id, False)
    return _save_unless_last_admin(staff, change, "Not disabled", "staff.disable", said)


@bp.route(ACCOUNT + "/enable", methods=["POST"])
def staff_enable(staff_id: int) -> Response:
    """The account may sign in again, with the password it had."""
    staff = _account(staff_id)
    staff_accounts.set_active(db(), staff.id, True)
    return _save(staff, "staff.enable", f"{staff.email} may sign in again.")


@bp.route(ACCOUNT + "/password-link", methods=["POST"])
def staff_password_link(staff_id: int) -> str | Response:
    """A link to set a new password (a new invitation, while none was set).
    The old password keeps working until the link is used."""
    staff = _account(staff_id)
    me = viewer()
    if not staff.active:
        return _back(staff, "Enable the account first: a disabled account's links do not work.")
    purpose = LinkPurpose.PASSWORD if staff.password_hash else LinkPurpose.INVITE
    audit("staff.invite" if purpose is LinkPurpose.INVITE else "staff.password_link", "staff", staff.id)
    return _show_link(me, staff, purpose)


@bp.route(ACCOUNT + "/totp-link", methods=["POST"])
def staff_totp_link(staff_id: int) -> str | Response:
    """A link to replace a lost authenticator: its holder gives the account's
    password and a code of the new key. The old key works until then."""
    staff = _account(staff_id)
    me = viewer()
    if not staff.active or not staff.totp_secret_encrypted:
        return _back(staff, "Only an active account with two-step sign-in on can have its key reset.")
    audit("staff.totp_link", "staff", staff.id)
    return _show_link(me, staff, LinkPurpose.TOTP)
