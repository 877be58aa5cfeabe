"""Check-in jobs: call members whose check-in is due, and raise the alarm.

"fire_due_checkins" is periodic (worker/schedule.py, every 30 s). The
schedule is the ``checkins`` table, not a queue: a killed worker or an
emptied Redis loses nothing, and each run acts on every check-in whose next
step has come. Each check-in is claimed under ``FOR UPDATE SKIP LOCKED`` and
its call marked as placed before Twilio is asked, so two workers never call
a member twice; a worker killed between the two leaves a call with no
CallSid, which the next run places again once its window has passed.

An alarm is raised in one transaction with its two events
(storage.checkins.alarm_follow_ups): "checkin_alarm_mail" tells the on-call
caseworkers (everyone active when nobody is on call) by email, and
"checkin_buddy_call" calls the member's buddy from their Safety Number. Each
is retried on its own, so a mail server that is down neither holds up nor
repeats the buddy's call; a lost doorbell is rung again by the events sweep.
The email carries no name or number, only a link.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callflows import checkin as flow
from callflows.checkin import Miss
from callflows.errors import TwilioUnavailable
from callflows.status import AlarmKind, CheckinState, MemberStatus
from core import services
from core.services import Services
from storage import checkins
from storage.models import Checkin, CheckinAlarm, Member, SafetyNumber
from storage.staff_accounts import on_call_emails
from worker.mail import send_mail, staff_link
from worker.twilio_adapter import adapter_for

log = logging.getLogger(__name__)

# Buddy-call states in which the buddy is (still) to be called: not yet,
# a run that died mid-call, or Twilio unreachable on the last try.
BUDDY_TO_CALL = ("pending", "calling", "failed")

ALARM_SUBJECT = "Safety Number: URGENT check-in alarm"
ALARM_WORDS = {
    AlarmKind.MISSED: "A member missed a check-in.",
    AlarmKind.DURESS: "A member keyed their duress PIN on a check-in call.",
    AlarmKind.UNREACHABLE: "A member's check-in call could not be placed (Twilio unreachable).",
}


def fire_due_checkins() -> None:
    """Job "fire_due_checkins" (periodic): act on every check-in whose next step has come."""
    svc = services.current()
    now = svc.settings.now()
    with svc.db.session() as session:
        due = checkins.due_checkin_ids(session, now)
    failed = 0
    for checkin_id in due:
        # One check-in that fails must not hold up the others' calls.
        try:
            _fire(svc, checkin_id, now)
        except Exception as exc:
            failed += 1
            log.error("check-in due-check: check-in %d failed with %s", checkin_id, type(exc).__name__)
    if failed:
        raise CheckinsFailed(f"{failed} check-in step(s) failed; the next run tries them again")


class CheckinsFailed(RuntimeError):
    """Some check-ins of a due-check run failed (each is logged); RQ retries the run."""


def _fire(svc: Services, checkin_id: int, now: datetime) -> None:
    """Place the check-in's next call, or count a call that never reported back."""
    with svc.db.session() as session:
        checkin = checkins.claim_due(session, checkin_id, now)
        if checkin is None:
            return  # another worker has it, or it was closed meanwhile
        if checkins.call_never_placed(checkin):
            checkins.forget_unplaced_call(checkin)  # its worker died before Twilio was asked
        elif checkin.state == CheckinState.CALLING:
            alarm = checkins.record_miss(session, checkin, Miss.NO_OUTCOME, now, svc.settings.checkin_policy)
            _leave_alarm_jobs(svc, session, alarm)
            return
        member = session.get_one(Member, checkin.member_id)
        line = session.scalars(select(SafetyNumber).where(SafetyNumber.member_id == member.id)).first()
        if member.status != MemberStatus.ACTIVE or line is None or not member.phone_encrypted:
            checkins.end_checkins(session, member.id, now, CheckinState.CANCELLED)
            return
        attempt = checkins.start_call(checkin, now, svc.settings.checkin_policy)
        phone, from_line = svc.vault.reveal(member.phone_encrypted), line.e164
    _place_checkin_call(svc, checkin_id, attempt, phone, from_line)


def _place_checkin_call(svc: Services, checkin_id: int, attempt: int, phone: str, line: str) -> None:
    """Ring the member from their Safety Number; Twilio down raises the alarm at once."""
    base = svc.settings.public_base_url
    try:
        call_sid = adapter_for(svc.settings).place_call(
            to=phone,
            from_=line,
            url=flow.call_url(base, flow.CALL_ANSWER_PATH, checkin=checkin_id, attempt=attempt),
            status_callback=flow.call_url(base, flow.CALL_STATUS_PATH, checkin=checkin_id, attempt=attempt),
            timeout=svc.settings.checkin_ring_seconds,
            detect_machine=True,
        )
    except TwilioUnavailable:
        log.error("check-in %d: Twilio unreachable, raising the alarm", checkin_id)
        _raise_unreachable(svc, checkin_id, attempt)
        return
    with svc.db.session() as session:
        checkins.keep_call_sid(session, checkin_id, attempt, call_sid)
    log.info("check-in %d: call %d placed", checkin_id, attempt)


