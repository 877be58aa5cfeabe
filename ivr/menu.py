"""Voice webhooks of the member menu: options, masked calls, blocking,
warnings, incident reports and cancellation. Thin views over ``callflows``.

The member reaches the menu through a members' access line (``ivr.access``):
their Safety Number, its PIN and their registered phone together create the
``calls`` row (direction "menu") for their CallSid, and every step here
requires that row. Anything else gets the same neutral "not available".
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence

from flask import Blueprint, Response, request
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.datastructures import MultiDict

from callflows import menu as flow
from callflows import prompts
from callflows import report as report_flow
from callflows.languages import language_of_key
from callflows.speech import Speaker, Utterance, speaker_for
from callflows.status import Category
from core.services import recording_store
from ivr import requestdb
from ivr.services import current_services
from ivr.webhook import external_url, form_count, never_fails, require_twilio_signature, twilio_form, twiml
from storage import callback_requests, masked_minutes
from storage import menu_repository as menus
from storage import repositories as repo
from storage.models import Report, utcnow

log = logging.getLogger(__name__)

bp = Blueprint("menu", __name__, url_prefix="/voice/menu")
bp.before_request(require_twilio_signature)

# What a database that cannot be reached raises: no connection, or none free.
DATABASE_UNREACHABLE = (OperationalError, PoolTimeout)
# Ids are 32-bit integer primary keys (PostgreSQL ``integer``): anything above
# this names no row, and comparing it with the column would be a DataError.
MAX_ROW_ID = 2**31 - 1


def _timeout() -> int:
    return current_services().settings.gather_timeout_seconds


def _speaker(auth: menus.MenuCall) -> Speaker:
    """Past the PIN, everything is said in the member's own language."""
    return speaker_for(auth.member.language)


def _menu(auth: menus.MenuCall, before: Sequence[Utterance] = (), *, retry: bool = False) -> VoiceResponse:
    action = external_url("menu.options", retry=1) if retry else external_url("menu.options")
    return flow.main_menu(_speaker(auth), action, _timeout(), before)


def menu_reply(auth: menus.MenuCall, before: Sequence[Utterance] = ()) -> VoiceResponse:
    """Say ``before``, then offer the menu again (for steps in other modules)."""
    return _menu(auth, before)


def member_speaker(auth: menus.MenuCall) -> Speaker:
    """The member's own language (for steps in other modules)."""
    return _speaker(auth)


MenuStep = Callable[[Session, menus.MenuCall, MultiDict[str, str]], VoiceResponse]


def menu_step(view: MenuStep) -> Callable[[], Response]:
    """A step after the PIN: the view gets the session, the authenticated
    call and the form, and returns its TwiML. A request whose CallSid did not
    pass the PIN gets the neutral "not available"; nothing fails with a 5xx."""

    @functools.wraps(view)
    @never_fails
    def step() -> Response:
        session = requestdb.session()
        auth = menus.menu_call(session, twilio_form().get("CallSid", ""))
        if auth is None:
            return twiml(flow.not_available())
        return twiml(view(session, auth, twilio_form()))

    return step


# --- the options -----------------------------------------------------------------

Handler = Callable[[Session, menus.MenuCall], VoiceResponse]


def _start_masked_call(session: Session, auth: menus.MenuCall) -> VoiceResponse:
    if _time_limit(session, auth) is None:
        return _menu(auth, [prompts.DAILY_LIMIT])
    return flow.ask_destination(_speaker(auth), external_url("menu.destination"), _timeout())


def _start_report(session: Session, auth: menus.MenuCall) -> VoiceResponse:
    report = menus.open_report(session, auth.call.call_sid, auth.member.id)
    if report.caller_index:
        current_services().queue.enqueue_with(
            session, "refresh_signals", "report", report.id, key=f"signals:report:{report.id}"
        )
    session.commit()
    return _record(_speaker(auth), report)


