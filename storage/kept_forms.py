"""Forms kept across a timed-out session: what a caseworker typed is not lost.

When a console session times out while its owner types (report notes, a
warning's summary), the form they then send is kept here, encrypted, for
that staff account only (``ivr.staff.kept_forms`` decides what may be
kept). Signed in again in the same browser, they are shown it once and can
send it again. At most one per account (a newer one replaces it), for at
most :data:`KEPT_FOR`; gone when shown, when the account signs out or its
sessions are ended (``storage.staff_accounts.end_sessions``), and when
someone else signs in in that browser.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from storage.crypto import FieldCipher
from storage.models import KeptForm

KEPT_FOR = timedelta(hours=1)


@dataclass(frozen=True)
class Kept:
    """A kept form: where it was posted, and its fields in order."""

    action: str
    fields: list[tuple[str, str]]


def keep(session: Session, cipher: FieldCipher, staff_id: int, form: Kept, now: datetime) -> str:
    """Keep ``form`` for ``staff_id`` (replacing any form kept before); its handle."""
    forget_stale(session, now)
    session.execute(delete(KeptForm).where(KeptForm.staff_id == staff_id))
    handle = secrets.token_urlsafe(32)
    session.add(
        KeptForm(
            handle=handle,
            staff_id=staff_id,
            action=form.action,
            fields_encrypted=cipher.encrypt(json.dumps(form.fields)),
            kept_at=now,
        )
    )
    session.flush()
    return handle


def belongs_to(session: Session, handle: str, staff_id: int, now: datetime) -> bool:
    """Whether the form under ``handle`` is ``staff_id``'s and still kept. A
    form of another account is dropped: whoever signs in next in a browser
    never sees what someone else typed there."""
    forget_stale(session, now)
    kept = session.get(KeptForm, handle)
    if kept is None:
        return False
    if kept.staff_id != staff_id:
        session.delete(kept)
        return False
    return True


def take(session: Session, cipher: FieldCipher, handle: str, staff_id: int, now: datetime) -> Kept | None:
    """The form under ``handle`` if it is ``staff_id``'s and still kept; taken
    out of the table either way, so it is shown once."""
    if not belongs_to(session, handle, staff_id, now):
        return None
    kept = session.get_one(KeptForm, handle)
    fields = [(str(name), str(value)) for name, value in json.loads(cipher.decrypt(kept.fields_encrypted))]
    session.delete(kept)
    return Kept(action=kept.action, fields=fields)


def forget_for(session: Session, staff_id: int) -> None:
    """Drop what was kept for ``staff_id`` (signing out, sessions ended)."""
    session.execute(delete(KeptForm).where(KeptForm.staff_id == staff_id))


def forget_stale(session: Session, now: datetime) -> None:
    """Drop every form kept longer than :data:`KEPT_FOR`."""
    session.execute(delete(KeptForm).where(KeptForm.kept_at < now - KEPT_FOR))
