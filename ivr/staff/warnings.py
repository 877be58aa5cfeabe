"""Warnings about callers: list, create from a report, edit, expire.

A warning is keyed by the caller's blind index, taken from the report; the
console never shows a caller's number (at most the last three digits the
call log kept). Summaries are sanitised by ``repositories.add_warning``.
Caseworkers list warnings and create them from reports they can see;
editing, expiring and importing are for admins.
"""

from __future__ import annotations

from datetime import date, datetime, time

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select
from werkzeug.wrappers import Response

from callflows.errors import UnknownCategory
from callflows.sanitise import sanitise_summary
from ivr.staff.blueprint import bp
from ivr.staff.common import PAGE_SIZE, audit, db, int_arg, report_or_404, require_admin, viewer
from storage import repositories as repo
from storage.models import CATEGORIES, Call, CallerWarning, utcnow


def parse_expiry(raw: str) -> datetime | None:
    """A date from a form (YYYY-MM-DD) as the end of that day; empty means never."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        return datetime.combine(date.fromisoformat(raw), time(23, 59, 59))
    except ValueError as exc:
        raise ValueError("the expiry date must look like 2026-12-31") from exc


@bp.route("/warnings")
def warnings_list() -> str:
    """Live (or, with ?show=expired, expired) warnings, newest first, paged."""
    viewer()
    now = utcnow()
    expired = request.args.get("show") == "expired"
    live = or_(CallerWarning.expires_at.is_(None), CallerWarning.expires_at > now)
    cond = ~live if expired else live
    offset = int_arg(request.args.get("offset")) or 0
    rows = list(
        db().scalars(
            select(CallerWarning)
            .where(cond)
            .order_by(CallerWarning.created_at.desc(), CallerWarning.id.desc())
            .offset(offset)
            .limit(PAGE_SIZE + 1)
        )
    )
    total = db().scalar(select(func.count()).select_from(CallerWarning).where(cond)) or 0
    return render_template(
        "staff/warnings.html",
        warnings=rows[:PAGE_SIZE],
        total=total,
        expired=expired,
        offset=offset,
        next_offset=offset + PAGE_SIZE if len(rows) > PAGE_SIZE else None,
        prev_offset=max(offset - PAGE_SIZE, 0) if offset else None,
    )


@bp.route("/reports/<int(max=2147483647):report_id>/warning", methods=["GET", "POST"])
def warning_from_report(report_id: int) -> Response | str | tuple[str, int]:
    """Create a warning about the caller a report is about (by blind index only)."""
    staff = viewer()
    session = db()
    report = report_or_404(staff, report_id)
    if not report.caller_index:
        flash("This report is not linked to a caller with a number, so no warning can be made from it.")
        return redirect(url_for("staff.report_page", report_id=report.id))
    call = session.get(Call, report.call_id) if report.call_id else None
    form = {
        "category": request.form.get("category", report.category or ""),
        "summary": request.form.get("summary", ""),
        "expires": request.form.get("expires", ""),
    }
    error = None
    if request.method == "POST":
        try:
            warning = repo.add_warning(
                session,
                caller_index=report.caller_index,
                category=form["category"],
                summary=form["summary"],
                expires_at=parse_expiry(form["expires"]),
                staff_id=staff.id,
                report_id=report.id,
            )
        except (UnknownCategory, ValueError) as exc:
            error = str(exc)
        else:
            audit("warning.create", "report", report.id, f"warning {warning.id}")
            session.commit()
            flash("Warning created. Members will hear it when this caller rings them.")
            return redirect(url_for("staff.warnings_list"))
    html = render_template(
        "staff/warning_form.html",
        report=report,
        last3=call.other_party_last3 if call else None,
        form=form,
        categories=CATEGORIES,
        error=error,
        warning=None,
    )
    return (html, 400) if error else html


def _warning(warning_id: int) -> CallerWarning:
    warning = db().get(CallerWarning, warning_id)
    if warning is None:
        abort(404)
    return warning


@bp.route("/warnings/<int(max=2147483647):warning_id>/edit", methods=["GET", "POST"])
def warning_edit(warning_id: int) -> Response | str | tuple[str, int]:
    """Change a warning's category, summary or expiry (admin)."""
    require_admin()
    warning = _warning(warning_id)
    expiry = warning.expires_at.date().isoformat() if warning.expires_at else ""
    form = {
        "category": request.form.get("category", warning.category),
        "summary": request.form.get("summary", warning.summary),
        "expires": request.form.get("expires", expiry),
    }
    error = None
    if request.method == "POST":
        try:
            repo.check_category(form["category"])
            summary = sanitise_summary(form["summary"])
            if not summary:
                raise ValueError("the summary is empty")
            expires = parse_expiry(form["expires"])
        except (UnknownCategory, ValueError) as exc:
            error = str(exc)
        else:
            warning.category, warning.summary, warning.expires_at = form["category"], summary, expires
            audit("warning.edit", "warning", warning.id)
            db().commit()
            flash("Warning saved.")
            return redirect(url_for("staff.warnings_list"))
    html = render_template(
        "staff/warning_form.html",
        warning=warning,
        report=None,
        last3=None,
        form=form,
        categories=CATEGORIES,
        error=error,
    )
    return (html, 400) if error else html


@bp.route("/warnings/<int(max=2147483647):warning_id>/expire", methods=["POST"])
def warning_expire(warning_id: int) -> Response:
    """End a warning now; it stays listed under expired warnings (admin)."""
    require_admin()
    warning = _warning(warning_id)
    warning.expires_at = utcnow()
    audit("warning.expire", "warning", warning.id)
    db().commit()
    flash("Warning expired: members will no longer hear it.")
    return redirect(url_for("staff.warnings_list"))