def _record(speaker: Speaker, report: Report) -> VoiceResponse:
    """The ``<Record>`` of ``report``, first time or again after silence."""
    settings = current_services().settings
    urls = report_flow.ReportUrls(
        recorded=external_url("menu.consent", report=report.id),
        recording_status=external_url("menu.recording", report=report.id),
        try_again=external_url("menu.report_again", report=report.id),
    )
    return report_flow.record_report(
        urls,
        speaker=speaker,
        max_seconds=settings.record_max_seconds,
        silence_seconds=settings.report_silence_timeout_seconds,
        gather_timeout=settings.gather_timeout_seconds,
    )


def _block_last_caller(session: Session, auth: menus.MenuCall) -> VoiceResponse:
    last = menus.last_inbound_call(session, auth.member.id, with_number=True)
    if last is None or last.other_party_index is None:
        return _menu(auth, [prompts.NO_CALLER_TO_BLOCK])
    block = repo.block_caller(session, auth.member.id, last.other_party_index, last.other_party_last3)
    current_services().queue.enqueue_with(session, "refresh_signals", "block", block.id)
    session.commit()
    return _menu(auth, [flow.caller_blocked(last.other_party_last3 or "")])


def _read_warnings(session: Session, auth: menus.MenuCall) -> VoiceResponse:
    found = repo.recent_warnings(session)
    translated = repo.summary_translations(session, [w.id for w in found], auth.member.language)
    warnings = [flow.SpokenWarning(Category(w.category), w.summary, translated.get(w.id)) for w in found]
    return _menu(auth, flow.warnings_read_out(_speaker(auth), warnings))


def _ask_cancel(session: Session, auth: menus.MenuCall) -> VoiceResponse:
    return flow.ask_cancel_confirmation(_speaker(auth), external_url("menu.cancel"), _timeout())


def _ask_language(session: Session, auth: menus.MenuCall) -> VoiceResponse:
    return flow.ask_language(_speaker(auth), external_url("menu.choose_language"), _timeout())


def _scheme_calls(session: Session, auth: menus.MenuCall) -> VoiceResponse:
    """Calls from the scheme: 1 asks for a call back, 2 stops (or allows) them."""
    choices = prompts.SCHEME_CHOICES if auth.member.scheme_calls else prompts.SCHEME_CHOICES_WHILE_OFF
    return flow.ask_one_key(_speaker(auth), external_url("menu.scheme_calls"), _timeout(), [choices])


def _wrong_key(session: Session, auth: menus.MenuCall) -> VoiceResponse:
    return _menu(auth, [prompts.NOT_AN_OPTION])


OPTIONS: dict[str, Handler] = {
    "1": _start_masked_call,
    "2": _start_report,
    "3": _block_last_caller,
    "4": _read_warnings,
    "8": _ask_language,
    "9": _ask_cancel,
    "0": _scheme_calls,
}


@bp.post("/options")
@menu_step
def options(session: Session, auth: menus.MenuCall, form: MultiDict[str, str]) -> VoiceResponse:
    """The member's choice from the menu. Silence repeats the menu once, then hangs up."""
    digits = form.get("Digits", "")
    if digits:
        return OPTIONS.get(digits, _wrong_key)(session, auth)
    if request.args.get("retry") == "1":
        return flow.goodbye(_speaker(auth), prompts.NO_CHOICE)
    return _menu(auth, retry=True)


@bp.post("/language")
@menu_step
def choose_language(session: Session, auth: menus.MenuCall, form: MultiDict[str, str]) -> VoiceResponse:
    """Key after the language offers: keep the language it picks and confirm in
    it; any other key (or none) changes nothing and goes back to the menu."""
    chosen = language_of_key(form.get("Digits", ""))
    if chosen is None:
        return _menu(auth)
    auth.member.language = chosen.code
    session.commit()
    log.info("member %d chose another language", auth.member.id)
    return _menu(auth, [prompts.LANGUAGE_CHOSEN])


