"""Read-side queries of the staff console, each a bounded number of statements.

No Flask here: a report the viewer may not see comes back as ``None`` and the
view decides what to answer (a 404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.orm import Session

from callflows.status import CATEGORIES, ReportStatus, StaffRole
from storage.ids import parse_id
from storage.models import Report, Staff


@dataclass(frozen=True)
class InboxFilter:
    status: str | None = None
    category: str | None = None
    # a staff id, or "none" for unassigned
    caseworker: str | None = None

    @classmethod
    def from_args(cls, args: dict[str, str]) -> InboxFilter:
        """The filter a query string asks for. An unknown status or category
        shows every report; a caseworker that is neither ``none`` nor a staff
        id (ASCII digits in the column's range) raises ``ValueError``."""
        status = args.get("status") or None
        category = args.get("category") or None
        caseworker = args.get("caseworker") or None
        if caseworker is not None and caseworker != "none" and parse_id(caseworker) is None:
            raise ValueError("caseworker must be 'none' or a staff id")
        return cls(
            status=status if status in set(ReportStatus) else None,
            category=category if category in CATEGORIES else None,
            caseworker=caseworker,
        )

    def query_args(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (
                ("status", self.status),
                ("category", self.category),
                ("caseworker", self.caseworker),
            )
            if v
        }


@dataclass(frozen=True)
class InboxRow:
    id: int
    created_at: datetime
    status: str
    category: str | None
    recording_state: str
    police_consent: bool | None
    caseworker_email: str | None


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    total: int
    next_after: int | None


def visible_to(staff: Staff) -> ColumnElement[bool]:
    """Admins see every report; a caseworker sees unassigned ones and their own."""
    if staff.role == StaffRole.ADMIN:
        return true()
    return or_(Report.caseworker_id.is_(None), Report.caseworker_id == staff.id)


def _conditions(staff: Staff, flt: InboxFilter) -> list[ColumnElement[bool]]:
    conds = [visible_to(staff)]
    if flt.status:
        conds.append(Report.status == flt.status)
    if flt.category:
        conds.append(Report.category == flt.category)
    if flt.caseworker == "none":
        conds.append(Report.caseworker_id.is_(None))
    elif flt.caseworker:
        conds.append(Report.caseworker_id == int(flt.caseworker))
    return conds


def inbox_page(
    session: Session, staff: Staff, flt: InboxFilter, after: int | None, size: int
) -> InboxPage | None:
    """One page of reports, newest first, after the report ``after`` (keyset paging).

    None when ``after`` is no report this viewer may see: a report held by
    another caseworker and one that does not exist get the same answer, so
    the cursor tells nobody which reports exist (``visible_to``).

    Three statements whatever the table size: the cursor row, the page, the count.
    """
    conds = _conditions(staff, flt)
    page_conds = list(conds)
    if after is not None:
        cursor = session.execute(
            select(Report.created_at, Report.id).where(Report.id == after, visible_to(staff))
        ).first()
        if cursor is None:
            return None
        page_conds.append(
            or_(
                Report.created_at < cursor.created_at,
                and_(Report.created_at == cursor.created_at, Report.id < cursor.id),
            )
        )
    result = session.execute(
        select(
            Report.id,
            Report.created_at,
            Report.status,
            Report.category,
            Report.recording_state,
            Report.police_consent,
            Staff.email,
        )
        .outerjoin(Staff, Staff.id == Report.caseworker_id)
        .where(*page_conds)
        .order_by(Report.created_at.desc(), Report.id.desc())
        .limit(size + 1)
    ).all()
    rows = [InboxRow(*r) for r in result[:size]]
    total = session.scalar(select(func.count()).select_from(Report).where(*conds)) or 0
    return InboxPage(rows=rows, total=total, next_after=rows[-1].id if len(result) > size else None)


def caseworkers(session: Session) -> list[Staff]:
    """Active staff who can hold reports (admins too), by email."""
    return list(session.scalars(select(Staff).where(Staff.active.is_(True)).order_by(Staff.email)))


def visible_report(session: Session, staff: Staff, report_id: int) -> Report | None:
    """The report if this staff member may see it, else None (hidden and missing alike)."""
    return session.scalars(select(Report).where(Report.id == report_id, visible_to(staff))).first()
