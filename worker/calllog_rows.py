"""The call row recomputed in SQL: the common case of the call-log job.

Most status callbacks are of a call whose row is its own (no parent to
adopt, not a masked call's dialled leg whose minutes settle). For those,
:func:`worker.calllog.apply_call_event` locks the row with one Core
``SELECT … FOR UPDATE`` and recomputes it with one ``UPDATE`` whose values
are subqueries over the call's events — the same rule as
``worker.calllog._recompute``, without loading the row and every event as
ORM objects and flushing them back. That was one round trip and most of
the job's CPU beyond RQ's own (BENCHMARKS.md, "Workers").

The lock still comes first, in a statement of its own: the ``UPDATE``'s
subqueries then read every event committed before the lock was granted
(READ COMMITTED takes a snapshot per statement), so whichever job locks
last sees them all, as before.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, bindparam, func, literal_column, or_, select, update
from sqlalchemy.orm import Session

from callflows.status import ANSWERED_STATUSES, TERMINAL_STATUSES, CallDirection
from storage.models import Call, CallEvent


def locked_row(session: Session, call_sid: str) -> Row[Any] | None:
    """The call's id and the facts that choose the path, its row locked."""
    row: Row[Any] | None = session.execute(_lock(), {"sid": call_sid}).first()
    return row


def needs_orm_path(row: Row[Any]) -> bool:
    """A leg with a parent (adopts the parent's member, line and direction)
    or a masked call's dialled leg (settles its parent's minutes): the ORM
    path, ``worker.calllog``'s ``_adopt_parent`` and ``_settle_masked_call``."""
    return row.parent_call_sid is not None or row.direction == CallDirection.MASKED_LEG


def recompute(session: Session, call_id: int, call_sid: str) -> None:
    """Status, sequence, duration and times of the call from its events only
    (``worker.calllog._recompute``'s rule, in one ``UPDATE``)."""
    row = session.execute(_recompute(), {"sid": call_sid, "row_id": call_id}).one()
    duration, started, ended = row.duration_seconds or 0, row.started_at, row.ended_at
    if ended is not None and duration > 0 and (started is None or started > ended):
        # Callbacks can arrive late or out of order; the duration Twilio
        # measured is the better witness of when the call was answered.
        session.execute(
            update(_calls()).where(_calls().c.id == call_id),
            {"started_at": ended - timedelta(seconds=duration)},
        )
    # An ORM object of this row held by the session is stale now.
    held = session.identity_map.get(session.identity_key(Call, call_id))
    if held is not None:
        session.expire(held)


@functools.cache
def _lock() -> Any:
    calls = _calls()
    return (
        select(calls.c.id, calls.c.parent_call_sid, calls.c.direction)
        .where(calls.c.call_sid == bindparam("sid"))
        .with_for_update()
    )


@functools.cache
def _recompute() -> Any:
    calls, events = _calls(), _events()
    of_call = events.c.call_sid == bindparam("sid")

    def latest(column: Any, *where: Any) -> Any:
        return (
            select(column)
            .where(of_call, *where)
            .order_by(events.c.sequence_number.desc())
            .limit(1)
            .scalar_subquery()
        )

    def when(statuses: frozenset[str], aggregate: Any) -> Any:
        # Equalities with the statuses written into the SQL: no per-execution
        # parameters for constants, no expanding IN list.
        matches = or_(*(events.c.status == literal_column(f"'{s}'") for s in sorted(statuses)))
        return select(aggregate(events.c.received_at)).where(of_call, matches).scalar_subquery()

    return (
        update(calls)
        .where(calls.c.id == bindparam("row_id"))
        .values(
            status=latest(events.c.status),
            last_sequence=latest(events.c.sequence_number),
            duration_seconds=func.coalesce(
                latest(events.c.duration_seconds, events.c.duration_seconds.is_not(None)),
                calls.c.duration_seconds,
            ),
            ended_at=when(TERMINAL_STATUSES, func.max),
            started_at=when(ANSWERED_STATUSES, func.min),
        )
        .returning(calls.c.duration_seconds, calls.c.started_at, calls.c.ended_at)
    )


def _calls() -> Any:
    return Call.__table__


def _events() -> Any:
    return CallEvent.__table__
