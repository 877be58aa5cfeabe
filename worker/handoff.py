"""Hand-off: a new report goes to the least-busy caseworker, who is emailed.

No active caseworker: the report stays unassigned (status ``new``) in the
queue admins see, and the admins are emailed instead. Every email says only
that something is waiting and links into the staff console.
"""

from __future__ import annotations

import logging

from callflows.status import ReportStatus
from core import services
from storage import casework
from storage.models import Member, Report
from worker.mail import send_mail, staff_link

log = logging.getLogger(__name__)

REPORT_SUBJECT = "Safety Number: a report is waiting"
UNASSIGNED_SUBJECT = "Safety Number: an unassigned report is waiting"
LOCKOUT_SUBJECT = "Safety Number: a member's menu was locked"


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
        caseworker = casework.assign_automatically(session, report)
        if caseworker is None:
            log.warning("report %d waits unassigned: no active caseworker", report.id)
            send_mail(
                settings,
                casework.admin_emails(session),
                UNASSIGNED_SUBJECT,
                "A new report is waiting and no caseworker is active to take it.\n\n"
                f"Open it in the staff console:\n{link}\n",
            )
            return
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
            casework.admin_emails(session),
            LOCKOUT_SUBJECT,
            "A member's menu was locked after repeated wrong PINs.\n\n"
            f"See the member in the staff console:\n{staff_link(settings, f'members/{int(member_id)}')}\n",
        )