def _raise_unreachable(svc: Services, checkin_id: int, attempt: int) -> None:
    now = svc.settings.now()
    with svc.db.session() as session:
        checkin = session.get(Checkin, checkin_id, with_for_update=True)
        if checkin is None or checkin.attempts != attempt or checkin.state != CheckinState.CALLING:
            return
        _leave_alarm_jobs(svc, session, checkins.raise_alarm(session, checkin, AlarmKind.UNREACHABLE, now))


def _leave_alarm_jobs(svc: Services, session: Session, alarm: CheckinAlarm | None) -> None:
    """The raised alarm's email and buddy call, written with it (rung on commit)."""
    if alarm is None:
        return
    for follow_up in checkins.alarm_follow_ups(alarm):
        svc.queue.enqueue_with(session, follow_up.job, *follow_up.args, key=follow_up.key)


@contextmanager
def _locked_alarm(svc: Services, alarm_id: int) -> Iterator[tuple[Session, CheckinAlarm | None]]:
    """A transaction holding the alarm's row locked: each step of an alarm
    (its email, its buddy call) is done once however many runners try."""
    with svc.db.session() as session:
        yield session, checkins.alarm_for_update(session, alarm_id)


def email_checkin_alarm(alarm_id: int) -> None:
    """Job "checkin_alarm_mail": email the on-call staff a link to the alarm.

    Sent before the alarm is marked: a failed send is retried (at worst the
    staff get it twice, never not at all)."""
    svc = services.current()
    with _locked_alarm(svc, int(alarm_id)) as (session, alarm):
        if alarm is None or alarm.staff_notified_at is not None:
            return
        send_mail(
            svc.settings,
            on_call_emails(session),
            ALARM_SUBJECT,
            f"{ALARM_WORDS[AlarmKind(alarm.kind)]}\n\n"
            "Open the alarm in the staff console now:\n"
            f"{staff_link(svc.settings, f'alarms/{alarm.id}')}\n",
        )
        alarm.staff_notified_at = svc.settings.now()


def call_checkin_buddy(alarm_id: int) -> None:
    """Job "checkin_buddy_call": call the buddy from the member's Safety
    Number with the message that names nobody.

    The call is marked "calling" before Twilio is asked. The event is held
    by one runner at a time, so a run that finds it still "calling" follows
    one that died before it learned the outcome: it calls again. A buddy
    called twice is better than a buddy never called."""
    svc = services.current()
    alarm_id = int(alarm_id)
    with _locked_alarm(svc, alarm_id) as (session, alarm):
        if alarm is None or alarm.buddy_call not in BUDDY_TO_CALL:
            return
        member = session.get_one(Member, alarm.member_id)
        line = session.scalars(select(SafetyNumber).where(SafetyNumber.member_id == member.id)).first()
        if not member.buddy_encrypted or line is None:
            alarm.buddy_call = "none"
            return
        alarm.buddy_call = "calling"
        call = (svc.vault.reveal(member.buddy_encrypted), line.e164)
    base = svc.settings.public_base_url
    try:
        call_sid = adapter_for(svc.settings).place_call(
            to=call[0],
            from_=call[1],
            url=flow.call_url(base, flow.BUDDY_ANSWER_PATH, alarm=alarm_id),
            status_callback=flow.call_url(base, flow.BUDDY_STATUS_PATH, alarm=alarm_id),
            timeout=svc.settings.checkin_ring_seconds,
            detect_machine=False,
        )
    except TwilioUnavailable:
        # Shown to staff on the alarm at once, and tried again by the
        # event's retries (the alarm's page says when it finally gave up).
        log.error("alarm %d: Twilio unreachable, the buddy could not be called yet", alarm_id)
        _mark_buddy_call(svc, alarm_id, "failed", None)
        raise
    _mark_buddy_call(svc, alarm_id, "called", call_sid)


def _mark_buddy_call(svc: Services, alarm_id: int, state: str, call_sid: str | None) -> None:
    with _locked_alarm(svc, alarm_id) as (_, alarm):
        if alarm is not None:
            alarm.buddy_call, alarm.buddy_call_sid = state, call_sid
