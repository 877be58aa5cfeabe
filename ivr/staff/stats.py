"""Stats: calls per day, screening outcomes, warnings triggered, reports by category."""

from __future__ import annotations

from datetime import date, timedelta

from flask import render_template
from sqlalchemy import case, func, select

from ivr.staff.blueprint import bp
from ivr.staff.charts import bar_chart
from ivr.staff.common import db, int_arg, viewer
from storage.models import CATEGORIES, Call, CallDirection, Report, utcnow


@bp.route("/stats")
def stats_page() -> str:
    """Counts over the last N days (default 30) as server-drawn SVG charts."""
    viewer()
    days = min(int_arg("days", minimum=1) or 30, 365)
    since_day = utcnow().date() - timedelta(days=days - 1)
    since = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    session = db()
    inbound = (Call.direction == CallDirection.INBOUND, Call.created_at >= since)
    day = func.date(Call.created_at)
    per_day_rows = session.execute(select(day, func.count()).where(*inbound).group_by(day)).all()
    per_day = {_as_date(d): n for d, n in per_day_rows}
    series = [(since_day + timedelta(days=i)) for i in range(days)]
    calls_chart = bar_chart(
        f"Calls to Safety Numbers per day, last {days} days",
        [(d.strftime("%d %b"), per_day.get(d, 0)) for d in series],
        width=960,
        label_every=max(days // 6, 1),
    )
    outcome = session.execute(
        select(
            func.count(),
            func.sum(case((Call.bridged.is_(True), 1), else_=0)),
            func.sum(case((Call.declined.is_(True), 1), else_=0)),
            func.sum(case((Call.blocked.is_(True), 1), else_=0)),
            func.sum(case((Call.warned.is_(True), 1), else_=0)),
        ).where(*inbound)
    ).one()
    total, bridged, declined, blocked, warned = (int(v or 0) for v in outcome)
    outcomes = [
        ("screened", total - blocked),
        ("accepted", bridged),
        ("declined", declined),
        ("blocked", blocked),
        ("warned", warned),
    ]
    by_cat: dict[str, int] = {}
    for category, n in session.execute(
        select(Report.category, func.count()).where(Report.created_at >= since).group_by(Report.category)
    ):
        by_cat[category or "uncategorised"] = n
    categories = [(c, by_cat.get(c, 0)) for c in (*CATEGORIES, "uncategorised")]
    return render_template(
        "staff/stats.html",
        days=days,
        total=total,
        outcomes=outcomes,
        categories=categories,
        calls_chart=calls_chart,
        outcome_chart=bar_chart("Inbound calls by outcome", outcomes, width=420),
        # Short labels (first word) so seven bars fit on a phone; the table has the full names.
        category_chart=bar_chart(
            "Reports by category",
            [("none" if c == "uncategorised" else c.split("-")[0], n) for c, n in categories],
            width=420,
        ),
    )


def _as_date(value: object) -> date:
    # PostgreSQL's date() gives a date, SQLite's a string.
    return value if isinstance(value, date) else date.fromisoformat(str(value))
