"""When a check-in runs out: the call to the member, the PIN and the duress
PIN, the retry, and the escalation to the buddy and the on-call staff.

On real PostgreSQL, with the embedded queue (jobs run as they are queued),
the fake Twilio receiving the calls the worker places, and a clock the test
moves by hand (no sleeps)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from redis import Redis
from sqlalchemy import delete, func, select

from callflows import checkin as flow
from callflows import prompts
from callflows.errors import TwilioUnavailable
from callflows.languages import language
from callflows.status import AlarmKind, CheckinState
from core.services import bound
from ivr.services import services_of
from simulator.fake_twilio import FakeTwilio, PlacedCall
from storage import checkin_setup, checkins
from storage.db import Database
from storage.models import Checkin, Event, Member, SafetyNumber, utcnow
from storage.vault import NumberVault
from tests.job_privacy import job_texts
from tests.staff.helpers import Clock
from tests.support import people
from tests.support.checkins import START, CheckinCalls
from tests.support.databases import committing_database
from tests.support.menu import jobs
from tests.support.people import LINE, MEMBER_PHONE, PIN, EnrolledMember
from tests.support.suite import SuiteConfig
from tests.support.twilio import TwilioClient, TwiML, said, twiml_of
from tests.worker_helpers import add_staff, as_worker, job_services
from worker.checkins import call_checkin_buddy, fire_due_checkins

BUDDY = "+447911123456"
DURESS = "7395"
MINUTE = 60


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def calls_on(
    make_app: Callable[..., Flask], clock: Clock, fake_twilio: FakeTwilio, db: Database, suite: SuiteConfig
) -> Callable[..., CheckinCalls]:
    """``calls_on(**config)``: check-in calls on an app on the test clock,
    configured with ``config``, that places its calls at the fake Twilio
    (unless ``config`` names another Twilio)."""
    fake_twilio.add_number(LINE)  # Twilio places calls only from the account's own numbers

    def make(**config: Any) -> CheckinCalls:
        app = make_app(**{"clock": clock, "TWILIO_API_BASE_URL": fake_twilio.base_url, **config})
        return CheckinCalls(app, TwilioClient(app.test_client(), suite), fake_twilio, db, clock)

    return make


@pytest.fixture
def calls(calls_on: Callable[..., CheckinCalls]) -> CheckinCalls:
    """The embedded queue: jobs run as they are queued."""
    return calls_on(REDIS_URL=None)


@pytest.fixture
def ready(member: EnrolledMember, db: Database, vault: NumberVault) -> EnrolledMember:
    """The standard member with a duress PIN and a buddy."""
    with db.session() as s:
        row = s.get_one(Member, member.id)
        checkin_setup.set_duress_pin(row, DURESS, 4, MEMBER_PHONE)
        checkin_setup.set_buddy(row, vault, BUDDY)
    return member


def start(calls: CheckinCalls, member_id: int, minutes: int = 60) -> int:
    with calls.db.session() as s:
        return checkins.start_checkin(s, s.get_one(Member, member_id), minutes, calls.app_now()).id


def due(calls: CheckinCalls, member_id: int) -> int:
    """A 15-minute check-in of the member, with the clock moved on to its due time."""
    checkin_id = start(calls, member_id, 15)
    calls.clock.advance(15 * MINUTE)
    return checkin_id


def ringing(calls: CheckinCalls, member_id: int) -> tuple[int, PlacedCall]:
    """A check-in come due, and the one call to the member the due-check placed for it."""
    checkin_id = due(calls, member_id)
    [call] = calls.fire()
    return checkin_id, call


def keyed(calls: CheckinCalls, member_id: int, pin: str) -> tuple[PlacedCall, TwiML]:
    """A check-in come due, its call answered and ``pin`` keyed: the call and what the member heard."""
    _, call = ringing(calls, member_id)
    return call, calls.key(calls.answer(call), call, pin)


def mail(calls: CheckinCalls) -> str:
    path = Path(services_of(calls.app).settings.mail_log_path)
    return path.read_text() if path.exists() else ""


def test_nothing_rings_before_the_due_time_then_the_member_is_called_from_their_safety_number(
    calls: CheckinCalls, ready: EnrolledMember, clock: Clock
) -> None:
    checkin_id = start(calls, ready.id, 60)
    clock.advance(59 * MINUTE)
    assert calls.fire() == []
    clock.advance(MINUTE)
    [call] = calls.fire()
    assert (call.from_, call.to) == (LINE, MEMBER_PHONE)
    assert call.machine_detection == "Enable" and call.timeout == 30
    assert call.url == f"https://safety.example.org/voice/checkin/answer?checkin={checkin_id}&attempt=1"
    assert MEMBER_PHONE[1:] not in (call.url or "") + (call.status_callback or "")
    assert calls.fire() == []  # the next run does not call again
    row = calls.checkin(checkin_id)
    assert (row.state, row.attempts, row.call_sid) == (CheckinState.CALLING, 1, call.sid)


def test_the_pin_checks_in(calls: CheckinCalls, ready: EnrolledMember) -> None:
    checkin_id, call = ringing(calls, ready.id)
    ask = calls.answer(call)
    gather = ask.one("Gather")
    assert (
        gather.get("finishOnKey") == "#"
        and said(gather) == f"{prompts.CHECKIN_CALL_INTRO.text} {prompts.ENTER_PIN.text}"
    )
    done = calls.key(ask, call, PIN)
    assert done.verbs == ["Say", "Hangup"] and done.said == prompts.CHECKED_IN.text
    calls.end(call, "completed", "20")
    assert calls.checkin(checkin_id).state == CheckinState.CHECKED_IN
    assert calls.alarms() == [] and calls.fake.placed == [call]


def test_the_duress_pin_sounds_exactly_like_the_pin_and_raises_the_alarm_silently(
    calls: CheckinCalls, db: Database, ready: EnrolledMember
) -> None:
    add_staff(db, "oncall@example.org")
    answers = [keyed(calls, ready.id, pin)[1].body for pin in (PIN, DURESS)]
    assert answers[0] == answers[1]
    [alarm] = calls.alarms()
    assert alarm.kind == AlarmKind.DURESS and alarm.staff_notified_at is not None
    sent = mail(calls)
    assert "URGENT check-in alarm" in sent and f"/staff/alarms/{alarm.id}" in sent
    assert "Test member" not in sent and "7946" not in sent and "7911" not in sent
    buddy_call = calls.fake.placed[-1]
    assert (buddy_call.from_, buddy_call.to) == (LINE, BUDDY)


def test_no_answer_is_tried_again_then_escalated_to_the_buddy_and_staff(
    calls: CheckinCalls, db: Database, ready: EnrolledMember, clock: Clock
) -> None:
    add_staff(db, "off@example.org")
    checkin_id = start(calls, ready.id, 30)
    clock.advance(30 * MINUTE)
    [first] = calls.fire()
    calls.end(first, "no-answer")
    row = calls.checkin(checkin_id)
    assert (row.state, row.last_miss) == (CheckinState.OPEN, "no-answer")
    assert row.next_attempt_at == row.due_at + timedelta(minutes=3)
    clock.advance(2 * MINUTE)
    assert calls.fire() == []
    clock.advance(MINUTE)
    [second] = calls.fire()
    assert second.url and second.url.endswith("attempt=2")
    assert calls.alarms() == [] and mail(calls) == ""
    calls.end(second, "busy")
    [alarm] = calls.alarms()
    assert alarm.kind == AlarmKind.MISSED and calls.checkin(checkin_id).state == CheckinState.ESCALATED
    assert "off@example.org" in mail(calls)  # nobody on call: every active staff member
    [*_, buddy] = calls.fake.placed
    assert (buddy.from_, buddy.to, buddy.machine_detection) == (LINE, BUDDY, None)
    heard = calls.request(buddy.url, buddy, CallStatus="in-progress")
    assert prompts.BUDDY_MESSAGE.text in heard.said and "Test member" not in heard.said
    assert heard.one("Gather").get("numDigits") == "1"
    again = calls.key(heard, buddy, "1")
    assert prompts.BUDDY_MESSAGE.text in again.said
    calls.request(buddy.status_callback, buddy, CallStatus="completed", CallDuration="25")
    assert calls.alarms()[0].buddy_call == "answered"
    # A late or replayed status of the first call changes nothing; the alarm is raised once.
    calls.end(first, "no-answer")
    calls.end(second, "busy")
    clock.advance(10 * MINUTE)
    assert calls.fire() == []
    assert len(calls.alarms()) == 1 and mail(calls).count("URGENT check-in alarm") == 1


@pytest.mark.parametrize("answered_by", ["machine_start", "fax"])
def test_voicemail_is_hung_up_on_and_counts_as_missed(
    calls: CheckinCalls, ready: EnrolledMember, answered_by: str
) -> None:
    checkin_id, call = ringing(calls, ready.id)
    root = calls.answer(call, answered_by=answered_by)
    assert root.verbs == ["Hangup"]
    assert calls.checkin(checkin_id).last_miss == "machine"


def test_no_key_and_three_wrong_pins_are_missed_calls(
    calls: CheckinCalls, db: Database, member: EnrolledMember, clock: Clock
) -> None:
    add_staff(db, "case@example.org")
    checkin_id, call = ringing(calls, member.id)
    silent = calls.key(calls.answer(call), call, "")
    assert silent.said == prompts.NOT_CHECKED_IN.text
    assert calls.checkin(checkin_id).last_miss == "no-key"
    clock.advance(3 * MINUTE)
    [retry] = calls.fire()
    root = calls.answer(retry)
    for _ in range(2):
        root = calls.key(root, retry, "9999")
        assert prompts.CHECKIN_WRONG_PIN.text in root.said
    assert calls.key(root, retry, "9999").said == prompts.NOT_CHECKED_IN.text
    [alarm] = calls.alarms()
    assert alarm.kind == AlarmKind.MISSED and alarm.buddy_call == "none"  # no buddy: staff only
    assert calls.checkin(checkin_id).last_miss == "wrong-pins"


def test_twilio_down_at_the_due_time_escalates_straight_to_staff(
    calls: CheckinCalls, db: Database, member: EnrolledMember
) -> None:
    add_staff(db, "case@example.org")
    checkin_id = due(calls, member.id)
    calls.fake.fail_next(5, status=503, method="POST")
    assert calls.fire() == []
    [alarm] = calls.alarms()
    assert alarm.kind == AlarmKind.UNREACHABLE and calls.checkin(checkin_id).state == CheckinState.ESCALATED
    assert "could not be placed" in mail(calls)


def test_a_worker_killed_before_the_call_loses_nothing_and_calls_once(
    calls: CheckinCalls, db: Database, member: EnrolledMember, clock: Clock
) -> None:
    """The claim is committed, then the worker dies before asking Twilio: once
    the call's window has passed the next run places the call (same attempt)."""
    checkin_id = due(calls, member.id)
    with db.session() as s:
        claimed = checkins.claim_due(s, checkin_id, calls.app_now())
        assert claimed is not None
        checkins.start_call(claimed, calls.app_now(), services_of(calls.app).settings.checkin_policy)
    assert calls.fire() == []  # still within the window: it might be ringing
    clock.advance(4 * MINUTE)
    [call] = calls.fire()
    assert call.url and call.url.endswith("attempt=1")
    assert calls.fire() == []


