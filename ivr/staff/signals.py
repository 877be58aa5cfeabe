"""Risk signals (``/staff/signals``): callers the call log points at.

Caseworkers and admins alike see each signal with the caller's last three
digits only — never a number, never a member's name — and decide: dismiss
it with a reason, or turn it into a warning every member then hears at
ring time. Every list, view, dismissal and warning is audited, with ids and
counts only.
"""

from __future__ import annotations

from typing import TypeVar

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from callflows.signals import RULE_WORDS, Rule
from ivr.staff.blueprint import bp
from ivr.staff.common import PAGE_SIZE, audit, db, int_arg, viewer
from ivr.staff.forms import DismissForm, WarningForm
from storage import repositories as repo
from storage import signals as store
from storage.models import CATEGORIES, RiskSignal

# The two decisions a signal's page offers.
Decision = TypeVar("Decision", DismissForm, WarningForm)

VIEW_TITLES = {
    store.NEW: "New signals",
    store.WARNED: "Under a warning",
    store.DISMISSED: "Dismissed",
}


def _view() -> str:
    """``?view=``: one of the three lists (new by default); anything else is a 400."""
    view = request.args.get("view", store.NEW)
    if view not in store.VIEWS:
        abort(400)
    return view


def _counts_text(signal: RiskSignal) -> str:
    """What the audit log keeps of a signal: counts, never the caller."""
    return (
        f"reached {signal.reached_members}, blocked {signal.blocked_members}, "
        f"reported {signal.reported_members}"
    )


def _rules_of(signal: RiskSignal) -> list[str]:
    return [RULE_WORDS[Rule(rule)] for rule in signal.rules.split(",") if rule]


@bp.route("/signals")
def signals_list() -> str:
    """One list of signals, latest activity first, keyset-paged (``after``)."""
    viewer()
    view = _view()
    after = int_arg("after", minimum=1)
    session = db()
    rows = store.signals_page(session, view, after, PAGE_SIZE + 1)
    page = rows[:PAGE_SIZE]
    audit("signals.view", detail=f"{view}, {len(page)} shown")
    session.commit()
    return render_template(
        "staff/signals.html",
        view=view,
        titles=VIEW_TITLES,
        counts=store.view_counts(session),
        signals=page,
        rules={s.id: _rules_of(s) for s in page},
        categories=store.report_categories(session, [s.caller_index for s in page]),
        next_after=page[-1].id if len(rows) > PAGE_SIZE else None,
        paged=after is not None,
    )


def _signal(signal_id: int) -> RiskSignal:
    signal = db().get(RiskSignal, signal_id)
    if signal is None:
        abort(404)
    return signal


def _signal_page(
    signal: RiskSignal, dismiss: DismissForm, warning: WarningForm, status: int = 200
) -> tuple[str, int]:
    session = db()
    categories = store.report_categories(session, [signal.caller_index])
    html = render_template(
        "staff/signal.html",
        signal=signal,
        rules=_rules_of(signal),
        report_categories=categories.get(signal.caller_index, []),
        warnings=repo.warnings_for(session, signal.caller_index),
        dismiss=dismiss,
        form=warning,
        categories=CATEGORIES,
    )
    return html, status


def _valid(signal: RiskSignal, form: Decision) -> Decision:
    """The posted decision ``form`` once it validates; else the signal's page is the
    answer (400), with that form's errors and the other form empty."""
    if not form.validate_on_submit():
        dismiss = form if isinstance(form, DismissForm) else DismissForm(formdata=None)
        warning = form if isinstance(form, WarningForm) else WarningForm(formdata=None)
        abort(make_response(_signal_page(signal, dismiss, warning, 400)))
    return form


@bp.route("/signals/<int(max=2147483647):signal_id>")
def signal_page(signal_id: int) -> tuple[str, int]:
    """One signal: its rules, counts, dates, linked reports' categories, and the two decisions."""
    viewer()
    signal = _signal(signal_id)
    audit("signal.view", "signal", signal.id, _counts_text(signal))
    db().commit()
    return _signal_page(signal, DismissForm(formdata=None), WarningForm(formdata=None))


@bp.route("/signals/<int(max=2147483647):signal_id>/dismiss", methods=["POST"])
def signal_dismiss(signal_id: int) -> Response:
    """Dismiss with a reason: it stays dismissed until new members cross a threshold."""
    staff = viewer()
    signal = _signal(signal_id)
    form = _valid(signal, DismissForm())
    store.dismiss(db(), signal, staff_id=staff.id, reason=form.reason.data or "")
    audit("signal.dismiss", "signal", signal.id, _counts_text(signal))
    db().commit()
    flash("Signal dismissed. It comes back only if new members' calls, blocks or reports cross a threshold.")
    return redirect(url_for("staff.signals_list"))


@bp.route("/signals/<int(max=2147483647):signal_id>/warning", methods=["POST"])
def signal_warning(signal_id: int) -> Response:
    """Turn the signal into a warning about its caller (by blind index only)."""
    staff = viewer()
    signal = _signal(signal_id)
    form = _valid(signal, WarningForm())
    warning = store.warn(
        db(),
        signal,
        staff_id=staff.id,
        category=form.category.data or "",
        summary=form.summary.data or "",
        expires_at=form.expires.end_of_day(),
    )
    audit("signal.warning", "signal", signal.id, f"warning {warning.id}")
    db().commit()
    flash("Warning created. Every member will hear it when this caller rings them.")
    return redirect(url_for("staff.signal_page", signal_id=signal.id))
