"""Check-in timers for ``/metrics`` (core/metrics.py): how many are running,
and how many alarms staff have yet to close. Counts only: no member in any
label."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select

from callflows.status import OPEN_STATES
from core.metrics import scraped_gauge
from core.services import Services
from storage.models import Checkin, CheckinAlarm


@scraped_gauge("safety_checkins", "Running check-in timers by state: open (waiting), calling (a call out)")
def running_checkins(services: Services) -> Mapping[str, float]:
    with services.db.session() as session:
        running = select(Checkin.state, func.count()).where(Checkin.state.in_(OPEN_STATES))
        counted: dict[str, int] = dict(session.execute(running.group_by(Checkin.state)).all())
    return {str(state): float(counted.get(state, 0)) for state in OPEN_STATES}


@scraped_gauge("safety_checkin_alarms", "Check-in alarms staff have not closed yet")
def open_alarms(services: Services) -> Mapping[str, float]:
    with services.db.session() as session:
        waiting = session.scalar(select(func.count()).where(CheckinAlarm.closed_at.is_(None)))
    return {"open": float(waiting or 0)}