def test_a_call_that_never_reports_back_counts_as_missed(
    calls: CheckinCalls, member: EnrolledMember, clock: Clock
) -> None:
    checkin_id = due(calls, member.id)
    assert len(calls.fire()) == 1
    clock.advance(4 * MINUTE)
    assert calls.fire() == []
    row = calls.checkin(checkin_id)
    assert (row.state, row.last_miss) == (CheckinState.OPEN, "no-outcome")


def test_requests_about_another_call_change_nothing(calls: CheckinCalls, member: EnrolledMember) -> None:
    checkin_id, call = ringing(calls, member.id)
    ask = calls.answer(call)
    forged = calls.request(
        f"https://safety.example.org/voice/checkin/pin?checkin={checkin_id}&attempt=2", call, Digits=PIN
    )
    assert forged.said == prompts.NOT_CHECKED_IN.text
    call.sid = "CA" + "f" * 32  # another call's sid, the right URL
    assert calls.key(ask, call, PIN).said == prompts.NOT_CHECKED_IN.text
    assert calls.checkin(checkin_id).state == CheckinState.CALLING


def test_the_on_call_staff_get_the_alarm_and_nobody_else(
    calls: CheckinCalls, db: Database, member: EnrolledMember
) -> None:
    on_call = add_staff(db, "oncall@example.org")
    add_staff(db, "other@example.org")
    with db.session() as s:
        from storage.models import Staff

        s.get_one(Staff, on_call).on_call = True
    due(calls, member.id)
    calls.fake.fail_next(5, status=503, method="POST")
    calls.fire()
    sent = mail(calls)
    assert "oncall@example.org" in sent and "other@example.org" not in sent


