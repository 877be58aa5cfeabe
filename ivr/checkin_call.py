"""Voice webhooks of the calls a check-in places: the member's check-in call
(answer, PIN, status) and the buddy's call (message, status).

The worker places these calls (worker/checkins.py) with URLs that carry
opaque ids only: the check-in and the call's attempt number, or the alarm.
Each request must match the call the database says is ringing, under the
check-in's row lock, so a replayed or late request changes nothing.

The PIN and the duress PIN are both checked on every try (two Argon2
checks, whichever matches) and answered with the same bytes: whoever stands
next to the member hears "checked in" either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, Response, request
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from callflows import checkin as flow
from callflows.languages import language_or_english
from callflows.speech import Speaker, english_speaker, speaker_for
from callflows.status import TERMINAL_STATUSES, AlarmKind
from ivr import requestdb
from ivr.after_response import ring_after_response
from ivr.provider_legs import forget_leg_at_twilio
from ivr.services import current_services
from ivr.webhook import external_url, never_fails, require_twilio_signature, twilio_form, twiml
from storage import checkins
from storage.hashing import verify_secret
from storage.ids import parse_id
from storage.models import Checkin, CheckinAlarm, Member

bp = Blueprint("checkin_call", __name__, url_prefix="/voice/checkin")
bp.before_request(require_twilio_signature)

BUDDY_CALL_STATES = ("calling", "called")
# What a check-in's call is about: the check-in (the member's call) or an alarm (the buddy's).
Row = TypeVar("Row", Checkin, CheckinAlarm)


def _ids(*names: str) -> tuple[int, ...] | None:
    """The URL's ids (each an in-range row id), or None if any is missing or malformed."""
    values = tuple(parse_id(request.args.get(name, ""), 0) for name in names)
    return None if any(v is None for v in values) else values  # type: ignore[return-value]


def _calling(session: Session) -> Checkin | None:
    """The check-in whose call this request is about, locked; None for anything else."""
    ids = _ids("checkin", "attempt")
    if ids is None:
        return None
    return checkins.calling_checkin(session, ids[0], ids[1], twilio_form().get("CallSid", "")[:64])


def _member_speaker(session: Session, checkin: Checkin) -> Speaker:
    """The check-in call speaks the member's own language."""
    return speaker_for(session.get_one(Member, checkin.member_id).language)


def _pin_url(checkin: Checkin) -> str:
    return external_url("checkin_call.pin", checkin=checkin.id, attempt=checkin.attempts)


def _miss(session: Session, checkin: Checkin, miss: flow.Miss) -> None:
    """Count a missed call (retry later, or raise the alarm), commit, and alert."""
    settings = current_services().settings
    alarm = checkins.record_miss(session, checkin, miss, settings.now(), settings.checkin_policy)
    _commit_and_alert(session, alarm)


def _commit_and_alert(session: Session, alarm: CheckinAlarm | None) -> None:
    """Commit a raised alarm with its jobs' events, and ring for them only
    once the answer has gone out: the duress PIN's "checked in" must not wait
    for the email or the buddy's call (in embedded mode the ring runs them in
    this thread), or whoever stands by the member could hear the difference."""
    queue = current_services().queue
    follow_ups = checkins.alarm_follow_ups(alarm) if alarm is not None else []
    written = [queue.record_with(session, f.job, *f.args, key=f.key) for f in follow_ups]
    session.commit()
    ring_after_response([event_id for event_id in written if event_id is not None])


@bp.post("/answer")
@never_fails
def answer() -> Response:
    """The member's phone answered: an answering machine is hung up on (a
    missed call), a person is asked for their PIN."""
    session = requestdb.session()
    checkin = _calling(session)
    if checkin is None:
        return twiml(flow.hang_up())
    if twilio_form().get("AnsweredBy", "") in flow.MACHINE_ANSWERS:
        _miss(session, checkin, flow.Miss.MACHINE)
        return twiml(flow.hang_up())
    url, speaker = _pin_url(checkin), _member_speaker(session, checkin)
    session.commit()
    timeout = current_services().settings.gather_timeout_seconds
    return twiml(flow.ask_checkin_pin(speaker, url, timeout, first=True))


