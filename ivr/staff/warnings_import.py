"""Import warnings from a CSV file (number, category, summary): all rows or none.

Every row is checked first (number normalised, category known, summary not
empty after sanitising); if any row is wrong, the page lists each wrong row
and writes nothing. Otherwise all rows are written in one transaction.
Numbers are turned into blind indexes at once and never stored or shown.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from callflows.errors import InvalidPhoneNumber, UnknownCategory, WithheldNumber
from callflows.phone import normalise
from callflows.sanitise import forbidden_characters, sanitise_summary
from ivr.services import current_services
from ivr.staff.blueprint import bp
from ivr.staff.common import audit, db, require_admin
from ivr.staff.forms import ImportForm
from storage import repositories as repo
from storage.models import CATEGORIES
from storage.vault import NumberVault

MAX_ROWS = 1000
HEADER = ("number", "category", "summary")


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


@dataclass(frozen=True)
class GoodRow:
    caller_index: str
    category: str
    summary: str


def check_rows(text: str, vault: NumberVault, region: str) -> tuple[list[GoodRow], list[RowError]]:
    """Validate a whole CSV file; the error messages never repeat a number."""
    good: list[GoodRow] = []
    errors: list[RowError] = []
    reader = csv.reader(io.StringIO(text))
    for line, row in enumerate(reader, start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if line == 1 and tuple(c.lower() for c in cells[:3]) == HEADER:
            continue
        if len(good) + len(errors) >= MAX_ROWS:
            errors.append(RowError(line, f"more than {MAX_ROWS} rows: split the file"))
            break
        if len(cells) != 3:
            errors.append(RowError(line, "expected three columns: number, category, summary"))
            continue
        number, category, summary = cells
        problems = []
        e164 = None
        try:
            e164 = normalise(number, region)
        except (InvalidPhoneNumber, WithheldNumber):
            problems.append("the number is not a valid phone number")
        try:
            repo.check_category(category)
        except UnknownCategory:
            problems.append(f"unknown category (use one of: {', '.join(CATEGORIES)})")
        clean = sanitise_summary(summary)
        if not clean:
            problems.append("the summary is empty")
        if problems or e164 is None:
            errors.append(RowError(line, "; ".join(problems)))
        else:
            good.append(GoodRow(vault.index(e164), category, clean))
    if not good and not errors:
        errors.append(RowError(0, "the file holds no rows"))
    return good, errors


@bp.route("/warnings/import", methods=["GET", "POST"])
def warnings_import() -> Response | str | tuple[str, int]:
    """Upload a CSV of warnings; a row-by-row report if anything is wrong (admin)."""
    staff = require_admin()
    if request.method == "GET":
        return render_template("staff/warnings_import.html", errors=None)
    upload = ImportForm().file.data
    raw = upload.read() if upload is not None else b""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return render_template(
            "staff/warnings_import.html", errors=[RowError(0, "the file is not UTF-8 text")]
        ), 400
    found = forbidden_characters(text)
    if found:
        error = RowError(
            0, f"the file contains control characters ({', '.join(found[:3])}): save it as plain text"
        )
        return render_template("staff/warnings_import.html", errors=[error]), 400
    svc = current_services()
    good, errors = check_rows(text, svc.vault, svc.settings.default_region)
    if errors:
        page = render_template("staff/warnings_import.html", errors=errors, checked=len(good) + len(errors))
        return page, 400
    session = db()
    for row in good:
        repo.add_warning(
            session,
            caller_index=row.caller_index,
            category=row.category,
            summary=row.summary,
            staff_id=staff.id,
        )
    audit("warnings.import", None, None, f"{len(good)} warnings")
    session.commit()
    flash(f"Imported {len(good)} warnings.")
    return redirect(url_for("staff.warnings_list"))
