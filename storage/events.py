"""The events table: work left for later, kept in the store of record.

A webhook (or a job) writes its event here before anyone is told it was
received; Redis carries only the row's id, as a prompt. So an event is lost
only with the database itself. The statements:

- :func:`insert` — one ``INSERT … ON CONFLICT (key) DO NOTHING RETURNING
  id``, built once: a replayed callback (same natural key) writes nothing
  and gets no id;
- :func:`claim` — the row, locked ``FOR UPDATE SKIP LOCKED`` for the rest of
  the job's transaction, if it is still to do: a second worker holding the
  same id skips it, a finished one is not done twice;
- :func:`note_failure`, :func:`give_up` — a failed attempt is counted with
  its exception type and pushed back by the backoff; the last one marks the
  event failed, where admins see it (``flask --app ivr events failed``);
- :func:`due_for_ring` — what the sweep re-rings: not done, not failed, and
  past due by the grace period (Redis lost the prompt, no worker ran).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, delete, func, select, update
from sqlalchemy.orm import Session

from storage.models import Event, utcnow
from storage.statements import Statements
from storage.upsert import conflict_insert

# A failed attempt's next try, by attempt number (the last is given up on).
BACKOFF_SECONDS = (5, 30, 120, 600, 1800)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1

Executor = Session | Connection


@dataclass(frozen=True)
class FollowUp:
    """A job a webhook or a job leaves for later: its name, ids and natural key."""

    job: str
    args: tuple[int | str, ...]
    key: str


@functools.cache
def _insert_statement(dialect: str) -> Any:
    table: Any = Event.__table__
    stmt = conflict_insert(dialect, table, ("job", "key", "args", "created_at", "due_at", "attempts"))
    return stmt.on_conflict_do_nothing(index_elements=["key"]).returning(Event.id)


def insert(
    target: Executor | Statements,
    job: str,
    args: Sequence[Any],
    key: str | None = None,
    delay_seconds: float = 0,
    now: datetime | None = None,
) -> int | None:
    """Write one event; its id, or None when its key was already written.

    In a session's or connection's transaction, or, given the database's
    :class:`Statements`, as a statement on its own, committed by itself (a
    status callback's one write: storage/statements.py)."""
    values = _values(job, args, key, delay_seconds, now)
    if isinstance(target, Session):
        row = target.execute(_insert_statement(target.get_bind().dialect.name), values).first()
    elif isinstance(target, Connection):
        row = target.execute(_insert_statement(target.dialect.name), values).first()
    else:
        row = target.first(_insert_statement(target.dialect), values)
    return None if row is None else int(row[0])


def _values(
    job: str, args: Sequence[Any], key: str | None, delay_seconds: float, now: datetime | None
) -> dict[str, Any]:
    now = now or utcnow()
    return {
        "job": job,
        "key": key,
        "args": list(args),
        "created_at": now,
        "due_at": now + timedelta(seconds=max(delay_seconds, 0)),
        "attempts": 0,
    }


def claim(session: Session, event_id: int) -> Event | None:
    """The event, locked for this transaction, if it is still to do and no
    other worker holds it. (SQLite has no row locks: there a second runner
    may do the work again, which every job tolerates.)"""
    return session.scalars(
        select(Event)
        .where(Event.id == int(event_id), Event.done_at.is_(None), Event.failed_at.is_(None))
        .with_for_update(skip_locked=True)
    ).first()


def mark_done(session: Session, event_id: int, now: datetime | None = None) -> None:
    session.execute(
        update(Event).where(Event.id == int(event_id)).values(done_at=now or utcnow(), last_error=None)
    )


def note_failure(session: Session, event_id: int, error: str, now: datetime | None = None) -> bool:
    """Count a failed attempt; True when it was the last (the event is now failed)."""
    now = now or utcnow()
    event = session.get(Event, int(event_id), with_for_update=True)
    if event is None or event.done_at is not None or event.failed_at is not None:
        return False
    event.attempts += 1
    event.last_error = error[:200]
    if event.attempts >= MAX_ATTEMPTS:
        event.failed_at = now
        return True
    event.due_at = now + timedelta(seconds=BACKOFF_SECONDS[event.attempts - 1])
    return False


def give_up(session: Session, event_id: int, error: str, now: datetime | None = None) -> Event | None:
    """Mark the event failed (the queue gave up on it); the event if this changed it."""
    event = session.get(Event, int(event_id), with_for_update=True)
    if event is None or event.done_at is not None or event.failed_at is not None:
        return None
    event.failed_at = now or utcnow()
    event.last_error = (event.last_error or error)[:200]
    return event


def due_for_ring(session: Session, grace: timedelta, limit: int, now: datetime | None = None) -> list[int]:
    """Ids of events past due by ``grace``, oldest first, locked and given a
    new due time (so a long queue is not rung again every minute)."""
    now = now or utcnow()
    ids = list(
        session.scalars(
            select(Event.id)
            .where(Event.done_at.is_(None), Event.failed_at.is_(None), Event.due_at < now - grace)
            .order_by(Event.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(update(Event).where(Event.id.in_(ids)).values(due_at=now))
    return ids


def failed(session: Session, limit: int = 100) -> list[Event]:
    """Events given up on, newest first."""
    return list(
        session.scalars(
            select(Event).where(Event.failed_at.is_not(None)).order_by(Event.id.desc()).limit(limit)
        )
    )


def retry(session: Session, event_id: int, now: datetime | None = None) -> bool:
    """Put a failed event back to do (an admin's decision); True if it was failed."""
    result: Any = session.execute(
        update(Event)
        .where(Event.id == int(event_id), Event.failed_at.is_not(None), Event.done_at.is_(None))
        .values(failed_at=None, attempts=0, due_at=now or utcnow())
    )
    return bool(result.rowcount)


def discard(session: Session, event_id: int) -> bool:
    """Delete a failed event (an admin's decision: the work will not be done)."""
    result: Any = session.execute(
        delete(Event).where(Event.id == int(event_id), Event.failed_at.is_not(None))
    )
    return bool(result.rowcount)


def counts(session: Session) -> dict[str, int]:
    """Events not done, by state: waiting (never failed), retrying, failed."""
    state = case(
        (Event.failed_at.is_not(None), "failed"),
        (Event.attempts > 0, "retrying"),
        else_="waiting",
    )
    rows = session.execute(select(state, func.count()).where(Event.done_at.is_(None)).group_by(state))
    found: dict[str, int] = {str(label): int(n) for label, n in rows}
    return {label: int(found.get(label, 0)) for label in ("waiting", "retrying", "failed")}


def delete_finished(session: Session, done_before: datetime, failed_before: datetime) -> int:
    """Retention: done events after a short while, failed ones with the call log."""
    result: Any = session.execute(
        delete(Event).where(
            ((Event.done_at.is_not(None)) & (Event.done_at < done_before))
            | ((Event.failed_at.is_not(None)) & (Event.failed_at < failed_before))
        )
    )
    return int(result.rowcount or 0)
