"""Risk signals for ``/metrics`` (core/metrics.py): how many there are in
each state. Counts only: no caller's index or digits in any label."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select

from callflows.signals import SignalStatus
from core.metrics import scraped_gauge
from core.services import Services
from storage.models import RiskSignal


@scraped_gauge("safety_risk_signals", "Risk signals by state: open (for staff to look at), dismissed")
def risk_signals(services: Services) -> Mapping[str, float]:
    with services.db.session() as session:
        counted: dict[str, int] = {
            status: n
            for status, n in session.execute(
                select(RiskSignal.status, func.count()).group_by(RiskSignal.status)
            )
        }
    return {str(status): float(counted.get(status, 0)) for status in SignalStatus}
