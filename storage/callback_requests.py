"""Call-back requests: a member asks, from the menu, to be called back.

Each is a task for the caseworkers until a call from the console to that
member connects or a caseworker closes it. One open request per member (a
partial unique index): asking again while one is open keeps the first, so
the time shown is when the member first asked. Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, delete, select
from sqlalchemy.orm import Session

from callflows.status import MemberStatus
from storage.models import CallbackRequest, Member
from storage.rows import update_rows
from storage.upsert import dialect_insert


def ask(session: Session, member_id: int, now: datetime) -> bool:
    """Open a request for the member; False when one was already open.

    One ``INSERT … ON CONFLICT DO NOTHING`` on the open-request index: two
    presses at once still leave one task."""
    table: Table = CallbackRequest.__table__  # type: ignore[assignment]
    statement = (
        dialect_insert(session.get_bind().dialect.name, table)
        .values(member_id=member_id, requested_at=now)
        .on_conflict_do_nothing(index_elements=[table.c.member_id], index_where=table.c.closed_at.is_(None))
        .returning(table.c.id)
    )
    return session.execute(statement).scalar() is not None


def open_for(session: Session, member_id: int) -> CallbackRequest | None:
    return session.scalars(
        select(CallbackRequest).where(
            CallbackRequest.member_id == member_id, CallbackRequest.closed_at.is_(None)
        )
    ).first()


def close(session: Session, request_id: int, staff_id: int, now: datetime) -> bool:
    """A caseworker closes the task by hand; False when it was not open."""
    return bool(_close(session, CallbackRequest.id == request_id, closed_at=now, closed_by_staff_id=staff_id))


def close_by_call(session: Session, member_id: int, call_id: int, staff_id: int, now: datetime) -> None:
    """A call from the scheme reached the member: their open request is done."""
    _close(
        session,
        CallbackRequest.member_id == member_id,
        closed_at=now,
        closed_by_staff_id=staff_id,
        closed_by_call_id=call_id,
    )


def close_unwanted(session: Session, member_id: int, now: datetime) -> None:
    """The member cancelled, or asked not to be called: nobody is to call them back."""
    _close(session, CallbackRequest.member_id == member_id, closed_at=now)


def _close(session: Session, which: ColumnElement[bool], **closing: object) -> int:
    """Close the open requests ``which`` selects, setting the ``closing`` columns; how many."""
    return update_rows(session, CallbackRequest, which, CallbackRequest.closed_at.is_(None), **closing)


def forget_old(session: Session, cutoff: datetime, old_calls: Select[Any]) -> None:
    """Retention: requests closed before ``cutoff`` go; newer ones let go of
    the old calls (``old_calls``) that closed them, which are about to go."""
    session.execute(delete(CallbackRequest).where(CallbackRequest.closed_at < cutoff))
    update_rows(
        session, CallbackRequest, CallbackRequest.closed_by_call_id.in_(old_calls), closed_by_call_id=None
    )


@dataclass(frozen=True, slots=True)
class Task:
    """An open request as the console lists it: the working name and the time asked."""

    id: int
    member_id: int
    working_name: str
    requested_at: datetime


def _tasks(session: Session, *where: ColumnElement[bool], limit: int) -> list[Task]:
    rows = session.execute(
        select(
            CallbackRequest.id, CallbackRequest.member_id, Member.working_name, CallbackRequest.requested_at
        )
        .join(Member, Member.id == CallbackRequest.member_id)
        .where(CallbackRequest.closed_at.is_(None), Member.status == MemberStatus.ACTIVE, *where)
        .order_by(CallbackRequest.requested_at, CallbackRequest.id)
        .limit(limit)
    ).all()
    return [Task(r.id, r.member_id, r.working_name or "", r.requested_at) for r in rows]


def open_tasks(session: Session, limit: int = 200) -> list[Task]:
    """Open requests of active members, oldest first (who has waited longest)."""
    return _tasks(session, limit=limit)


def task(session: Session, request_id: int) -> Task | None:
    """One open request of an active member, or None."""
    found = _tasks(session, CallbackRequest.id == request_id, limit=1)
    return found[0] if found else None
