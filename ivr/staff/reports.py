"""Reports: the inbox, the report page, and triage (status, category, notes, assignment).

The views parse the form and check who may act; what a change does to a
report, and what it leaves in the audit log, is ``storage.casework``'s.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ivr.staff.blueprint import bp
from ivr.staff.common import PAGE_SIZE, audit, db, int_arg, is_admin, report_or_404, viewer
from ivr.staff.forms import AssignForm, TriageForm
from storage import casework, staff_calls
from storage import repositories as repo
from storage.console_queries import InboxFilter, caseworkers, inbox_page
from storage.models import CATEGORIES, Call, Member, ReportStatus, Staff


@bp.route("/")
@bp.route("/reports")
def inbox() -> str:
    """Reports newest first, filtered by status, category and caseworker, paged."""
    staff = viewer()
    try:
        flt = InboxFilter.from_args(request.args.to_dict())
    except ValueError:
        abort(400)
    page = inbox_page(db(), staff, flt, int_arg("after", minimum=1), PAGE_SIZE)
    if page is None:
        abort(404)  # a cursor the viewer may not see answers as one that never existed
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
    report = report_or_404(staff, report_id)
    on_file = repo.warnings_for(session, report.caller_index) if report.caller_index else []
    facts = {
        "call": session.get(Call, report.call_id) if report.call_id else None,
        "member": session.get(Member, report.member_id) if report.member_id else None,
        "assignee": session.get(Staff, report.caseworker_id) if report.caseworker_id else None,
        "warnings_on_file": len(on_file),
        "history": casework.history(session, report),
        "views": casework.times_opened(session, report),
        "calls": staff_calls.calls_about(session, report_id=report.id),
    }
    audit("report.view", "report", report.id)
    session.commit()
    return render_template(
        "staff/report.html",
        report=report,
        statuses=list(ReportStatus),
        categories=CATEGORIES,
        caseworkers=caseworkers(session) if is_admin() else [],
        mine=report.caseworker_id == staff.id,
        **facts,
    )


@bp.route("/reports/<int(max=2147483647):report_id>/update", methods=["POST"])
def report_update(report_id: int) -> Response:
    """Change a report's status, category and notes (its caseworker or an admin)."""
    staff = viewer()
    report = report_or_404(staff, report_id)
    if report.caseworker_id != staff.id and not is_admin():
        abort(403)
    # A field left out keeps the report's value; a value outside the choices is a 400.
    form = TriageForm(status=report.status)
    if not form.validate():
        abort(400)
    status, category = ReportStatus(form.status.data), form.category.data or None
    if casework.triage(db(), report, status=status, category=category, notes=form.notes.data or "", by=staff):
        db().commit()
        flash("Report updated.")
    return redirect(url_for("staff.report_page", report_id=report.id))


@bp.route("/reports/<int(max=2147483647):report_id>/assign", methods=["POST"])
def report_assign(report_id: int) -> Response:
    """Take an unassigned report (caseworker) or assign it to anyone (admin)."""
    staff = viewer()
    session = db()
    report = report_or_404(staff, report_id)
    form = AssignForm()
    if not form.validate():
        abort(400)
    if is_admin():
        chosen = form.caseworker_id.data
        target = session.get(Staff, chosen) if chosen is not None else None
        if chosen is not None and (target is None or not target.active):
            abort(400)
    else:
        # A caseworker may only take what nobody holds (report_or_404 already hid the rest).
        if report.caseworker_id is not None and report.caseworker_id != staff.id:
            abort(403)
        target = staff
    casework.assign(session, report, target, by=staff)
    session.commit()
    flash("Report assigned." if target else "Report unassigned.")
    return redirect(url_for("staff.report_page", report_id=report.id))
