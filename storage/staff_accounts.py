"""Changes to a staff account that must end its sessions, and one-time TOTP steps.

A staff session is a signed cookie that carries the account's
``session_version`` (``ivr.staff.signed_in``). Every change here that should
end the account's sessions raises that version in the same statement, so a
cookie copied before it, anywhere, stops working at its next request:
signing out, a new password, a new role, disabling the account.

There is always an active admin to manage the rest: taking the role or the
account away from the last one is refused (``LastActiveAdmin``), checked in
the same transaction as the change, under a lock on every active admin's
row, so two admins demoting each other at once cannot both succeed.

A TOTP code belongs to one 30-second time step; ``claim_totp_step`` records
the step a code was accepted for, atomically, so the same code (or an older
one) is never accepted twice, even by parallel requests.
"""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from callflows.status import StaffRole
from storage import kept_forms
from storage.hashing import hash_secret
from storage.models import Staff

MIN_PASSWORD_LENGTH = 10


def on_call_emails(session: Session) -> list[str]:
    """Who is emailed an alarm or a risk signal: the active staff on call;
    when nobody is on call, every active caseworker and admin (nothing may
    go unheard). Oldest account first."""
    active = (
        select(Staff.email).where(Staff.active.is_(True), Staff.role.in_(list(StaffRole))).order_by(Staff.id)
    )
    on_call = list(session.scalars(active.where(Staff.on_call.is_(True))))
    return on_call or list(session.scalars(active))


class LastActiveAdmin(Exception):
    """The change would leave the scheme without an active admin."""


def keep_an_active_admin(session: Session, staff_id: int) -> None:
    """Raise ``LastActiveAdmin`` when ``staff_id`` is the only active admin.

    Locks every active admin's row (in id order, so two such transactions
    queue rather than deadlock) until the transaction ends. A transaction
    that waited for the lock sees the other's committed change: PostgreSQL
    re-checks the WHERE of a row that changed while it waited, so an admin
    just demoted or disabled is no longer counted."""
    admins = session.scalars(
        select(Staff.id)
        .where(Staff.role == StaffRole.ADMIN, Staff.active.is_(True))
        .order_by(Staff.id)
        .with_for_update()
    ).all()
    if list(admins) == [staff_id]:
        raise LastActiveAdmin("this is the last active admin: make another admin first")


def end_sessions(session: Session, staff_id: int) -> None:
    """End every session of the account, this one included; a form kept from
    one of them (``storage.kept_forms``) goes with them."""
    session.execute(
        update(Staff).where(Staff.id == staff_id).values(session_version=Staff.session_version + 1)
    )
    kept_forms.forget_for(session, staff_id)


def check_password_rule(password: str) -> None:
    """Raise ``ValueError`` with the rule a new password breaks."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")


def change_password(session: Session, staff_id: int, password: str) -> None:
    """Set a new password and end every session of the account."""
    check_password_rule(password)
    session.execute(update(Staff).where(Staff.id == staff_id).values(password_hash=hash_secret(password)))
    end_sessions(session, staff_id)


def change_role(session: Session, staff_id: int, role: str) -> None:
    """Give the account another role; its sessions end (they were opened under the old one)."""
    if role not in (StaffRole.CASEWORKER, StaffRole.ADMIN):
        raise ValueError("role must be caseworker or admin")
    if role != StaffRole.ADMIN:
        keep_an_active_admin(session, staff_id)
    session.execute(update(Staff).where(Staff.id == staff_id).values(role=role))
    end_sessions(session, staff_id)


def set_active(session: Session, staff_id: int, active: bool) -> None:
    """Disable (or enable again) the account; either way its sessions end."""
    if not active:
        keep_an_active_admin(session, staff_id)
    session.execute(update(Staff).where(Staff.id == staff_id).values(active=active))
    end_sessions(session, staff_id)


def claim_totp_step(session: Session, staff_id: int, step: int) -> bool:
    """Record that a code of time step ``step`` was used; False when that step
    or a later one already was. One conditional UPDATE: of two requests
    carrying the same code, only one can change the row."""
    result = session.execute(
        update(Staff)
        .where(
            Staff.id == staff_id,
            or_(Staff.last_totp_step.is_(None), Staff.last_totp_step < step),
        )
        .values(last_totp_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def set_phone(session: Session, staff_id: int, phone_encrypted: str | None) -> None:
    """Keep the staff member's own phone (encrypted), or forget it (None).
    Sessions go on: the phone is rung only by a call they place themselves."""
    session.execute(update(Staff).where(Staff.id == staff_id).values(phone_encrypted=phone_encrypted))
