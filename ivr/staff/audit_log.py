"""The audit log (admin): newest first, keyset paged, filterable by action."""

from __future__ import annotations

from flask import render_template, request
from sqlalchemy import select

from ivr.staff.blueprint import bp
from ivr.staff.common import PAGE_SIZE, db, int_arg, require_admin
from storage.models import AuditEntry, Staff


@bp.route("/audit")
def audit_page() -> str:
    """Who did what and when; ``before`` pages back through older entries."""
    require_admin()
    before = int_arg("before", minimum=1)
    action = request.args.get("action", "").strip()[:60]
    stmt = select(AuditEntry, Staff.email).outerjoin(Staff, Staff.id == AuditEntry.staff_id)
    if before is not None:
        stmt = stmt.where(AuditEntry.id < before)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    rows = db().execute(stmt.order_by(AuditEntry.id.desc()).limit(PAGE_SIZE + 1)).all()
    return render_template(
        "staff/audit.html",
        rows=rows[:PAGE_SIZE],
        action=action,
        next_before=rows[PAGE_SIZE - 1][0].id if len(rows) > PAGE_SIZE else None,
        paged=before is not None,
    )
