"""Reports: the inbox, the report page, and triage (status, category, notes, assignment)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from callflows.sanitise import sanitise_summary
from ivr.staff.blueprint import bp
from ivr.staff.common import PAGE_SIZE, audit, db, int_arg, is_admin, viewer
from ivr.staff.queries import InboxFilter, caseworkers, inbox_page, report_for
from storage import repositories as repo
from storage.models import (
    CATEGORIES,
    AuditEntry,
    Call,
    Member,
    ReportStatus,
    Staff,
    utcnow,
)

MAX_NOTES = 4000
# Audit actions shown as the report's history (views and plays are only counted).
HISTORY_ACTIONS = ("report.update", "report.assign", "warning.create")


@bp.route("/")
@bp.route("/reports")
def inbox() -> str:
    """Reports newest first, filtered by status, category and caseworker, paged."""
    staff = viewer()
    flt = InboxFilter.from_args(request.args.to_dict())
    page = inbox_page(db(), staff, flt, int_arg(request.args.get("after")), PAGE_SIZE)
    return render_template(
        "staff/inbox.html",
        page=page,
        flt=flt,
        statuses=list(ReportStatus),
        categories=CATEGORIES,
        caseworkers=caseworkers(db()) if is_admin() else [],
        first_page=request.args.get("after") is not None,
    )


@bp.route("/reports/<int(max=2147483647):report_id>")
def report_page(report_id: int) -> str:
    """One report: audio, triage form, consent, caller's last digits, history. Audited."""
    staff = viewer()
    session = db()
    report = report_for(session, staff, report_id)
    call = session.get(Call, report.call_id) if report.call_id else None
    member = session.get(Member, report.member_id) if report.member_id else None
    warnings_on_file = len(repo.warnings_for(session, report.caller_index)) if report.caller_index else 0
    history = session.execute(
        select(AuditEntry, Staff.email)
        .outerjoin(Staff, Staff.id == AuditEntry.staff_id)
        .where(
            AuditEntry.target_type == "report",
            AuditEntry.target_id == report.id,
            AuditEntry.action.in_(HISTORY_ACTIONS),
        )
        .order_by(AuditEntry.id.desc())
        .limit(50)
    ).all()
    views = session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.target_type == "report",
            AuditEntry.target_id == report.id,
            AuditEntry.action.in_(("report.view", "recording.play")),
        )
    )
    assignee = session.get(Staff, report.caseworker_id) if report.caseworker_id else None
    audit("report.view", "report", report.id)
    session.commit()
    return render_template(
        "staff/report.html",
        report=report,
        call=call,
        member=member,
        assignee=assignee,
        warnings_on_file=warnings_on_file,
        history=history,
        views=views or 0,
        statuses=list(ReportStatus),
        categories=CATEGORIES,
        caseworkers=caseworkers(session) if is_admin() else [],
        mine=report.caseworker_id == staff.id,
    )


def _clean_notes(text: str) -> str:
    """Notes keep their lines but lose markup and anything number-like:
    a caller's number typed into notes would sit unencrypted in the database."""
    lines = (sanitise_summary(line) for line in text.replace("\r\n", "\n").split("\n"))
    return "\n".join(lines).strip()[:MAX_NOTES]


@bp.route("/reports/<int(max=2147483647):report_id>/update", methods=["POST"])
def report_update(report_id: int) -> Response:
    """Change a report's status, category and notes (its caseworker or an admin)."""
    staff = viewer()
    session = db()
    report = report_for(session, staff, report_id)
    if report.caseworker_id != staff.id and not is_admin():
        abort(403)
    status = request.form.get("status", report.status)
    category = request.form.get("category") or None
    if status not in set(ReportStatus) or (category is not None and category not in CATEGORIES):
        abort(400)
    changes = []
    if status != report.status:
        changes.append(f"status {report.status} -> {status}")
        report.status = status
        report.closed_at = utcnow() if status == ReportStatus.CLOSED else None
    if category != report.category:
        changes.append(f"category {report.category or '-'} -> {category or '-'}")
        report.category = category
    notes = _clean_notes(request.form.get("notes", ""))
    if notes != (report.notes or ""):
        changes.append("notes edited")
        report.notes = notes or None
    if changes:
        audit("report.update", "report", report.id, "; ".join(changes))
        session.commit()
        flash("Report updated.")
    return redirect(url_for("staff.report_page", report_id=report.id))


@bp.route("/reports/<int(max=2147483647):report_id>/assign", methods=["POST"])
def report_assign(report_id: int) -> Response:
    """Take an unassigned report (caseworker) or assign it to anyone (admin)."""
    staff = viewer()
    session = db()
    report = report_for(session, staff, report_id)
    raw = request.form.get("caseworker_id", "")
    if is_admin():
        target = session.get(Staff, int(raw)) if raw.isdigit() else None
        if raw and (target is None or not target.active):
            abort(400)
    else:
        # A caseworker may only take what nobody holds (report_for already hid the rest).
        if report.caseworker_id is not None and report.caseworker_id != staff.id:
            abort(403)
        target = staff
    before = report.caseworker_id
    report.caseworker_id = target.id if target else None
    if target is not None and report.status == ReportStatus.NEW:
        report.status = ReportStatus.ASSIGNED
    if target is None and report.status == ReportStatus.ASSIGNED:
        report.status = ReportStatus.NEW
    audit("report.assign", "report", report.id, f"staff {before or '-'} -> {report.caseworker_id or '-'}")
    session.commit()
    flash("Report assigned." if target else "Report unassigned.")
    return redirect(url_for("staff.report_page", report_id=report.id))
