"""Police export (admin): consented reports only, nothing that identifies or locates a member.

Each row has: the scheme's report reference (police quote it back to the
scheme, which alone can contact the member), the month reported, the
category and the triage status. Left out on purpose: member id and name,
every phone number and its last digits, the Safety Number, the caller's
blind index, the recording (a voice identifies), caseworker notes (free text
may name people and places) and the exact date and time (with a category
it can point at one person's night).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from flask import Response, render_template
from sqlalchemy import func, select

from ivr.staff.blueprint import bp
from ivr.staff.common import audit, db, require_admin
from ivr.staff.forms import ExportForm
from storage.models import Report, utcnow

FIELDS = ("reference", "month", "category", "status")


def consented_rows() -> list[dict[str, Any]]:
    """The export rows, oldest first."""
    rows = (
        db()
        .execute(
            select(Report.id, Report.created_at, Report.category, Report.status)
            .where(Report.police_consent.is_(True))
            .order_by(Report.created_at, Report.id)
        )
        .all()
    )
    return [
        {
            "reference": f"SN-{r.id}",
            "month": r.created_at.strftime("%Y-%m"),
            "category": r.category or "uncategorised",
            "status": r.status,
        }
        for r in rows
    ]


@bp.route("/export")
def export_page() -> str:
    """What the export holds and the two download buttons."""
    require_admin()
    consented = db().scalar(select(func.count()).select_from(Report).where(Report.police_consent.is_(True)))
    return render_template("staff/export.html", consented=consented or 0, fields=FIELDS)


@bp.route("/export/download", methods=["POST"])
def export_download() -> Response:
    """The export as CSV or JSON (a POST, so it is never fetched by accident); audited."""
    require_admin()
    form = ExportForm()
    if not form.validate():
        return Response("unknown format", status=400)
    fmt = form.format.data
    rows = consented_rows()
    stamp = utcnow().strftime("%Y%m%d")
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
        body, mimetype = buf.getvalue(), "text/csv"
    else:
        body = json.dumps({"generated": utcnow().strftime("%Y-%m-%d"), "reports": rows}, indent=2)
        mimetype = "application/json"
    audit(f"export.{fmt}", None, None, f"{len(rows)} reports")
    db().commit()
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="police-export-{stamp}.{fmt}"'},
    )
