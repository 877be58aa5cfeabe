"""Check-ins and their alarms in the console (all staff), and an admin's
reveal of an alarm's last caller for the police (audited, with a reason).

An alarm shows what staff need to act: the member's working name, when the
check-in was set and due, how the calls went, the buddy call, and the last
caller's last three digits with the warnings on file about them. The full
number is shown only to an admin who states why, once, on the answer to
that form (never cached), and the reason goes to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, flash, g, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from callflows.status import OUTCOME_WORDS, AlarmOutcome
from ivr.services import current_services
from ivr.staff.blueprint import bp
from ivr.staff.common import audit, db, require_admin, viewer
from ivr.staff.forms import AlarmCloseForm, RevealForm
from storage import checkins, staff_calls
from storage import repositories as repo
from storage.models import Call, Checkin, CheckinAlarm, Member, SafetyNumber


@bp.app_context_processor
def alarm_banner() -> dict[str, Any]:
    """The number of open alarms, for the banner on every console page."""
    if g.get("staff") is None:
        return {"open_alarms": 0}
    return {"open_alarms": len(checkins.open_alarms(db()))}


@dataclass(frozen=True)
class AlarmView:
    """One alarm as the console shows it."""

    alarm: CheckinAlarm
    checkin: Checkin
    name: str
    line: str | None
    caller: Call | None
    warnings: list[Any]
    member: Member
    calls: list[staff_calls.CallLine]


def _view(alarm: CheckinAlarm) -> AlarmView:
    session = db()
    member = session.get_one(Member, alarm.member_id)
    line = session.scalars(select(SafetyNumber.e164).where(SafetyNumber.member_id == member.id)).first()
    caller = session.get(Call, alarm.last_call_id) if alarm.last_call_id else None
    warnings = (
        repo.warnings_for(session, caller.other_party_index) if caller and caller.other_party_index else []
    )
    return AlarmView(
        alarm,
        session.get_one(Checkin, alarm.checkin_id),
        member.working_name or "(erased)",
        line,
        caller,
        warnings,
        member,
        staff_calls.calls_about(session, checkin_id=alarm.checkin_id),
    )


@bp.route("/checkins")
def checkins_page() -> str:
    """Open alarms first, then every open check-in timer."""
    viewer()
    session = db()
    alarms = [_view(a) for a in checkins.open_alarms(session)]
    rows = [
        (c, session.get_one(Member, c.member_id).working_name or "(erased)")
        for c in checkins.open_checkins(session)
    ]
    audit("checkins.view")
    session.commit()
    return render_template("staff/checkins.html", alarms=alarms, rows=rows, outcomes=OUTCOME_WORDS)


def _alarm(alarm_id: int) -> CheckinAlarm:
    alarm = db().get(CheckinAlarm, alarm_id)
    if alarm is None:
        abort(404)
    return alarm


@bp.route("/alarms/<int(max=2147483647):alarm_id>")
def alarm_page(alarm_id: int) -> str:
    """One alarm: who, when, the calls, the buddy, the last caller; close it."""
    viewer()
    view = _view(_alarm(alarm_id))
    # The page names a member: who looked is kept.
    audit("alarm.view", "alarm", alarm_id)
    db().commit()
    return render_template("staff/alarm.html", v=view, outcomes=OUTCOME_WORDS, revealed=None)


@bp.route("/alarms/<int(max=2147483647):alarm_id>/close", methods=["POST"])
def alarm_close(alarm_id: int) -> Response:
    """Close an open alarm with its outcome: safe, unreachable, police informed."""
    staff = viewer()
    alarm = _alarm(alarm_id)
    form = AlarmCloseForm()
    if not form.validate():
        abort(400)
    if alarm.closed_at is None:
        checkins.close_alarm(
            alarm, AlarmOutcome(form.outcome.data), staff.id, current_services().settings.now()
        )
        audit("alarm.close", "alarm", alarm.id, form.outcome.data)
        db().commit()
        flash(f"Alarm closed: {OUTCOME_WORDS[AlarmOutcome(form.outcome.data)]}.")
    return redirect(url_for("staff.alarm_page", alarm_id=alarm.id))


@bp.route("/alarms/<int(max=2147483647):alarm_id>/reveal", methods=["POST"])
def alarm_reveal(alarm_id: int) -> str | Response:
    """Admin: the last caller's full number, for the police, with a stated reason (audited)."""
    require_admin()
    alarm = _alarm(alarm_id)
    form = RevealForm()
    if not form.validate():
        flash("Give the reason the number is needed.")
        return redirect(url_for("staff.alarm_page", alarm_id=alarm.id))
    view = _view(alarm)
    token = view.caller.other_party_encrypted if view.caller is not None else None
    audit("alarm.reveal_caller", "alarm", alarm.id, (form.reason.data or "")[:500])
    db().commit()
    revealed = current_services().vault.reveal(token) if token else ""
    return render_template("staff/alarm.html", v=view, outcomes=OUTCOME_WORDS, revealed=revealed)
