"""Warnings about callers: list, create from a report, edit, expire.

A warning is keyed by the caller's blind index, taken from the report; the
console never shows a caller's number (at most the last three digits the
call log kept). Summaries are sanitised as the form reads them
(``forms.WarningForm``), so the form shows back what members would hear.
Caseworkers list warnings and create them from reports they can see;
editing, expiring and importing are for admins.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select
from werkzeug.wrappers import Response

from callflows.languages import ENGLISH, LANGUAGES, Language
from ivr.staff.blueprint import bp
from ivr.staff.common import PAGE_SIZE, audit, db, int_arg, report_or_404, require_admin, viewer
from ivr.staff.forms import SummaryTranslationForm, WarningForm
from storage import repositories as repo
from storage import signals
from storage.models import CATEGORIES, Call, CallerWarning, utcnow


@bp.route("/warnings")
def warnings_list() -> str:
    """Live (or, with ?show=expired, expired) warnings, newest first, paged."""
    viewer()
    now = utcnow()
    expired = request.args.get("show") == "expired"
    live = or_(CallerWarning.expires_at.is_(None), CallerWarning.expires_at > now)
    cond = ~live if expired else live
    offset = int_arg("offset") or 0
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
    page = rows[:PAGE_SIZE]
    return render_template(
        "staff/warnings.html",
        warnings=page,
        from_signal=signals.signal_of_warnings(db(), [w.id for w in page]),
        total=total,
        expired=expired,
        offset=offset,
        next_offset=offset + PAGE_SIZE if len(rows) > PAGE_SIZE else None,
        prev_offset=max(offset - PAGE_SIZE, 0) if offset else None,
    )


def _form_page(form: WarningForm, **page: Any) -> str | tuple[str, int]:
    """The warning form; a 400 when a submitted form was refused."""
    html = render_template("staff/warning_form.html", form=form, categories=CATEGORIES, **page)
    return (html, 400) if form.errors else html


@bp.route("/reports/<int(max=2147483647):report_id>/warning", methods=["GET", "POST"])
def warning_from_report(report_id: int) -> Response | str | tuple[str, int]:
    """Create a warning about the caller a report is about (by blind index only)."""
    staff = viewer()
    session = db()
    report = report_or_404(staff, report_id)
    if not report.caller_index:
        flash("This report is not linked to a caller with a number, so no warning can be made from it.")
        return redirect(url_for("staff.report_page", report_id=report.id))
    form = WarningForm(category=report.category or "")
    if form.validate_on_submit():
        warning = repo.add_warning(
            session,
            caller_index=report.caller_index,
            category=form.category.data,
            summary=form.summary.data,
            expires_at=form.expires.end_of_day(),
            staff_id=staff.id,
            report_id=report.id,
        )
        audit("warning.create", "report", report.id, f"warning {warning.id}")
        session.commit()
        flash("Warning created. Members will hear it when this caller rings them.")
        return redirect(url_for("staff.warnings_list"))
    call = session.get(Call, report.call_id) if report.call_id else None
    return _form_page(form, report=report, last3=call.other_party_last3 if call else None, warning=None)


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
    expires = warning.expires_at.date() if warning.expires_at else None
    form = WarningForm(category=warning.category, summary=warning.summary, expires=expires)
    if form.validate_on_submit():
        if form.summary.data != warning.summary:
            repo.drop_summary_translations(db(), warning)
        warning.category, warning.summary = form.category.data, form.summary.data
        warning.expires_at = form.expires.end_of_day()
        audit("warning.edit", "warning", warning.id)
        db().commit()
        flash("Warning saved.")
        return redirect(url_for("staff.warnings_list"))
    return _form_page(
        form,
        warning=warning,
        report=None,
        last3=None,
        translations=_translations(warning),
        languages=LANGUAGES[1:],
    )


def _translations(warning: CallerWarning) -> list[tuple[Language, str | None]]:
    """Each language but English, with staff's translation of the summary if there is one."""
    return [
        (language, repo.summary_translations(db(), [warning.id], language.code).get(warning.id))
        for language in LANGUAGES
        if language is not ENGLISH
    ]


@bp.route("/warnings/<int(max=2147483647):warning_id>/translation", methods=["POST"])
def warning_translation(warning_id: int) -> Response:
    """Set (or, left empty, remove) the summary's translation into one language (admin)."""
    require_admin()
    warning = _warning(warning_id)
    form = SummaryTranslationForm()
    if not form.validate():
        abort(400)
    kept = repo.set_summary_translation(db(), warning, form.language.data, form.summary.data or "")
    audit("warning.translation", "warning", warning.id, f"language={form.language.data} kept={kept}")
    db().commit()
    flash("Translation saved." if kept else "Translation removed: members hear the English summary.")
    return redirect(url_for("staff.warning_edit", warning_id=warning.id))


@bp.route("/warnings/<int(max=2147483647):warning_id>/expire", methods=["POST"])
def warning_expire(warning_id: int) -> Response:
    """End a warning now; it stays listed under expired warnings (admin)."""
    require_admin()
    warning = _warning(warning_id)
    # Members stop hearing it at once: one stray tap must not do that.
    if request.form.get("confirm") != "yes":
        flash("Nothing was changed: tick \u201cYes, end it\u201d to expire the warning.")
        return redirect(url_for("staff.warnings_list"))
    warning.expires_at = utcnow()
    audit("warning.expire", "warning", warning.id)
    db().commit()
    flash("Warning expired: members will no longer hear it.")
    return redirect(url_for("staff.warnings_list"))
