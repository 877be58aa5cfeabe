"""Voice webhooks of the member menu: PIN, options, masked calls, blocking,
warnings, incident reports and cancellation. Thin views over ``callflows``.

The member reaches ``menu.start`` by a ``<Redirect>`` from ``/voice/incoming``
when they call their own Safety Number from their registered phone. Caller ID
can be spoofed, so the PIN is what lets them in: a correct PIN creates the
``calls`` row (direction "menu") for their CallSid, and every later step
requires that row. Anything else gets the same neutral "not available".
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from callflows import menu as flow
from callflows import report as report_flow
from callflows.destinations import DestinationPolicy, Refusal
from callflows.errors import SafetyNumberError
from callflows.phone import caller_from, normalise
from callflows.status import LineStatus, MemberStatus
from ivr import requestdb
from ivr.twilio_guard import require_twilio_signature, twilio_form
from ivr.twiml import external_url, never_fails, twiml
from storage import menu_repository as menus
from storage import repositories as repo
from storage.hashing import verify_secret
from storage.models import Member, Report, SafetyNumber, utcnow
from worker.services import Services

log = logging.getLogger(__name__)

bp = Blueprint("menu", __name__, url_prefix="/voice/menu")
bp.before_request(require_twilio_signature)

RECORDING_COMPLETED = "completed"
RECORDING_LOST = frozenset({"failed", "absent"})
# Ids are 32-bit integer primary keys (PostgreSQL ``integer``): anything above
# this names no row, and comparing it with the column would be a DataError.
MAX_ROW_ID = 2**31 - 1
# create_app({"DESTINATION_POLICY": DestinationPolicy(...)}) replaces the default table.
POLICY_SETTING = "DESTINATION_POLICY"


def _services() -> Services:
    services: Services = current_app.extensions["safety"]
    return services


def _timeout() -> int:
    return _services().settings.gather_timeout_seconds


def _member_on_own_line(session: Session) -> tuple[Member, SafetyNumber] | None:
    """The line (from ``To``) and its active member, if ``From`` is that member's phone.

    Blind indexes are compared, never numbers; every mismatch is just None.
    """
    services = _services()
    form = twilio_form()
    region = services.settings.default_region
    try:
        line_e164 = normalise(form.get("To"), region)
    except SafetyNumberError:
        return None
    line = repo.line_by_number(session, line_e164)
    if line is None or line.status != LineStatus.ASSIGNED or line.member is None:
        return None
    member = line.member
    caller = caller_from(form.get("From"), region)
    if member.status != MemberStatus.ACTIVE or not member.phone_index or caller.e164 is None:
        return None
    if not hmac.compare_digest(services.vault.index(caller.e164), member.phone_index):
        return None
    return member, line


def _menu_call(session: Session) -> menus.MenuCall | None:
    """The call of this request, if it passed the PIN."""
    return menus.menu_call(session, twilio_form().get("CallSid", ""))


def _menu(before: tuple[str, ...] | list[str] = (), *, retry: bool = False) -> VoiceResponse:
    action = external_url("menu.options", retry=1) if retry else external_url("menu.options")
    return flow.main_menu(action, _timeout(), before)


# --- PIN -------------------------------------------------------------------


@bp.post("/start")
@never_fails
def start() -> Response:
    """Entry from ``/voice/incoming``: ask the member for their PIN (unless locked)."""
    session = requestdb.session()
    found = _member_on_own_line(session)
    if found is None:
        return twiml(flow.not_available())
    member, _line = found
    if menus.is_locked(member, utcnow()):
        return twiml(flow.menu_locked())
    return twiml(flow.ask_pin(external_url("menu.pin"), _timeout()))


@bp.post("/pin")
@never_fails
def pin() -> Response:
    """Check the PIN. Right: open the menu. Wrong: ask again, or lock and alert staff."""
    services = _services()
    settings = services.settings
    session = requestdb.session()
    call_sid = twilio_form().get("CallSid", "")
    found = _member_on_own_line(session)
    if found is None or not call_sid:
        return twiml(flow.not_available())
    unlocked, line = found
    member = menus.member_for_update(session, unlocked.id)
    now = utcnow()
    if member is None or menus.is_locked(member, now):
        return twiml(flow.menu_locked())
    digits = twilio_form().get("Digits", "")
    if not digits:
        return twiml(flow.ask_pin(external_url("menu.pin"), _timeout()))
    if verify_secret(member.pin_hash, digits):
        menus.record_pin_success(member)
        menus.open_menu_call(session, call_sid, member.id, line.id)
        session.commit()
        return twiml(_menu())
    locked = menus.record_pin_failure(member, now, settings.pin_max_attempts, settings.pin_lockout_minutes)
    session.commit()
    if locked:
        log.warning(
            "member menu locked after %d wrong PINs (member %d)", settings.pin_max_attempts, member.id
        )
        services.queue.enqueue("pin_lockout_alert", member.id)
        return twiml(flow.menu_locked())
    return twiml(flow.ask_pin(external_url("menu.pin"), _timeout(), wrong=True))


# --- the options -----------------------------------------------------------------

Handler = Callable[[Session, menus.MenuCall], VoiceResponse]


def _start_masked_call(session: Session, auth: menus.MenuCall) -> VoiceResponse:
    if _seconds_left_today(session, auth) is None:
        return _menu([flow.DAILY_LIMIT])
    return flow.ask_destination(external_url("menu.destination"), _timeout())


def _start_report(session: Session, auth: menus.MenuCall) -> VoiceResponse:
    report = menus.open_report(session, auth.call.call_sid, auth.member.id)
    session.commit()
    return report_flow.record_report(
        max_seconds=_services().settings.record_max_seconds,
        action=external_url("menu.consent", report=report.id),
        status_callback=external_url("menu.recording", report=report.id),
    )


def _block_last_caller(session: Session, auth: menus.MenuCall) -> VoiceResponse:
    last = menus.last_inbound_call(session, auth.member.id, with_number=True)
    if last is None or last.other_party_index is None:
        return _menu([flow.NO_CALLER_TO_BLOCK])
    repo.block_caller(session, auth.member.id, last.other_party_index, last.other_party_last3)
    session.commit()
    return _menu([flow.caller_blocked(last.other_party_last3 or "")])


def _read_warnings(session: Session, auth: menus.MenuCall) -> VoiceResponse:
    warnings = [flow.SpokenWarning(w.category, w.summary) for w in repo.recent_warnings(session)]
    return _menu(flow.warnings_read_out(warnings))


def _ask_cancel(session: Session, auth: menus.MenuCall) -> VoiceResponse:
    return flow.ask_cancel_confirmation(external_url("menu.cancel"), _timeout())


def _wrong_key(session: Session, auth: menus.MenuCall) -> VoiceResponse:
    return _menu([flow.NOT_AN_OPTION])


OPTIONS: dict[str, Handler] = {
    "1": _start_masked_call,
    "2": _start_report,
    "3": _block_last_caller,
    "4": _read_warnings,
    "9": _ask_cancel,
}


@bp.post("/options")
@never_fails
def options() -> Response:
    """The member's choice from the menu. Silence repeats the menu once, then hangs up."""
    session = requestdb.session()
    auth = _menu_call(session)
    if auth is None:
        return twiml(flow.not_available())
    digits = twilio_form().get("Digits", "")
    if not digits:
        if request.args.get("retry") == "1":
            return twiml(flow.goodbye(flow.NO_CHOICE))
        return twiml(_menu(retry=True))
    return twiml(OPTIONS.get(digits, _wrong_key)(session, auth))


