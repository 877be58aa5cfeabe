"""Slots of the periodic jobs in the embedded mode: one row per job and slot.

Every web process of an embedded deployment runs the schedule
(worker/embedded_schedule.py); the row decides which of them runs a slot.
A claim is one ``INSERT … ON CONFLICT DO UPDATE … WHERE`` statement: the
first process to insert the row runs the slot, and the others get nothing
back. A slot claimed but never finished (the process died or the job
failed) can be claimed again once its lease has run out, so a crash delays a
slot rather than losing it; a finished slot is never run again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table, bindparam, delete, update
from sqlalchemy.orm import Session

from storage.models import PeriodicRun
from storage.upsert import conflict_insert


def claim_slot(session: Session, job_name: str, slot: int, now: datetime, lease: timedelta) -> bool:
    """Claim ``slot`` (epoch seconds) of ``job_name`` for this process; True
    when this process is to run it. Commits nothing: the caller commits at
    once, so the other processes see the claim."""
    table: Table = PeriodicRun.__table__  # type: ignore[assignment]
    stmt = conflict_insert(session.get_bind().dialect.name, table, ("job_name", "slot", "claimed_at"))
    stmt = stmt.on_conflict_do_update(
        index_elements=["job_name", "slot"],
        set_={"claimed_at": stmt.excluded.claimed_at},
        where=table.c.finished_at.is_(None) & (table.c.claimed_at < bindparam("stale_before")),
    ).returning(table.c.slot)
    params = {"job_name": job_name, "slot": slot, "claimed_at": now, "stale_before": now - lease}
    return session.execute(stmt, params).first() is not None


def finish_slot(session: Session, job_name: str, slot: int, now: datetime) -> None:
    """Mark the slot done: no process runs it again."""
    session.execute(
        update(PeriodicRun)
        .where(PeriodicRun.job_name == job_name, PeriodicRun.slot == slot)
        .values(finished_at=now)
    )


def forget_before(session: Session, before: datetime) -> int:
    """Delete the rows of slots claimed before ``before`` (they only keep the table small)."""
    result = session.execute(delete(PeriodicRun).where(PeriodicRun.claimed_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
