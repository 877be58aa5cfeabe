"""The pool of Safety Numbers (admin): add, quarantine, release.

A quarantined number is released (available again) only after
``NUMBER_QUARANTINE_DAYS`` (default 30) days, with no override: a number
handed to a new member too soon would ring them with the previous member's
clients.
"""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from callflows.errors import DuplicateSafetyNumber, InvalidPhoneNumber, WithheldNumber
from callflows.phone import normalise
from ivr.services import current_services
from ivr.staff.blueprint import bp
from ivr.staff.common import PAGE_SIZE, audit, db, int_arg, require_admin
from ivr.staff.forms import NumbersForm
from storage import repositories as repo
from storage.models import LineStatus, SafetyNumber, utcnow


@bp.route("/numbers")
def numbers_list() -> str:
    """The pool with each number's status and quarantine date."""
    require_admin()
    offset = int_arg("offset") or 0
    lines = list(
        db().scalars(select(SafetyNumber).order_by(SafetyNumber.id).offset(offset).limit(PAGE_SIZE + 1))
    )
    counts = dict(db().execute(select(SafetyNumber.status, func.count()).group_by(SafetyNumber.status)).all())
    days = current_services().settings.number_quarantine_days
    return render_template(
        "staff/numbers.html",
        lines=lines[:PAGE_SIZE],
        counts=counts,
        quarantine=timedelta(days=days),
        now=utcnow(),
        days=days,
        next_offset=offset + PAGE_SIZE if len(lines) > PAGE_SIZE else None,
        prev_offset=max(offset - PAGE_SIZE, 0) if offset else None,
    )


@bp.route("/numbers/add", methods=["POST"])
def numbers_add() -> Response:
    """Add numbers (one per line) to the pool; all or nothing."""
    require_admin()
    raw = NumbersForm().lines()
    region = current_services().settings.default_region
    try:
        numbers = [normalise(n, region) for n in raw]
        if not numbers:
            raise InvalidPhoneNumber("no numbers given")
        added = repo.add_numbers(db(), numbers)
    except (InvalidPhoneNumber, WithheldNumber):
        flash("Nothing added: every line must be a valid phone number.")
        return redirect(url_for("staff.numbers_list"))
    except DuplicateSafetyNumber as exc:
        db().rollback()
        flash(f"Nothing added: {exc}.")
        return redirect(url_for("staff.numbers_list"))
    audit("numbers.add", "safety_number", None, f"{len(added)} numbers")
    db().commit()
    flash(f"Added {len(added)} numbers to the pool.")
    return redirect(url_for("staff.numbers_list"))


def _line(line_id: int) -> SafetyNumber:
    line = db().get(SafetyNumber, line_id)
    if line is None:
        abort(404)
    return line


@bp.route("/numbers/<int(max=2147483647):line_id>/quarantine", methods=["POST"])
def number_quarantine(line_id: int) -> Response:
    """Take a free number out of use (an assigned one is freed by cancelling its member)."""
    require_admin()
    line = _line(line_id)
    if line.status != LineStatus.AVAILABLE:
        flash("Only an available number can be quarantined; cancel its member first.")
        return redirect(url_for("staff.numbers_list"))
    line.status = LineStatus.QUARANTINED
    line.quarantined_at = utcnow()
    audit("number.quarantine", "safety_number", line.id)
    db().commit()
    flash("Number quarantined.")
    return redirect(url_for("staff.numbers_list"))


@bp.route("/numbers/<int(max=2147483647):line_id>/release", methods=["POST"])
def number_release(line_id: int) -> Response:
    """Make a quarantined number available again once its quarantine is over."""
    require_admin()
    line = _line(line_id)
    days = current_services().settings.number_quarantine_days
    if line.status != LineStatus.QUARANTINED:
        flash("That number is not quarantined.")
    elif line.quarantined_at and utcnow() < line.quarantined_at + timedelta(days=days):
        flash(f"Too soon: a number stays quarantined for {days} days after it was last used.")
    else:
        line.status = LineStatus.AVAILABLE
        line.quarantined_at = None
        audit("number.release", "safety_number", line.id)
        db().commit()
        flash("Number released: it can be given to a new member.")
    return redirect(url_for("staff.numbers_list"))
