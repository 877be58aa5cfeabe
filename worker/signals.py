"""Risk-signal jobs: the periodic count, the count after a block, decline or
report, and the alert email (callflows/signals.py has the rules).

The webhooks only enqueue ``refresh_signals`` with the kind and id of the
row they wrote; the counting happens here, off the hot path. Alerts carry
no number and no name: that a signal is waiting, and a link.
"""

from __future__ import annotations

import logging
from datetime import datetime

from callflows.signals import RULE_WORDS, Rule
from core import services
from storage import signals
from storage.models import utcnow
from worker.mail import send_mail, staff_link

log = logging.getLogger(__name__)

ALERT_SUBJECT = "Safety Number: a new risk signal"


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
    with svc.db.session() as session:
        result = signals.recount(session, svc.settings.signal_rules, now or utcnow(), callers)
    # Committed first: the alert job finds the signal it is told about.
    for signal_id in result.raised:
        svc.queue.enqueue("signal_alert", signal_id)
    log.info("signals: %d raised, %d updated, %d dropped", len(result.raised), result.updated, result.dropped)
    return result


def alert_signal(signal_id: int, now: datetime | None = None) -> bool:
    """Job "signal_alert": email staff about a new signal, at most once a day
    per caller. The email is sent before ``alerted_at`` commits, so a failed
    send is retried (at worst twice sent, never lost). True if sent."""
    svc = services.current()
    now = now or utcnow()
    with svc.db.session() as session:
        signal = signals.alert_due(session, int(signal_id), now)
        if signal is None:
            return False
        fired = [RULE_WORDS[Rule(rule)] for rule in signal.rules.split(",") if rule]
        send_mail(
            svc.settings,
            signals.alert_recipients(session),
            ALERT_SUBJECT,
            "The call log points at a caller who "
            + "; ".join(fired or ["crossed a risk threshold"])
            + ".\n\nSee the signal and decide in the staff console:\n"
            + staff_link(svc.settings, f"signals/{signal.id}")
            + "\n",
        )
        signal.alerted_at = now
    return True