def test_a_cancelled_member_is_never_called(
    calls: CheckinCalls, db: Database, member: EnrolledMember, clock: Clock
) -> None:
    from storage import repositories as repo

    checkin_id = start(calls, member.id, 15)
    with db.session() as s:
        repo.cancel_member(s, s.get_one(Member, member.id))
    clock.advance(15 * MINUTE)
    assert calls.fire() == []
    assert calls.checkin(checkin_id).state == CheckinState.CANCELLED
    with db.session() as s:
        assert s.scalars(select(Member.buddy_encrypted).where(Member.id == member.id)).one() is None


def test_the_due_time_is_said_on_the_members_clock() -> None:
    assert flow.on_the_members_clock(datetime(2026, 7, 1, 20, 30)) == datetime(2026, 7, 1, 21, 30)  # BST
    assert flow.on_the_members_clock(datetime(2026, 12, 1, 0, 5)) == datetime(2026, 12, 1, 0, 5)


def test_the_worker_sends_twilio_to_paths_the_app_serves(calls: CheckinCalls) -> None:
    """The worker builds these URLs without the app's URL map."""
    served = {str(rule) for rule in calls.app.url_map.iter_rules()}
    for path in (
        flow.CALL_ANSWER_PATH,
        flow.CALL_PIN_PATH,
        flow.CALL_STATUS_PATH,
        flow.BUDDY_ANSWER_PATH,
        flow.BUDDY_STATUS_PATH,
    ):
        assert path in served, path


