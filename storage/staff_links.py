"""One-time links for staff: an invitation, a password reset, a new TOTP key.

An admin never sees, types or sends anyone's password: the console issues a
link, the admin hands it over once, and whoever holds it sets their own
password (or TOTP key) on a page that needs no sign-in. Only the SHA-256 of
the link's 256-bit secret is stored, so a copy of the database opens
nothing. A link works once (``use`` is one conditional UPDATE: of two
parallel posts only one wins), until it expires (72 hours by default),
only while the account is active, and a newer link of the same purpose
for the same account retires any older one.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import Staff, StaffLink

LINK_LIFETIME = timedelta(hours=72)


class LinkPurpose(enum.StrEnum):
    INVITE = "invite"  # a new account's first password
    PASSWORD = "password"  # noqa: S105 (a purpose, not a password): a forgotten password
    TOTP = "totp"  # a lost authenticator: a new key (the password is asked too)


def digest(token: str) -> str:
    """What is stored of a link's secret (a hash needs no salt: the secret is random)."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue(
    session: Session,
    staff_id: int,
    purpose: LinkPurpose,
    *,
    by: int | None,
    now: datetime,
    lifetime: timedelta = LINK_LIFETIME,
) -> str:
    """A new link's secret (returned once, never stored); older live links of
    the same purpose for the account stop working now."""
    session.execute(
        update(StaffLink)
        .where(
            StaffLink.staff_id == staff_id,
            StaffLink.purpose == purpose,
            StaffLink.used_at.is_(None),
            StaffLink.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        StaffLink(
            staff_id=staff_id,
            purpose=purpose,
            token_hash=digest(token),
            expires_at=now + lifetime,
            created_by=by,
            created_at=now,
        )
    )
    session.flush()
    return token


def live(session: Session, token: str, now: datetime) -> tuple[StaffLink, Staff] | None:
    """The link (and its active account) if it can still be used; None for an
    unknown, used, expired or replaced link, or a disabled account."""
    row = session.execute(
        select(StaffLink, Staff)
        .join(Staff, Staff.id == StaffLink.staff_id)
        .where(
            StaffLink.token_hash == digest(token),
            StaffLink.used_at.is_(None),
            StaffLink.expires_at > now,
            Staff.active.is_(True),
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


def use(session: Session, link_id: int, now: datetime) -> bool:
    """Spend the link; False when it was spent (or expired) meanwhile."""
    result = session.execute(
        update(StaffLink)
        .where(StaffLink.id == link_id, StaffLink.used_at.is_(None), StaffLink.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def pending_invitations(session: Session, now: datetime) -> set[int]:
    """Accounts whose invitation is still open (they have no password yet)."""
    return set(
        session.scalars(
            select(StaffLink.staff_id).where(
                StaffLink.purpose == LinkPurpose.INVITE,
                StaffLink.used_at.is_(None),
                StaffLink.expires_at > now,
            )
        )
    )