@bp.post("/pin")
@never_fails
def pin() -> Response:
    """The PIN keyed: the PIN checks in; the duress PIN says the same and
    raises the alarm; no key or too many wrong PINs is a missed call."""
    session = requestdb.session()
    checkin = _calling(session)
    if checkin is None:
        return twiml(flow.not_checked_in(english_speaker()))
    speaker = _member_speaker(session, checkin)
    digits = twilio_form().get("Digits", "")[:20]
    if not digits:
        _miss(session, checkin, flow.Miss.NO_KEY)
        return twiml(flow.not_checked_in(speaker))
    settings = current_services().settings
    member = session.get_one(Member, checkin.member_id)
    # Both checks every time: how long the answer takes says nothing.
    is_pin = verify_secret(member.pin_hash, digits)
    is_duress = verify_secret(member.duress_pin_hash, digits)
    if is_duress:
        _commit_and_alert(session, checkins.raise_alarm(session, checkin, AlarmKind.DURESS, settings.now()))
        return twiml(flow.checked_in(speaker))
    if is_pin:
        checkins.check_in(checkin, settings.now())
        session.commit()
        return twiml(flow.checked_in(speaker))
    checkin.pin_failures += 1
    if checkin.pin_failures >= settings.pin_max_attempts:
        _miss(session, checkin, flow.Miss.WRONG_PINS)
        return twiml(flow.not_checked_in(speaker))
    url = _pin_url(checkin)
    session.commit()
    return twiml(flow.ask_checkin_pin(speaker, url, settings.gather_timeout_seconds, first=False))


def _checkin_call_ended(session: Session, checkin: Checkin, reported: str) -> None:
    _miss(session, checkin, flow.MISS_BY_STATUS.get(reported, flow.Miss.FAILED))


def _final_status(
    find: Callable[[Session], Row | None], ended: Callable[[Session, Row, str], None]
) -> Response:
    """A status callback: once the call is over (a terminal CallStatus), Twilio's record of
    the leg is to be deleted and, if ``find`` finds the row the call is about, ``ended`` is
    given it and the status; Twilio gets an empty answer either way."""
    session = requestdb.session()
    reported = twilio_form().get("CallStatus", "").strip().lower()
    if reported in TERMINAL_STATUSES:
        forget_leg_at_twilio(session)
        row = find(session)
        if row is not None:
            ended(session, row, reported)
        session.commit()
    return twiml(VoiceResponse())


@bp.post("/status")
@never_fails
def status() -> Response:
    """The check-in call's final status: if it ended without a check-in, it
    was missed (no answer, busy, failed, or hung up before a PIN)."""
    return _final_status(_calling, _checkin_call_ended)


# --- the buddy's call -------------------------------------------------------------------


def _buddy_alarm(session: Session) -> CheckinAlarm | None:
    """The alarm whose buddy call this request is, or None."""
    ids = _ids("alarm")
    call_sid = twilio_form().get("CallSid", "")[:64]
    if ids is None or not call_sid:
        return None
    alarm = checkins.alarm_for_update(session, ids[0])
    if alarm is None or alarm.buddy_call_sid not in (None, call_sid):
        return None
    return alarm


@bp.post("/buddy")
@never_fails
def buddy() -> Response:
    """The buddy's call: a message that names nobody and no place; 1 repeats it."""
    session = requestdb.session()
    alarm = _buddy_alarm(session)
    if alarm is None or alarm.buddy_call not in BUDDY_CALL_STATES:
        return twiml(flow.hang_up())
    # The member's language, then English: the buddy may speak either.
    language = language_or_english(session.get_one(Member, alarm.member_id).language)
    digits = twilio_form().get("Digits")
    if digits is not None and digits != "1":
        return twiml(flow.buddy_goodbye(language))
    url = external_url("checkin_call.buddy", alarm=alarm.id)
    return twiml(flow.buddy_message(language, url, current_services().settings.gather_timeout_seconds))


def _buddy_call_ended(_: Session, alarm: CheckinAlarm, reported: str) -> None:
    alarm.buddy_call = "answered" if reported == "completed" else reported


@bp.post("/buddy-status")
@never_fails
def buddy_status() -> Response:
    """The buddy call's final status, shown to staff on the alarm."""
    return _final_status(_buddy_alarm, _buddy_call_ended)