def test_on_rq_the_alarm_job_carries_the_alarm_id_only(
    calls_on: Callable[..., CheckinCalls], db: Database, ready: EnrolledMember, redis: Redis
) -> None:
    """Jobs take ids only; the ``redis`` fixture also scans every job for numbers."""
    rq_calls = calls_on()  # the test Redis
    keyed(rq_calls, ready.id, DURESS)
    [alarm] = rq_calls.alarms()
    queued = jobs(redis, db)
    assert ("worker.checkins.email_checkin_alarm", (alarm.id,)) in queued
    assert ("worker.checkins.call_checkin_buddy", (alarm.id,)) in queued
    text = "\n".join(job_texts(redis).values())
    for secret in (BUDDY, BUDDY[1:], MEMBER_PHONE, MEMBER_PHONE[1:], "Test member", DURESS):
        assert secret not in text


@pytest.mark.usefixtures("pg_engine")  # migrated
def test_workers_firing_at_once_call_each_due_member_exactly_once(
    pg_url: str, vault: NumberVault, fake_twilio: FakeTwilio, tmp_path: Path
) -> None:
    """Real commits, four workers' due-checks at once: the row claim (FOR
    UPDATE SKIP LOCKED, marked before Twilio is asked) lets one call each."""
    db = committing_database(pg_url, pool_size=8)
    members: list[int] = []
    try:
        for n in range(6):
            seeded = people.enrol(db, vault, phone=f"+4420794605{n:02d}", line=f"+4420794600{n + 10:02d}")
            fake_twilio.add_number(f"+4420794600{n + 10:02d}")
            members.append(seeded.id)
            with db.session() as s:
                checkins.start_checkin(s, s.get_one(Member, seeded.id), 15, utcnow() - timedelta(minutes=16))
        with job_services(tmp_path, db, REDIS_URL=None, TWILIO_API_BASE_URL=fake_twilio.base_url) as svc:
            fire = as_worker(svc, fire_due_checkins)
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda _: fire(), range(4)))
        called = sorted(call.to for call in fake_twilio.placed)
        assert called == sorted(f"+4420794605{n:02d}" for n in range(6))
    finally:
        with db.session() as s:
            s.execute(delete(Checkin).where(Checkin.member_id.in_(members)))
            s.execute(delete(SafetyNumber).where(SafetyNumber.member_id.in_(members)))
            s.execute(delete(Member).where(Member.id.in_(members)))
        db.engine.dispose()


def test_a_mail_server_that_is_down_does_not_keep_the_buddy_from_being_called(
    calls_on: Callable[..., CheckinCalls], fake_twilio: FakeTwilio, db: Database, ready: EnrolledMember
) -> None:
    down = calls_on(REDIS_URL=None, SMTP_HOST="127.0.0.1", SMTP_PORT=1)
    add_staff(db, "case@example.org")
    assert keyed(down, ready.id, DURESS)[1].said == prompts.CHECKED_IN.text
    [alarm] = down.alarms()
    assert alarm.staff_notified_at is None  # the email failed ...
    assert (fake_twilio.placed[-1].to, alarm.buddy_call) == (BUDDY, "called")  # ... the buddy was called
    with db.session() as s:
        kept = s.scalars(
            select(Event.job).where(
                Event.job.startswith("checkin_"), Event.done_at.is_(None), Event.failed_at.is_(None)
            )
        ).all()
    assert kept == ["checkin_alarm_mail"]  # and the email is kept to be sent again


