"""Hand-off: a new report goes to the least-busy caseworker, who is emailed.

No active caseworker: the report stays unassigned (status ``new``) in the
queue admins see, and the admins are emailed instead. Every email says only
that something is waiting and links into the staff console.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage import repositories as repo
from storage.models import Member, Report, ReportStatus, Staff, StaffRole
from worker import services
from worker.mail import send_mail, staff_link

log = logging.getLogger(__name__)

REPORT_SUBJECT = "Safety Number: a report is waiting"
UNASSIGNED_SUBJECT = "Safety Number: an unassigned report is waiting"
LOCKOUT_SUBJECT = "Safety Number: a member's menu was locked"


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


def _admin_emails(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(Staff.email)
            .where(Staff.role == StaffRole.ADMIN, Staff.active.is_(True))
            .order_by(Staff.id)
        )
    )


def assign_report(report_id: int) -> None:
    """Job "assign_report": assign a new report and notify (idempotent).

    The email is sent before the assignment commits: if sending fails the
    job fails and is retried, so nobody is assigned a report without being
    told (at worst a retry sends the same notice twice).
    """
    svc = services.current()
    settings = svc.settings
    with svc.db.session() as session:
        report = session.get(Report, int(report_id), with_for_update=True)
        if report is None or report.caseworker_id is not None or report.status != ReportStatus.NEW:
            return
        link = staff_link(settings, f"reports/{report.id}")
        caseworker = least_busy_caseworker(session)
        if caseworker is None:
            log.warning("report %d waits unassigned: no active caseworker", report.id)
            repo.audit(session, "report.unassigned", target_type="report", target_id=report.id)
            send_mail(
                settings,
                _admin_emails(session),
                UNASSIGNED_SUBJECT,
                "A new report is waiting and no caseworker is active to take it.\n\n"
                f"Open it in the staff console:\n{link}\n",
            )
            return
        report.caseworker_id = caseworker.id
        report.status = ReportStatus.ASSIGNED
        repo.audit(
            session,
            "report.assigned",
            target_type="report",
            target_id=report.id,
            detail=f"staff {caseworker.id} (automatic)",
        )
        session.flush()
        send_mail(
            settings,
            [caseworker.email],
            REPORT_SUBJECT,
            f"A report is waiting for you.\n\nOpen it in the staff console:\n{link}\n",
        )


def alert_pin_lockout(member_id: int) -> None:
    """Job "pin_lockout_alert": tell every active admin that a member's menu locked."""
    svc = services.current()
    settings = svc.settings
    with svc.db.session() as session:
        if session.get(Member, int(member_id)) is None:
            return
        send_mail(
            settings,
            _admin_emails(session),
            LOCKOUT_SUBJECT,
            "A member's menu was locked after repeated wrong PINs.\n\n"
            f"See the member in the staff console:\n{staff_link(settings, f'members/{int(member_id)}')}\n",
        )
