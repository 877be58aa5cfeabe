"""Voice webhooks of a masked call from the console (``callflows.staff_call``):
the caseworker answers, presses 1, the member is rung and presses 1.

Every URL carries the call's id (``?staff_call=``) and nothing else; every
step is signature-checked like every Twilio webhook and moves the call on
only from the state before it and only for the CallSid of its caseworker
leg (``storage.staff_calls``), so a replayed request rings nobody again.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from flask import Blueprint, Response, request
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.datastructures import MultiDict

from callflows import prompts
from callflows import staff_call as flow
from callflows.inbound import was_bridged
from callflows.prompts import Message, Phrase
from callflows.speech import english_speaker, speaker_for
from callflows.status import TERMINAL_STATUSES, CallReason, StaffCallState
from ivr import requestdb
from ivr.provider_legs import forget_leg_at_twilio
from ivr.services import current_services
from ivr.webhook import external_url, never_fails, require_twilio_signature, twilio_form, twiml
from storage import staff_calls
from storage.ids import parse_id
from storage.models import Member, StaffCall, utcnow

log = logging.getLogger(__name__)

bp = Blueprint("staff_call", __name__, url_prefix="/voice/staff-call")
bp.before_request(require_twilio_signature)


def _call_id() -> int | None:
    return parse_id(request.args.get("staff_call", ""), 1)


Step = Callable[[Session, int, MultiDict[str, str]], VoiceResponse]


def staff_call_step(view: Step) -> Callable[[], Response]:
    """A step of one masked call: the view gets the session, the call's id
    and the verified form; a URL naming no call ends the leg politely."""

    @functools.wraps(view)
    @never_fails
    def step() -> Response:
        call_id = _call_id()
        if call_id is None:
            return twiml(_to_caseworker(prompts.STAFF_NO_LONGER_NEEDED))
        return twiml(view(requestdb.session(), call_id, twilio_form()))

    return step


def _urls(call_id: int) -> flow.StaffCallUrls:
    return flow.StaffCallUrls(
        confirm=external_url("staff_call.confirm", staff_call=call_id),
        dialled=external_url("staff_call.dialled", staff_call=call_id),
        member_whisper=external_url("staff_call.member_whisper", staff_call=call_id),
        member_status=external_url("staff_call.status", staff_call=call_id),
    )


def _to_caseworker(said: Message | Phrase) -> VoiceResponse:
    """Say it to the caseworker (in English, the console's language), then hang up."""
    return flow.goodbye(english_speaker(), said)


def _working_name(session: Session, call: StaffCall) -> str:
    member = session.get(Member, call.member_id)
    return (member.working_name if member is not None else None) or "the member"


@bp.post("/answer")
@staff_call_step
def answer(session: Session, call_id: int, form: MultiDict[str, str]) -> VoiceResponse:
    """The caseworker picked up: whom and why, then press 1."""
    call = staff_calls.answered(session, call_id, form.get("CallSid", "")[:64])
    if call is None:
        return _to_caseworker(prompts.STAFF_NO_LONGER_NEEDED)
    session.commit()
    return flow.whisper_to_caseworker(
        english_speaker(),
        _working_name(session, call),
        CallReason(call.reason),
        call.report_id,
        _urls(call_id).confirm,
        current_services().settings.gather_timeout_seconds,
    )


@bp.post("/confirm")
@staff_call_step
def confirm(session: Session, call_id: int, form: MultiDict[str, str]) -> VoiceResponse:
    """The caseworker's key: 1 dials the member showing the access line."""
    call_sid = form.get("CallSid", "")[:64]
    now = utcnow()
    if not flow.confirmed(form.get("Digits")):
        ended = staff_calls.end(
            session,
            call_id,
            flow.StaffCallOutcome.STAFF_NOT_CONFIRMED,
            now,
            call_sid=call_sid,
            only_if=StaffCallState.ANSWERED,
        )
        session.commit()
        return _to_caseworker(prompts.STAFF_NOT_PLACED if ended else prompts.STAFF_NO_LONGER_NEEDED)
    call = staff_calls.confirmed(session, call_id, call_sid)
    if call is None:
        return _to_caseworker(prompts.STAFF_NO_LONGER_NEEDED)
    member = session.get(Member, call.member_id)
    line = staff_calls.access_line(session)
    # Checked again now: the member may have cancelled or opted out since the click.
    if member is None or member.phone_encrypted is None or not member.scheme_calls or line is None:
        staff_calls.end(session, call_id, flow.StaffCallOutcome.NOT_CALLABLE, now, call_sid=call_sid)
        session.commit()
        return _to_caseworker(prompts.STAFF_NOT_PLACED)
    session.commit()
    settings = current_services().settings
    return flow.dial_member(
        english_speaker(),
        member_phone=current_services().vault.reveal(member.phone_encrypted),
        access_line=line,
        urls=_urls(call_id),
        timeout=settings.dial_timeout_seconds,
        time_limit=settings.outbound_time_limit_seconds,
    )


@bp.post("/member-whisper")
@staff_call_step
def member_whisper(session: Session, call_id: int, form: MultiDict[str, str]) -> VoiceResponse:
    """The member's leg, before bridging: "Safety Number call from the scheme", press 1."""
    call = staff_calls.dialling(session, call_id, form.get("ParentCallSid", "")[:64])
    member = session.get(Member, call.member_id) if call is not None else None
    if member is None:
        return flow.member_answer(accepted=False)
    return flow.whisper_to_member(
        speaker_for(member.language),
        external_url("staff_call.member_accept", staff_call=call_id),
        current_services().settings.gather_timeout_seconds,
    )


@bp.post("/member-accept")
@staff_call_step
def member_accept(session: Session, call_id: int, form: MultiDict[str, str]) -> VoiceResponse:
    """The member's key: 1 connects them (and closes their call-back request)."""
    accepted = flow.confirmed(form.get("Digits")) and staff_calls.connected(
        session,
        call_id,
        form.get("ParentCallSid", "")[:64],
        form.get("CallSid", "")[:64],
        utcnow(),
    )
    session.commit()
    return flow.member_answer(accepted=accepted)


@bp.post("/dialled")
@staff_call_step
def dialled(session: Session, call_id: int, form: MultiDict[str, str]) -> VoiceResponse:
    """The ``<Dial>`` action on the caseworker's leg: how the member's side ended."""
    call_sid = form.get("CallSid", "")[:64]
    call = staff_calls.call_of_leg(session, call_id, call_sid)
    if call is None:
        return _to_caseworker(prompts.STAFF_NO_LONGER_NEEDED)
    bridged = was_bridged(form.get("DialCallStatus"), form.get("DialBridged"))
    if bridged is None:
        # Twilio left DialBridged out: the member's key said whether they took it.
        bridged = call.state == StaffCallState.CONNECTED
    outcome = flow.dial_outcome(form.get("DialCallStatus"), bridged)
    duration = form.get("DialCallDuration", "")
    talk = (
        int(duration) if bridged and duration.isascii() and duration.isdigit() and len(duration) < 7 else None
    )
    staff_calls.end(
        session,
        call_id,
        outcome,
        utcnow(),
        call_sid=call_sid,
        talk_seconds=talk,
        member_call_sid=form.get("DialCallSid", "")[:64],
    )
    name = _working_name(session, call)
    session.commit()
    log.info("staff call %d: %s", call_id, outcome.value)
    return _to_caseworker(flow.after_dial(outcome, name))


@bp.post("/status")
@never_fails
def status() -> Response:
    """Status callbacks of both legs: a caseworker leg that ended before the
    member was reached says how; every leg's record is deleted at Twilio later."""
    form = twilio_form()
    call_id = _call_id()
    call_sid = form.get("CallSid", "")[:64]
    reported = form.get("CallStatus", "").strip().lower()
    if call_id is None or not call_sid or reported not in TERMINAL_STATUSES:
        return twiml(VoiceResponse())
    session = requestdb.session()
    if not form.get("ParentCallSid"):
        _caseworker_leg_ended(session, call_id, call_sid, reported)
    forget_leg_at_twilio(session)
    session.commit()
    return twiml(VoiceResponse())


def _caseworker_leg_ended(session: Session, call_id: int, call_sid: str, reported: str) -> None:
    call = staff_calls.call_of_leg(session, call_id, call_sid)
    if call is None or call.state == StaffCallState.ENDED:
        return
    answered = call.state not in (StaffCallState.QUEUED, StaffCallState.PLACING, StaffCallState.RINGING)
    member_dialled = call.state in (StaffCallState.DIALLING, StaffCallState.CONNECTED)
    if call.state == StaffCallState.CONNECTED:
        return  # the Dial action, which follows, knows how long they talked
    outcome = flow.staff_leg_outcome(reported, answered, member_dialled)
    if outcome is not None:
        staff_calls.end(session, call_id, outcome, utcnow(), call_sid=call_sid)
        session.commit()