def test_a_check_in_calls_webhooks_have_written_their_jobs_before_they_answer(
    calls_on: Callable[..., CheckinCalls], db: Database, ready: EnrolledMember
) -> None:
    """Redis down all along: once the webhooks have answered, the duress
    alarm's email and buddy call and the deletion of the call's record at
    Twilio are in the table, once each however often Twilio repeats itself."""
    down = calls_on(REDIS_URL="redis://127.0.0.1:1/0")
    with db.session() as s:
        before = s.scalar(select(func.max(Event.id))) or 0  # other tests' events, committed
    call, answer = keyed(down, ready.id, DURESS)
    assert answer.said == prompts.CHECKED_IN.text
    for _ in range(2):  # and Twilio's retry
        down.end(call, "completed", "40")
    [alarm] = down.alarms()
    with db.session() as s:
        written = sorted(s.execute(select(Event.job, Event.args).where(Event.id > before)).all())
    assert [(job, args) for job, args in written] == [
        ("checkin_alarm_mail", [alarm.id]),
        ("checkin_buddy_call", [alarm.id]),
        ("delete_provider_records", [call.sid]),
    ]


def test_the_duress_answer_goes_out_before_the_alarm_is_acted_on(
    calls: CheckinCalls, ready: EnrolledMember
) -> None:
    """Embedded mode runs jobs in the webhook's own thread: the duress PIN's
    "checked in" must not wait for the buddy's call or the email (whoever
    stands by the member could hear the pause). The jobs run once the
    answer is sent and the server closes the response."""
    _, call = ringing(calls, ready.id)
    action = calls.answer(call).one("Gather").get("action")
    response = calls.send(action, call, close=False, CallStatus="in-progress", Digits=DURESS)
    assert said(twiml_of(response)) == prompts.CHECKED_IN.text
    assert [c.to for c in calls.fake.placed] == [MEMBER_PHONE]  # answered; the buddy not called yet
    response.close()
    assert [c.to for c in calls.fake.placed] == [MEMBER_PHONE, BUDDY]


def test_a_buddy_call_whose_worker_died_mid_placement_is_placed_by_the_retry(
    calls: CheckinCalls, ready: EnrolledMember, db: Database
) -> None:
    """Marked "calling" and then the worker died before Twilio's answer was
    kept: the event is not done, and its next run calls the buddy (twice
    called is better than never)."""
    with db.session() as s:
        checkin = checkins.start_checkin(s, s.get_one(Member, ready.id), 15, calls.app_now())
        alarm = checkins.raise_alarm(s, checkin, AlarmKind.MISSED, calls.app_now())
        assert alarm is not None
        alarm.buddy_call = "calling"  # what the dead worker left
        alarm_id = alarm.id
    with bound(services_of(calls.app)):
        call_checkin_buddy(alarm_id)
    [alarm_row] = calls.alarms()
    assert (calls.fake.placed[-1].to, alarm_row.buddy_call) == (BUDDY, "called")
    assert alarm_row.buddy_call_sid == calls.fake.placed[-1].sid
    with bound(services_of(calls.app)):
        call_checkin_buddy(alarm_id)  # done: a replay calls nobody
    assert [c.to for c in calls.fake.placed] == [BUDDY]


def test_twilio_unreachable_for_the_buddy_call_is_shown_and_retried(
    calls_on: Callable[..., CheckinCalls], fake_twilio: FakeTwilio, db: Database, ready: EnrolledMember
) -> None:
    down = calls_on(REDIS_URL=None, TWILIO_API_BASE_URL="http://127.0.0.1:1")
    with db.session() as s:
        checkin = checkins.start_checkin(s, s.get_one(Member, ready.id), 15, down.app_now())
        alarm = checkins.raise_alarm(s, checkin, AlarmKind.DURESS, down.app_now())
        assert alarm is not None
        alarm_id = alarm.id
    with bound(services_of(down.app)), pytest.raises(TwilioUnavailable):
        call_checkin_buddy(alarm_id)  # the event's retry comes back to it
    [alarm_row] = down.alarms()
    assert alarm_row.buddy_call == "failed"
    with bound(services_of(calls_on(REDIS_URL=None).app)):  # Twilio back
        call_checkin_buddy(alarm_id)
    [alarm_row] = down.alarms()
    assert (alarm_row.buddy_call, fake_twilio.placed[-1].to) == ("called", BUDDY)


