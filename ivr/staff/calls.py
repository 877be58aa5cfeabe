"""Masked calls to members from the console, the member's "calls from the
scheme" preference, and the call-back tasks members open from the menu.

"Call the member" (a report, a check-in alarm, a member's page, a call-back task) writes the
call and its audit entry, then queues the job that rings the caseworker's
own phone (``worker.staff_calls``); the page it came from then lists the
call with its outcome and time. Who may is decided here (the report's
caseworker or an admin; any staff member for a member who asked to be
called back); everything else — the member's preference, the caseworker's
phone, the access line, the hourly limit — by ``storage.staff_calls``.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from callflows.staff_call import CallRefusal
from callflows.status import CallReason, MemberStatus
from ivr.services import current_services
from ivr.staff.blueprint import bp
from ivr.staff.common import audit, db, is_admin, report_or_404, require_admin, viewer
from ivr.staff.forms import SchemeCallsForm
from storage import callback_requests, staff_calls
from storage.models import CheckinAlarm, Member, utcnow

PLACED = "Calling your phone now. Answer it, listen, and press 1 to be connected to the member."


def _place(request: staff_calls.CallRequest) -> None:
    """Write and queue the call, or say why not; both are audited with the reason."""
    services = current_services()
    result = staff_calls.request_call(db(), request, utcnow(), services.settings.staff_calls_per_hour)
    about = f"reason={request.reason.value}" + (f" report={request.report_id}" if request.report_id else "")
    if isinstance(result, CallRefusal):
        audit("member.call_refused", "member", request.member_id, f"{about} refused={result.name.lower()}")
        db().commit()
        if result is CallRefusal.NOT_ALLOWED:
            abort(403)
        flash(result.value)
        return
    audit("member.call", "member", result.member_id, f"{about} call={result.id}")
    db().commit()
    services.queue.enqueue("place_staff_call", result.id)
    flash(PLACED)


@bp.route("/reports/<int(max=2147483647):report_id>/call", methods=["POST"])
def call_about_report(report_id: int) -> Response:
    """Call the report's member: its caseworker or an admin."""
    staff = viewer()
    report = report_or_404(staff, report_id)
    _place(
        staff_calls.CallRequest(
            staff_id=staff.id,
            member_id=report.member_id,
            reason=CallReason.REPORT,
            allowed=report.caseworker_id == staff.id or is_admin(),
            report_id=report.id,
        )
    )
    return redirect(url_for("staff.report_page", report_id=report.id), 303)


@bp.route("/alarms/<int(max=2147483647):alarm_id>/call", methods=["POST"])
def call_about_alarm(alarm_id: int) -> Response:
    """Call the member a check-in alarm is about: any staff member, as
    anyone may act on an alarm (the on-call caseworker first of all)."""
    staff = viewer()
    alarm = db().get(CheckinAlarm, alarm_id)
    if alarm is None:
        abort(404)
    _place(
        staff_calls.CallRequest(
            staff.id, alarm.member_id, CallReason.CHECKIN, allowed=True, checkin_id=alarm.checkin_id
        )
    )
    return redirect(url_for("staff.alarm_page", alarm_id=alarm.id), 303)


@bp.route("/members/<int(max=2147483647):member_id>/call", methods=["POST"])
def call_member(member_id: int) -> Response:
    """Call a member from their page (admins, who alone see member pages)."""
    staff = require_admin()
    if db().get(Member, member_id) is None:
        abort(404)
    _place(staff_calls.CallRequest(staff.id, member_id, CallReason.OTHER, allowed=True))
    return redirect(url_for("staff.member_page", member_id=member_id), 303)


@bp.route("/members/<int(max=2147483647):member_id>/scheme-calls", methods=["POST"])
def member_scheme_calls(member_id: int) -> Response:
    """Record the member's wish about calls from the scheme (asked by phone, say)."""
    require_admin()
    member = db().get(Member, member_id)
    if member is None:
        abort(404)
    if member.status != MemberStatus.ACTIVE:
        abort(409)
    form = SchemeCallsForm()
    if not form.validate():
        abort(400)
    member.scheme_calls = form.allow.data == "yes"
    audit("member.scheme_calls", "member", member.id, f"allowed={'yes' if member.scheme_calls else 'no'}")
    db().commit()
    flash(
        "The scheme may call this member." if member.scheme_calls else "The scheme will not call this member."
    )
    return redirect(url_for("staff.member_page", member_id=member.id), 303)


# --- call-back requests ---------------------------------------------------------------


@bp.route("/callbacks")
def callbacks_page() -> str:
    """Members who asked to be called back: working name and when, oldest first."""
    viewer()
    return render_template("staff/callbacks.html", tasks=callback_requests.open_tasks(db()))


def _task_or_404(request_id: int) -> callback_requests.Task:
    task = callback_requests.task(db(), request_id)
    if task is None:
        abort(404)
    return task


@bp.route("/callbacks/<int(max=2147483647):request_id>/call", methods=["POST"])
def callback_call(request_id: int) -> Response:
    """Call back a member who asked: any caseworker may (the member asked for it)."""
    staff = viewer()
    task = _task_or_404(request_id)
    _place(staff_calls.CallRequest(staff.id, task.member_id, CallReason.CALLBACK, allowed=True))
    return redirect(url_for("staff.callbacks_page"), 303)


@bp.route("/callbacks/<int(max=2147483647):request_id>/close", methods=["POST"])
def callback_close(request_id: int) -> Response:
    """Close a call-back task by hand (the member was reached another way …)."""
    staff = viewer()
    task = _task_or_404(request_id)
    callback_requests.close(db(), task.id, staff.id, utcnow())
    audit("callback.close", "member", task.member_id, f"request={task.id}")
    db().commit()
    flash("Call-back request closed.")
    return redirect(url_for("staff.callbacks_page"), 303)
