"""Small helpers every staff view shares: the session, the viewer, audit, paging."""

from __future__ import annotations

from flask import abort, g, request
from sqlalchemy.orm import Session

from ivr import requestdb
from ivr.services import current_services
from storage import repositories as repo
from storage.console_queries import visible_report
from storage.ids import parse_id
from storage.models import Report, Staff, StaffRole

PAGE_SIZE = 50


def db() -> Session:
    return requestdb.session()


def clock() -> float:
    """Seconds since the epoch, for session ages and TOTP steps (the ``clock``
    setting: tests give ``create_app`` a clock they move by hand)."""
    return current_services().settings.clock()


def viewer() -> Staff:
    """The signed-in staff member (the sign-in hook guarantees one)."""
    staff: Staff | None = g.get("staff")
    if staff is None:
        abort(401)
    return staff


def is_admin() -> bool:
    staff: Staff | None = g.get("staff")
    return staff is not None and staff.role == StaffRole.ADMIN


def require_admin() -> Staff:
    """The viewer, or a 403 page for anyone who is not an admin."""
    staff = viewer()
    if staff.role != StaffRole.ADMIN:
        abort(403)
    return staff


def audit(
    action: str, target_type: str | None = None, target_id: int | None = None, detail: str = ""
) -> None:
    """Write one audit entry by the viewer (or nobody, before sign-in)."""
    staff: Staff | None = g.get("staff")
    repo.audit(
        db(),
        action,
        staff_id=staff.id if staff is not None else None,
        target_type=target_type,
        target_id=target_id,
        detail=detail or None,
    )


def int_arg(name: str, minimum: int = 0) -> int | None:
    """The query-string number ``name`` (ASCII digits, ``minimum``..the id
    column's range); None when absent or empty; a 400 for anything else, so a
    crafted value never reaches a query (``storage.ids``)."""
    text = request.args.get(name, "")
    if text == "":
        return None
    value = parse_id(text, minimum)
    if value is None:
        abort(400)
    return value


def report_or_404(staff: Staff, report_id: int) -> Report:
    """The report if this staff member may see it; 404 otherwise (not 403, so a
    caseworker cannot even learn which other reports exist)."""
    report = visible_report(db(), staff, report_id)
    if report is None:
        abort(404)
    return report
