"""Stats: calls per day, screening outcomes, warnings triggered, reports by category."""

from __future__ import annotations

from datetime import date, timedelta

from flask import render_template
from sqlalchemy import and_, case, func, select

from ivr.staff.blueprint import bp
from ivr.staff.charts import bar_chart, hbar_chart
from ivr.staff.common import db, int_arg, viewer
from storage.models import CATEGORIES, Call, CallDirection, Report, utcnow

# Every chart is drawn this wide (SVG user units): on a 390 px phone it
# shrinks by at most ~10 %, so its 12-unit labels stay readable.
CHART_WIDTH = 420
TURNED_AWAY = "turned away"
# One outcome per inbound call, so the outcomes add up to the total. A call
# the member declined with 2 also carries ``blocked`` (the caller was
# blocked then): it counts as declined. ``blocked`` alone is a caller the
# member had blocked before, rejected without ringing.
CALL_OUTCOME = case(
    (Call.bridged.is_(True), "accepted"),
    (Call.declined.is_(True), "declined"),
    (Call.blocked.is_(True), TURNED_AWAY),
    else_="not answered",
)
OUTCOMES = ("accepted", "declined", "not answered", TURNED_AWAY)


def category_label(category: str | None) -> str:
    """The one name of a report category on the page, in the chart and the table alike."""
    return (category or "uncategorised").replace("-", " ")


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
        width=CHART_WIDTH,
        # About four date labels fit across a phone-sized chart.
        label_every=max(days // 4, 1),
    )
    counted: dict[str, int] = {
        label: n
        for label, n in session.execute(
            select(CALL_OUTCOME, func.count()).where(*inbound).group_by(CALL_OUTCOME)
        )
    }
    outcomes = [(label, int(counted.get(label, 0))) for label in OUTCOMES]
    total = sum(n for _, n in outcomes)
    also = session.execute(
        select(
            func.sum(case((and_(Call.declined.is_(True), Call.blocked.is_(True)), 1), else_=0)),
            func.sum(case((Call.warned.is_(True), 1), else_=0)),
        ).where(*inbound)
    ).one()
    blocked_by_member, warned = (int(v or 0) for v in also)
    by_cat: dict[str, int] = {}
    for category, n in session.execute(
        select(Report.category, func.count()).where(Report.created_at >= since).group_by(Report.category)
    ):
        by_cat[category_label(category)] = n
    categories = [(label, by_cat.get(label, 0)) for label in map(category_label, (*CATEGORIES, None))]
    return render_template(
        "staff/stats.html",
        days=days,
        total=total,
        screened=total - counted.get(TURNED_AWAY, 0),
        outcomes=outcomes,
        blocked_by_member=blocked_by_member,
        warned=warned,
        categories=categories,
        per_day=[(d.strftime("%d %b"), per_day.get(d, 0)) for d in series],
        calls_chart=calls_chart,
        outcome_chart=hbar_chart("Inbound calls by outcome", outcomes, width=CHART_WIDTH),
        category_chart=hbar_chart("Reports by category", categories, width=CHART_WIDTH),
    )


def _as_date(value: object) -> date:
    # PostgreSQL's date() gives a date, SQLite's a string.
    return value if isinstance(value, date) else date.fromisoformat(str(value))
