"""Risk-signal jobs: the periodic count, the count after a block, decline or
report, and the alert email (callflows/signals.py has the rules).

The webhooks only enqueue ``refresh_signals`` with the kind and id of the
row they wrote; the counting happens here, off the hot path. A count that
raises signals leaves one ``send_signal_alerts`` event, whatever their
number: one email to the on-call staff lists every signal due an alert.
Alerts carry no number and no name: that signals are waiting, and links.
"""

from __future__ import annotations

import logging
from datetime import datetime

from callflows.signals import RULE_WORDS, Rule
from core import services
from core.settings import Settings
from storage import signals
from storage.models import RiskSignal, utcnow
from worker.mail import send_mail, staff_link

log = logging.getLogger(__name__)

ALERT_SUBJECT = "Safety Number: a new risk signal"
# Signals one alert email lists one by one; any more are counted, with the list's link.
ALERT_LISTED = 50


def compute_signals(now: datetime | None = None) -> signals.Recount:
    """Job "compute_signals" (periodic, and after a member is erased): count
    every caller's recent activity again; ``now`` is for tests."""
    return _recount(None, now)


def refresh_signals(source: str, row_id: int, now: datetime | None = None) -> signals.Recount | None:
    """Job "refresh_signals": count again for the caller behind a decline
    (``call``), a block or a report just written. Idempotent."""
    with services.current().db.session() as session:
        caller = signals.caller_of(session, source, int(row_id))
    if caller is None:
        return None
    return _recount([caller], now)


def _recount(callers: list[str] | None, now: datetime | None) -> signals.Recount:
    svc = services.current()
    now = now or utcnow()
    with svc.db.session() as session:
        result = signals.recount(session, svc.settings.signal_rules, now, callers)
        # One event for the whole count, written in its transaction (durable
        # with the signals it is about): 10,000 new signals are one job and
        # one email, not 10,000 of each. The periodic count also asks for a
        # signal raised again too soon after its last alert.
        if result.raised or (callers is None and signals.alerts_due(session, now)):
            svc.queue.enqueue_with(session, "send_signal_alerts")
    log.info("signals: %d raised, %d updated, %d dropped", len(result.raised), result.updated, result.dropped)
    return result


def send_signal_alerts(now: datetime | None = None) -> int:
    """Job "send_signal_alerts": one email to the on-call staff listing every
    signal an alert is due for (at most one a day per caller); how many it
    listed. The email is sent before ``alerted_at`` commits, so a failed send
    is retried (at worst twice sent, never lost)."""
    svc = services.current()
    now = now or utcnow()
    with svc.db.session() as session:
        due = signals.claim_due_alerts(session, now)
        if not due:
            return 0
        send_mail(
            svc.settings,
            signals.alert_recipients(session),
            _subject(len(due)),
            _alert_body(svc.settings, due),
        )
        for signal in due:
            signal.alerted_at = now
    return len(due)


def alert_signal(_signal_id: int) -> int:
    """Job "signal_alert", as events written before the single alert job
    still name it: the id is not needed, every due alert is sent."""
    return send_signal_alerts()


def _subject(count: int) -> str:
    return ALERT_SUBJECT if count == 1 else f"Safety Number: {count} new risk signals"


def _alert_body(settings: Settings, due: list[RiskSignal]) -> str:
    """Each signal's rules and link, the first ``ALERT_LISTED``; the rest by
    number, with the list's link. No number, no name."""
    lines = ["The call log points at callers staff have not been told about yet.", ""]
    for signal in due[:ALERT_LISTED]:
        fired = [RULE_WORDS[Rule(rule)] for rule in signal.rules.split(",") if rule]
        lines.append("A caller who " + "; ".join(fired or ["crossed a risk threshold"]) + ":")
        lines.append(staff_link(settings, f"signals/{signal.id}"))
    if len(due) > ALERT_LISTED:
        lines += ["", f"And {len(due) - ALERT_LISTED} more:", staff_link(settings, "signals")]
    lines += ["", "See each signal and decide in the staff console."]
    return "\n".join(lines) + "\n"
