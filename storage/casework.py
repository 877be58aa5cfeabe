"""Casework: the life of a report — who holds it, its triage, its history.

The one place that changes a report's caseworker, status, category and
notes, and writes the audit entry each change leaves. The staff console
(a person assigning or triaging) and the worker (the automatic hand-off of a
new report) both come here, so a report moves through its states by the
same rules whoever moves it. Nothing here commits; the request or the job
owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callflows.sanitise import sanitise_lines
from callflows.status import ReportStatus, StaffRole
from storage import repositories as repo
from storage.models import AuditEntry, Report, Staff, utcnow

MAX_NOTES = 4000
# Audit actions shown as a report's history; views and plays are only counted.
HISTORY_ACTIONS = ("report.update", "report.assign", "warning.create")
VIEW_ACTIONS = ("report.view", "recording.play")


def record(
    session: Session, report: Report, action: str, *, staff: Staff | None = None, detail: str | None = None
) -> None:
    """Audit one thing done to a report, by ``staff`` (None: by the system)."""
    repo.audit(
        session,
        action,
        staff_id=staff.id if staff is not None else None,
        target_type="report",
        target_id=report.id,
        detail=detail,
    )


# --- assignment -----------------------------------------------------------


def _hold(report: Report, caseworker: Staff | None) -> int | None:
    """Give the report to ``caseworker`` (None: to nobody); returns who held it.

    Taking a new report makes it assigned; letting an assigned one go puts
    it back to new. A report in review or closed keeps its status.
    """
    before = report.caseworker_id
    report.caseworker_id = caseworker.id if caseworker is not None else None
    if caseworker is not None and report.status == ReportStatus.NEW:
        report.status = ReportStatus.ASSIGNED
    if caseworker is None and report.status == ReportStatus.ASSIGNED:
        report.status = ReportStatus.NEW
    return before


def assign(session: Session, report: Report, caseworker: Staff | None, *, by: Staff) -> None:
    """A person gives the report to ``caseworker``, or to nobody; audited."""
    before = _hold(report, caseworker)
    detail = f"staff {before or '-'} -> {report.caseworker_id or '-'}"
    record(session, report, "report.assign", staff=by, detail=detail)


def least_busy_caseworker(session: Session) -> Staff | None:
    """The active caseworker with the fewest open reports (lowest id on a tie).

    The caseworkers' rows are locked so two reports assigned at the same
    moment are counted one after the other.
    """
    caseworkers = list(
        session.scalars(
            select(Staff)
            .where(Staff.role == StaffRole.CASEWORKER, Staff.active.is_(True))
            .order_by(Staff.id)
            .with_for_update()
        )
    )
    if not caseworkers:
        return None
    open_counts = dict(
        session.execute(
            select(Report.caseworker_id, func.count(Report.id))
            .where(
                Report.caseworker_id.in_([c.id for c in caseworkers]),
                Report.status != ReportStatus.CLOSED,
            )
            .group_by(Report.caseworker_id)
        ).all()
    )
    return min(caseworkers, key=lambda c: (open_counts.get(c.id, 0), c.id))


def assign_automatically(session: Session, report: Report) -> Staff | None:
    """Hand a new report to the least-busy caseworker; None when nobody is active.

    Either way the outcome is audited as the system's: ``report.assigned``
    with the caseworker, or ``report.unassigned`` when it must wait for an admin.
    """
    caseworker = least_busy_caseworker(session)
    if caseworker is None:
        record(session, report, "report.unassigned")
        return None
    _hold(report, caseworker)
    record(session, report, "report.assigned", detail=f"staff {caseworker.id} (automatic)")
    return caseworker


def admin_emails(session: Session) -> list[str]:
    """Where work nobody holds is announced: every active admin, oldest first."""
    return list(
        session.scalars(
            select(Staff.email)
            .where(Staff.role == StaffRole.ADMIN, Staff.active.is_(True))
            .order_by(Staff.id)
        )
    )


# --- triage -----------------------------------------------------------------


def clean_notes(text: str) -> str:
    """Notes keep their lines but lose markup and anything number-like:
    a caller's number typed into notes would sit unencrypted in the database."""
    return sanitise_lines(text)[:MAX_NOTES]


def triage(
    session: Session,
    report: Report,
    *,
    status: ReportStatus,
    category: str | None,
    notes: str,
    by: Staff,
) -> bool:
    """Set status, category and notes; audit what changed. False when nothing did.

    Closing stamps the time; reopening clears it.
    """
    changes = []
    if status != report.status:
        changes.append(f"status {report.status} -> {status}")
        report.status = status
        report.closed_at = utcnow() if status == ReportStatus.CLOSED else None
    if category != report.category:
        changes.append(f"category {report.category or '-'} -> {category or '-'}")
        report.category = category
    cleaned = clean_notes(notes)
    if cleaned != (report.notes or ""):
        changes.append("notes edited")
        report.notes = cleaned or None
    if changes:
        record(session, report, "report.update", staff=by, detail="; ".join(changes))
    return bool(changes)


# --- history ----------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    action: str
    detail: str | None
    staff_email: str | None  # None: done by the system


def history(session: Session, report: Report, limit: int = 50) -> Sequence[HistoryEntry]:
    """What was done to a report (assignments, triage, warnings), newest first."""
    rows = session.execute(
        select(AuditEntry.at, AuditEntry.action, AuditEntry.detail, Staff.email)
        .outerjoin(Staff, Staff.id == AuditEntry.staff_id)
        .where(
            AuditEntry.target_type == "report",
            AuditEntry.target_id == report.id,
            AuditEntry.action.in_(HISTORY_ACTIONS),
        )
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    ).all()
    return [HistoryEntry(*row) for row in rows]


def times_opened(session: Session, report: Report) -> int:
    """How often staff opened the report or played its recording."""
    count = session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.target_type == "report",
            AuditEntry.target_id == report.id,
            AuditEntry.action.in_(VIEW_ACTIONS),
        )
    )
    return count or 0