@bp.post("/scheme-calls")
@menu_step
def scheme_calls(session: Session, auth: menus.MenuCall, form: MultiDict[str, str]) -> VoiceResponse:
    """Key after "calls from the scheme": 1 opens a call-back request (one at
    a time per member, only while calls are allowed); 2 turns calls off,
    closing any request, or on again; anything else goes back to the menu."""
    member, key, now = auth.member, form.get("Digits", ""), utcnow()
    if key == "1" and member.scheme_calls:
        asked = callback_requests.ask(session, member.id, now)
        session.commit()
        return _menu(auth, [prompts.CALLBACK_ASKED if asked else prompts.CALLBACK_ALREADY])
    if key != "2":
        return _menu(auth)
    member.scheme_calls = not member.scheme_calls
    if not member.scheme_calls:
        callback_requests.close_unwanted(session, member.id, now)
    allowed = "yes" if member.scheme_calls else "no"
    repo.audit(
        session,
        "member.scheme_calls",
        target_type="member",
        target_id=member.id,
        detail=f"allowed={allowed} (menu)",
    )
    session.commit()
    return _menu(auth, [prompts.SCHEME_CALLS_ON if member.scheme_calls else prompts.SCHEME_CALLS_OFF])


@bp.post("/cancel")
@menu_step
def cancel(session: Session, auth: menus.MenuCall, form: MultiDict[str, str]) -> VoiceResponse:
    """Second key of "cancel membership": only 9 again cancels."""
    if form.get("Digits", "") != "9":
        return _menu(auth, [prompts.NOT_CANCELLED])
    repo.cancel_member(session, auth.member, recording_store(current_services()))
    # Their calls, blocks and reports no longer count towards risk signals.
    current_services().queue.enqueue_with(session, "compute_signals")
    session.commit()
    log.info("member %d cancelled their membership from the menu", auth.member.id)
    return flow.goodbye(_speaker(auth), prompts.CANCELLED)


# --- masked calls -------------------------------------------------------------------


def _caps() -> flow.MaskedCallCaps:
    settings = current_services().settings
    return flow.MaskedCallCaps(
        settings.outbound_daily_calls, settings.outbound_daily_minutes, settings.outbound_time_limit_seconds
    )


def _time_limit(session: Session, auth: menus.MenuCall) -> int | None:
    """What the next masked call could reserve now; None once today's cap is
    reached. Only a hint for the menu: ``destination`` reserves under a lock."""
    return _caps().time_limit(masked_minutes.usage_today(session, auth.member.id, utcnow()))


@bp.post("/destination")
@menu_step
def destination(session: Session, auth: menus.MenuCall, form: MultiDict[str, str]) -> VoiceResponse:
    """Check the keyed number against the policy, reserve its minutes from
    today's caps, then dial it masked with what was reserved as ``timeLimit``."""
    keyed = form.get("Digits", "")
    if not keyed:
        return _menu(auth, [prompts.NO_DESTINATION])
    if auth.call.reserved_at is not None:
        # One masked call per call in: after its Dial Twilio goes to
        # masked-result, never back here, so this is a replay. Dial nothing.
        return flow.goodbye(_speaker(auth), prompts.CALL_ENDED)
    verdict = current_services().settings.destination_policy.check(keyed)
    if verdict.e164 is None:
        return flow.refuse_destination(
            verdict, speaker=_speaker(auth), retry=external_url("menu.destination"), timeout=_timeout()
        )
    time_limit = masked_minutes.reserve(session, auth.call, _caps(), utcnow())
    if time_limit is None:
        session.rollback()
        return _menu(auth, [prompts.DAILY_LIMIT])
    menus.mark_masked(auth.call, current_services().vault.protect(verdict.e164))
    session.commit()  # the reservation, and the member's lock released
    return flow.masked_dial(
        safety_number=auth.line.e164,
        destination=verdict.e164,
        time_limit=time_limit,
        action=external_url("menu.masked_result"),
        status_callback=external_url("voice.status"),
    )


@bp.post("/masked-result")
@menu_step
def masked_result(session: Session, auth: menus.MenuCall, form: MultiDict[str, str]) -> VoiceResponse:
    """``<Dial>`` action of a masked call: settle its reserved minutes from
    what it really lasted (``DialCallDuration``), say goodbye."""
    spent = flow.seconds_spent(form.get("DialCallStatus", ""), form_count(form.get("DialCallDuration")))
    if spent is not None:
        masked_minutes.settle(session, auth.call.call_sid, spent)
        session.commit()
    return flow.goodbye(_speaker(auth), prompts.CALL_ENDED)


