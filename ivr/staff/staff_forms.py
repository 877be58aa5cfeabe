"""The forms of staff management (admins) and of the one-time staff links."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField

from callflows.status import StaffRole
from ivr.staff.forms import CodeForm

ROLES = [role.value for role in StaffRole]


def _email(value: str | None) -> str:
    return (value or "").strip().lower()[:200]


class InviteForm(FlaskForm):
    """A new member of staff: the email the account signs in with, and its role."""

    email = StringField(filters=[_email])
    role = SelectField(choices=ROLES)


class ConfirmForm(FlaskForm):
    """A destructive action: the admin ticked "yes" first."""

    confirm = BooleanField(false_values=("", "no", "false"))


class RoleForm(ConfirmForm):
    """Another role for an account (its sessions end, so it is confirmed)."""

    role = SelectField(choices=ROLES)


class SetPasswordForm(FlaskForm):
    """The password a link's holder chooses, typed twice."""

    new = PasswordField(filters=[lambda value: (value or "")[:500]])
    again = PasswordField(filters=[lambda value: (value or "")[:500]])


class NewKeyForm(CodeForm):
    """A new TOTP key: the account's password, and a code the new key makes."""

    password = PasswordField(filters=[lambda value: (value or "")[:500]])