# --- the member's language ---------------------------------------------------------------

ROMANIAN = language("ro")


def speak(db: Database, member_id: int, code: str) -> None:
    """The member chooses to hear the service in ``code``."""
    with db.session() as s:
        s.get_one(Member, member_id).language = code


def says(twiml: TwiML) -> list[tuple[str, str | None, str | None]]:
    """Every <Say>, in order: its words, voice and language."""
    return [(say.text or "", say.get("voice"), say.get("language")) for say in twiml.iter("Say")]


def test_a_romanian_member_is_called_in_romanian_with_the_romanian_voice(
    calls: CheckinCalls, db: Database, ready: EnrolledMember
) -> None:
    """The check-in call speaks the member's language, the duress PIN still
    sounds exactly like the PIN, and a wrong PIN is told in Romanian too."""
    speak(db, ready.id, "ro")
    voice = (ROMANIAN.voice, ROMANIAN.twilio_language)
    answers = []
    for pin in (PIN, DURESS):
        _, call = ringing(calls, ready.id)
        ask = calls.answer(call)
        assert says(ask) == [
            ("Acesta este apelul dumneavoastră de verificare de la Numărul de siguranță.", *voice),
            ("Vă rugăm să introduceți codul PIN, apoi apăsați diez.", *voice),
        ]
        wrong = calls.key(ask, call, "9999")
        assert says(wrong)[0] == ("Codul PIN nu se potrivește. Vă rugăm să încercați din nou.", *voice)
        done = calls.key(wrong, call, pin)
        assert says(done) == [("Verificare confirmată, vă mulțumim. La revedere.", *voice)]
        answers.append(done.body)
        calls.end(call, "completed", "30")
    assert answers[0] == answers[1]  # whoever is listening cannot tell the PINs apart
    assert [alarm.kind for alarm in calls.alarms()] == [AlarmKind.DURESS]


def test_the_buddy_hears_the_members_language_then_english(
    calls: CheckinCalls, db: Database, ready: EnrolledMember
) -> None:
    """The buddy may not share the member's language: the message and its
    "press 1" are said in Romanian, then in English, each in its own voice."""
    speak(db, ready.id, "ro")
    keyed(calls, ready.id, DURESS)
    buddy = calls.fake.placed[-1]
    assert buddy.to == BUDDY
    heard = calls.request(buddy.url, buddy, CallStatus="in-progress")
    romanian, english = (ROMANIAN.voice, ROMANIAN.twilio_language), ("Polly.Amy", "en-GB")
    # The message and "press 1" in each language, then (no key) goodbye in each.
    voices = [romanian, romanian, english, english, romanian, english]
    assert [(voice, tongue) for _, voice, tongue in says(heard)] == voices
    spoken = [text for text, _, _ in says(heard)]
    assert spoken[0].startswith("Acesta este un apel automat de la Numărul de siguranță.")
    assert spoken[1] == "Apăsați 1 pentru a asculta din nou acest mesaj."
    assert spoken[2:] == [prompts.BUDDY_MESSAGE.text, prompts.BUDDY_REPEAT.text, "La revedere.", "Goodbye."]
    assert heard.one("Gather").get("numDigits") == "1" and len(list(heard.one("Gather").iter("Say"))) == 4
    assert "Test member" not in heard.said and "7946" not in heard.said
    bye = calls.key(heard, buddy, "2")
    assert says(bye) == [("La revedere.", *romanian), ("Goodbye.", *english)]


def test_an_english_members_buddy_hears_the_message_once(calls: CheckinCalls, ready: EnrolledMember) -> None:
    keyed(calls, ready.id, DURESS)
    buddy = calls.fake.placed[-1]
    heard = calls.request(buddy.url, buddy, CallStatus="in-progress")
    assert [text for text, _, _ in says(heard)] == [
        prompts.BUDDY_MESSAGE.text,
        prompts.BUDDY_REPEAT.text,
        prompts.BUDDY_GOODBYE.text,
    ]