@bp.post("/cancel")
@never_fails
def cancel() -> Response:
    """Second key of "cancel membership": only 9 again cancels."""
    session = requestdb.session()
    auth = _menu_call(session)
    if auth is None:
        return twiml(flow.not_available())
    if twilio_form().get("Digits", "") != "9":
        return twiml(_menu([flow.NOT_CANCELLED]))
    repo.cancel_member(session, auth.member)
    session.commit()
    log.info("member %d cancelled their membership from the menu", auth.member.id)
    return twiml(flow.goodbye(flow.CANCELLED))


# --- masked calls -------------------------------------------------------------------


def _policy() -> DestinationPolicy:
    settings = _services().settings
    configured = settings.extra.get(POLICY_SETTING)
    if isinstance(configured, DestinationPolicy):
        return configured
    return DestinationPolicy(region=settings.default_region)


def _seconds_left_today(session: Session, auth: menus.MenuCall) -> int | None:
    """None when the daily cap is reached, else the seconds still available today.

    Counted from today's masked-call rows: a stolen PIN cannot run up more
    than the cap of calls or minutes in a day (toll fraud).
    """
    settings = _services().settings
    usage = menus.masked_usage_today(session, auth.member.id, utcnow())
    remaining = settings.outbound_daily_minutes * 60 - usage.seconds
    if usage.calls >= settings.outbound_daily_calls or remaining <= 0:
        return None
    return remaining