# --- incident reports --------------------------------------------------------------


def _report_id_in_url() -> int | None:
    """The report id in the URL, if any report could have it."""
    report_id = request.args.get("report", type=int)
    if report_id is None or not 0 < report_id <= MAX_ROW_ID:
        return None  # not worth a query (nor a DataError)
    return report_id


def _report_of_this_call(session: Session) -> Report | None:
    """The report named in the URL, if it belongs to this request's CallSid."""
    report_id = _report_id_in_url()
    if report_id is None:
        return None
    return menus.report_of_call(session, report_id, twilio_form().get("CallSid", ""))


ReportStep = Callable[[Session, Report, Speaker, MultiDict[str, str]], VoiceResponse]


def report_step(view: ReportStep) -> Callable[[], Response]:
    """A :func:`menu_step` about the report named in the URL, which must be
    this call's own report; any other gets the neutral "not available"."""

    @functools.wraps(view)
    def with_report(session: Session, auth: menus.MenuCall, form: MultiDict[str, str]) -> VoiceResponse:
        report = _report_of_this_call(session)
        return flow.not_available() if report is None else view(session, report, _speaker(auth), form)

    return menu_step(with_report)


@bp.post("/report-again")
@report_step
def report_again(
    session: Session, report: Report, speaker: Speaker, form: MultiDict[str, str]
) -> VoiceResponse:
    """Key after a silent ``<Record>``: 1 records the same report again; anything else ends the call."""
    if report_flow.wants_to_try_again(form.get("Digits", "")):
        return _record(speaker, report)
    return report_flow.no_report(speaker)


@bp.post("/consent")
@report_step
def consent(session: Session, report: Report, speaker: Speaker, form: MultiDict[str, str]) -> VoiceResponse:
    """``<Record>`` action: ask whether an anonymous version may go to the police."""
    return report_flow.ask_consent(speaker, external_url("menu.consent_answer", report=report.id), _timeout())


@bp.post("/consent-answer")
@report_step
def consent_answer(
    session: Session, report: Report, speaker: Speaker, form: MultiDict[str, str]
) -> VoiceResponse:
    """Store the police-consent answer (only 1 is yes; silence is no) and thank the member."""
    report.police_consent = report_flow.consent_given(form.get("Digits", ""))
    session.commit()
    return report_flow.report_received(speaker)


@bp.post("/recording")
@never_fails
def recording() -> Response:
    """Recording-status callback: attach the recording to its report once and
    write the ingestion (or hand-off) event in the same transaction, before
    answering (storage/menu_repository.py says which). A replayed callback
    answers 200 and does nothing new. Only the RecordingSid is kept; the
    RecordingUrl is never stored, logged or queued.

    Nothing recorded ("absent": the member was silent, and is being offered
    another try) or Twilio failing is shown on the report, which goes to a
    caseworker: the member called to report something. A recording made on
    a second try still attaches to this report.
    """
    form = twilio_form()
    report_id = _report_id_in_url()
    if report_id is None:
        return twiml(VoiceResponse())
    callback = (
        report_id,
        form.get("CallSid", "")[:64],
        form.get("RecordingSid", "")[:64],
        form.get("RecordingStatus", "")[:20],
    )
    queue = current_services().queue
    try:
        session = requestdb.session()
        follow_up = menus.accept_recording_status(session, *callback)
        if follow_up is not None:
            queue.enqueue_with(session, follow_up.job, *follow_up.args, key=follow_up.key)
        session.commit()
    except DATABASE_UNREACHABLE as exc:
        # The callback itself is kept (in Redis, with its ids) and accepted
        # when PostgreSQL is back: Twilio will not send it again.
        log.warning(
            "database unavailable (%s); recording callback for report %d kept", type(exc).__name__, report_id
        )
        queue.enqueue(
            "recording_callback",
            *callback,
            key=f"recording-callback:{callback[2] or report_id}:{callback[3]}",
        )
    return twiml(VoiceResponse())