@bp.post("/destination")
@never_fails
def destination() -> Response:
    """Check the keyed number against the policy and the daily cap, then dial it masked."""
    services = _services()
    session = requestdb.session()
    auth = _menu_call(session)
    if auth is None:
        return twiml(flow.not_available())
    keyed = twilio_form().get("Digits", "")
    if not keyed:
        return twiml(_menu([flow.NO_DESTINATION]))
    remaining = _seconds_left_today(session, auth)
    if remaining is None:
        return twiml(_menu([flow.DAILY_LIMIT]))
    verdict = _policy().check(keyed)
    if verdict.e164 is None:
        if verdict.refusal == Refusal.EMERGENCY:
            # End the call so the member can dial the emergency number at once.
            return twiml(flow.goodbye(verdict.reason))
        return twiml(flow.ask_destination(external_url("menu.destination"), _timeout(), [verdict.reason]))
    menus.mark_masked(auth.call, services.vault.protect(verdict.e164))
    session.commit()
    return twiml(
        flow.masked_dial(
            safety_number=auth.line.e164,
            destination=verdict.e164,
            time_limit=min(services.settings.outbound_time_limit_seconds, remaining),
            action=external_url("menu.masked_result"),
            status_callback=external_url("voice.status"),
        )
    )


@bp.post("/masked-result")
@never_fails
def masked_result() -> Response:
    """``<Dial>`` action of a masked call: keep its duration (for the daily cap), say goodbye."""
    session = requestdb.session()
    auth = _menu_call(session)
    if auth is None:
        return twiml(flow.not_available())
    duration = twilio_form().get("DialCallDuration", "")
    if duration.isdigit():
        auth.call.duration_seconds = int(duration)
        session.commit()
    return twiml(flow.goodbye(flow.CALL_ENDED))


# --- incident reports --------------------------------------------------------------


def _report_of_this_call(session: Session) -> Report | None:
    """The report named in the URL, if it belongs to this request's CallSid."""
    report_id = request.args.get("report", type=int)
    if report_id is None or not 0 < report_id <= MAX_ROW_ID:
        return None  # no report could have this id: not worth a query (nor a DataError)
    return menus.report_of_call(session, report_id, twilio_form().get("CallSid", ""))


@bp.post("/consent")
@never_fails
def consent() -> Response:
    """``<Record>`` action: ask whether an anonymous version may go to the police."""
    session = requestdb.session()
    report = _report_of_this_call(session)
    if _menu_call(session) is None or report is None:
        return twiml(flow.not_available())
    action = external_url("menu.consent_answer", report=report.id)
    return twiml(report_flow.ask_consent(action, _timeout()))


@bp.post("/consent-answer")
@never_fails
def consent_answer() -> Response:
    """Store the police-consent answer (only 1 is yes; silence is no) and thank the member."""
    session = requestdb.session()
    report = _report_of_this_call(session)
    if _menu_call(session) is None or report is None:
        return twiml(flow.not_available())
    report.police_consent = report_flow.consent_given(twilio_form().get("Digits", ""))
    session.commit()
    return twiml(report_flow.report_received())


@bp.post("/recording")
@never_fails
def recording() -> Response:
    """Recording-status callback: attach the recording to its report once, then
    queue its ingestion. A replayed callback answers 200 and does nothing new.
    Only the RecordingSid is kept; the RecordingUrl is never stored, logged or queued.
    """
    session = requestdb.session()
    form = twilio_form()
    report = _report_of_this_call(session)
    recording_sid = form.get("RecordingSid", "")
    status = form.get("RecordingStatus", "")
    if report is None:
        return twiml(VoiceResponse())
    report_id = report.id
    if status in RECORDING_LOST:
        # Nothing was recorded (or Twilio failed): show it rather than wait
        # forever, and still hand the report to a caseworker: the member
        # called to report something, and someone should follow it up.
        lost = menus.mark_recording_lost(session, report_id, status)
        session.commit()
        if lost:
            _services().queue.enqueue("assign_report", report_id)
        return twiml(VoiceResponse())
    if status != RECORDING_COMPLETED or not recording_sid:
        return twiml(VoiceResponse())
    try:
        claimed = menus.claim_recording(session, report_id, recording_sid)
        session.commit()
    except IntegrityError:
        # The same recording already belongs to another report: nothing new.
        session.rollback()
        log.warning("recording callback for report %d carried a recording of another report", report_id)
        return twiml(VoiceResponse())
    if claimed:
        _services().queue.enqueue("ingest_recording", report_id, recording_sid)
    return twiml(VoiceResponse())
