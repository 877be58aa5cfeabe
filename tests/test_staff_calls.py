"""Masked calls from the console (issue 16): "Call the member" rings the
caseworker's own phone through the Twilio REST API (the local fake), the
caseworker hears whom and why and presses 1, the member's phone rings
showing the scheme's access line, and neither side ever sees the other's
number — not in the REST request, the TwiML, the page, the jobs or the logs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from callflows.status import AlarmKind, StaffCallOutcome
from core.services import bound
from ivr import services_of
from simulator.engine import CallResult
from simulator.fake_twilio import FakeTwilio
from storage import checkins
from storage.db import Database
from storage.models import AuditEntry, Member, Report, Staff, StaffCall, utcnow
from tests.leak_scan import number_forms
from tests.staff.helpers import post
from tests.support.staff_calls import CASEWORKER_PHONE, StaffCallWorld
from tests.support.twilio import TwiML
from worker.retention import apply_retention
from worker.staff_calls import ANSWER_PATH, STATUS_PATH, place_staff_call


@pytest.fixture
def world(staff_call_world: StaffCallWorld) -> StaffCallWorld:
    return staff_call_world


def _calls_placed(fake: FakeTwilio) -> list[dict[str, list[str]]]:
    return [r.form for r in fake.requests if r.method == "POST" and r.path.endswith("/Calls.json")]


def _shows_no_number(text: str, *numbers: str) -> None:
    for number in numbers:
        for form in number_forms(number):
            assert form not in text, f"a form of a real number ({number[-3:]}) is shown"


def _document(result: CallResult, path: str) -> TwiML:
    [document] = [d for d in result.documents if d.path == path]
    return TwiML(document.xml.encode())


def _the_call(db: Database) -> StaffCall:
    with db.session() as s:
        return s.scalars(select(StaffCall)).one()


# --- the call ---------------------------------------------------------------------


def test_call_from_a_report_rings_the_caseworker_then_the_member_masked(
    world: StaffCallWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    page = world.click_call(world.caseworker)
    assert "Calling your phone now" in page

    # The REST request rings the caseworker's own phone, from the access line,
    # and carries nothing of the member: the URLs name the call's id only.
    [form] = _calls_placed(world.fake)
    call = _the_call(world.db)
    assert form["To"] == [CASEWORKER_PHONE]
    assert form["From"] == [world.access_line]
    assert form["Url"] == [f"https://safety.example.org/voice/staff-call/answer?staff_call={call.id}"]
    assert form["StatusCallback"] == [
        f"https://safety.example.org/voice/staff-call/status?staff_call={call.id}"
    ]
    _shows_no_number(repr(form), world.member.phone)

    result = world.answer(caseworker="1", member="1")

    # The caseworker hears whom and why, then presses 1.
    assert "Safety Number: connecting you to Ruby about report" in result.spoken_to("caseworker")
    assert f"report {world.report}." in result.spoken_to("caseworker")
    # The TwiML dials the member with the access line as caller ID.
    dial = _document(result, "/voice/staff-call/confirm").one("Dial")
    assert dial.get("callerId") == world.access_line
    number = dial.find("Number")
    assert number is not None and number.text == world.member.phone
    # Both phones showed the access line: never the other side's number.
    assert result.displayed == [world.access_line, world.access_line]
    assert "Safety Number call from the scheme" in result.spoken_to("member")
    assert result.bridged

    # No document anywhere holds the caseworker's number; the member's only
    # in the <Number> that rings them; every callerId is the access line.
    for document in result.documents:
        _shows_no_number(document.xml, CASEWORKER_PHONE)
        twiml = TwiML(document.xml.encode())
        assert {d.get("callerId") for d in twiml.iter("Dial")} <= {world.access_line}
        spoken = twiml.said + " ".join(e.get("action", "") + e.get("url", "") for e in twiml.iter())
        _shows_no_number(spoken, world.member.phone)

    call = _the_call(world.db)
    assert call.outcome == StaffCallOutcome.TALKED
    # From the member's answer (their whisper included) to the end: 42 s of talk and more.
    assert call.talk_seconds is not None and call.talk_seconds >= 42
    assert call.connected_at is not None and call.ended_at is not None
    with world.db.session() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "member.call")).all()
    assert entry.staff_id == world.caseworker and entry.target_id == world.member.id
    assert entry.detail == f"reason=report report={world.report} call={call.id}"

    # The report page shows the call and how it went; no number of either side.
    page = world.client(world.caseworker).get(f"/staff/reports/{world.report}").get_data(as_text=True)
    assert f"connected, {call.talk_seconds} s" in page
    _shows_no_number(page, CASEWORKER_PHONE, world.member.phone)
    # Nothing stays at Twilio: both legs' records were deleted.
    assert world.fake.calls == {}
    log = caplog.text
    _shows_no_number(log, CASEWORKER_PHONE, world.member.phone)
    assert "Ruby" not in log


def test_a_replayed_confirm_rings_the_member_once(world: StaffCallWorld) -> None:
    world.click_call(world.caseworker)
    result = world.answer(caseworker="1", member="1")
    confirm = next(d for d in result.documents if d.path == "/voice/staff-call/confirm")
    sim = world.simulator()
    # Twilio's request, replayed with its signature: the call has moved on.
    call = _the_call(world.db)
    params = {"CallSid": call.call_sid or "", "Digits": "1", "AccountSid": sim.account_sid}
    answer = sim.transport.request("POST", confirm.url, params)
    replay = TwiML(answer.body)
    assert replay.verbs == ["Say", "Hangup"] and "no longer needed" in replay.said


# --- refusals -----------------------------------------------------------------------


def _refusals(db: Database) -> list[str]:
    with db.session() as s:
        return [
            e.detail or ""
            for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "member.call_refused"))
        ]


def test_a_caseworker_not_assigned_is_refused(world: StaffCallWorld) -> None:
    # Another caseworker's report is not even visible.
    page = world.click_call(world.other)
    assert "not found" in page.lower()
    # An unassigned report is visible, but only its caseworker (or an admin) may call.
    with world.db.session() as s:
        report = s.get(Report, world.report)
        assert report is not None
        report.caseworker_id = None
    client = world.client(world.other)
    assert post(client, f"/staff/reports/{world.report}/call").status_code == 403
    assert _calls_placed(world.fake) == []
    assert _refusals(world.db) == [f"reason=report report={world.report} refused=not_allowed"]
    with world.db.session() as s:
        assert s.scalars(select(StaffCall)).all() == []


def test_an_admin_may_call_about_any_report(world: StaffCallWorld) -> None:
    world.click_call(world.admin)
    assert len(_calls_placed(world.fake)) == 1


def test_a_member_who_asked_not_to_be_called_is_not_called(world: StaffCallWorld) -> None:
    with world.db.session() as s:
        member = s.get(Member, world.member.id)
        assert member is not None
        member.scheme_calls = False
    page = world.click_call(world.caseworker)
    assert "asked not to be called by the scheme" in page
    assert _calls_placed(world.fake) == []
    assert _refusals(world.db) == [f"reason=report report={world.report} refused=opted_out"]


def test_the_hourly_limit_refuses_the_next_call(
    make_app: Callable[..., Flask], world: StaffCallWorld
) -> None:
    for _ in range(3):
        world.click_call(world.caseworker)
    limited = make_app(
        TWILIO_API_BASE_URL=world.fake.base_url, PROVIDER_RECORD_DELAY_SECONDS="0", STAFF_CALLS_PER_HOUR="3"
    )
    world.app = limited
    page = world.click_call(world.caseworker)
    assert "limit of calls to members for this hour" in page
    assert len(_calls_placed(world.fake)) == 3
    assert _refusals(world.db)[-1].endswith("refused=rate_limited")


def test_without_their_own_phone_a_caseworker_is_told_to_add_it(world: StaffCallWorld) -> None:
    with world.db.session() as s:
        staff = s.get(Staff, world.caseworker)
        assert staff is not None
        staff.phone_encrypted = None
    page = world.click_call(world.caseworker)
    assert "Add your own phone on your account page first" in page
    assert _calls_placed(world.fake) == []


# --- failures, each shown on the page with the time ----------------------------------


def _report_page(world: StaffCallWorld) -> str:
    return world.client(world.caseworker).get(f"/staff/reports/{world.report}").get_data(as_text=True)


def test_twilio_unreachable_is_shown_on_the_report(world: StaffCallWorld) -> None:
    world.fake.fail_next(1, 503, method="POST")
    world.click_call(world.caseworker)
    call = _the_call(world.db)
    assert call.outcome == StaffCallOutcome.TWILIO_UNREACHABLE and call.ended_at is not None
    page = _report_page(world)
    assert "failed: Twilio could not be reached or refused the call" in page
    assert call.ended_at.strftime("%d %b %Y %H:%M:%S") in page
    assert world.fake.placed == []


@pytest.mark.parametrize(
    ("caseworker", "member", "outcome", "shown", "heard"),
    [
        ("no-answer", "1", StaffCallOutcome.STAFF_NO_ANSWER, "your phone did not answer", None),
        ("busy", "1", StaffCallOutcome.STAFF_BUSY, "your phone was busy", None),
        (
            "none",
            "1",
            StaffCallOutcome.STAFF_NOT_CONFIRMED,
            "1 was not pressed",
            "The member was not called.",
        ),
        (
            "1",
            "no-answer",
            StaffCallOutcome.MEMBER_NO_ANSWER,
            "the member did not answer",
            "Ruby did not answer.",
        ),
        (
            "1",
            "busy",
            StaffCallOutcome.MEMBER_BUSY,
            "the member&#39;s phone was busy",
            "Ruby's phone is busy.",
        ),
        ("1", "failed", StaffCallOutcome.MEMBER_UNREACHABLE, "could not be reached", "could not be reached."),
        (
            "1",
            "none",
            StaffCallOutcome.MEMBER_DECLINED,
            "did not take the call",
            "Ruby did not take the call.",
        ),
    ],
)
def test_each_failure_is_shown_where_the_call_was_placed(
    world: StaffCallWorld,
    caseworker: str,
    member: str,
    outcome: StaffCallOutcome,
    shown: str,
    heard: str | None,
) -> None:
    world.click_call(world.caseworker)
    result = world.answer(caseworker=caseworker, member=member)
    assert not result.bridged
    if heard is not None:
        assert heard in result.spoken_to("caseworker")
    call = _the_call(world.db)
    assert call.outcome == outcome
    assert call.ended_at is not None
    page = _report_page(world)
    assert shown in page
    assert call.ended_at.strftime("%d %b %Y %H:%M:%S") in page
    assert world.fake.calls == {}


# --- the job --------------------------------------------------------------------------


def test_the_worker_points_twilio_at_the_apps_own_webhooks(world: StaffCallWorld) -> None:
    rules = {str(rule) for rule in world.app.url_map.iter_rules()}
    assert {ANSWER_PATH, STATUS_PATH} <= rules


def test_the_job_places_a_call_once(world: StaffCallWorld) -> None:
    world.click_call(world.caseworker)
    call = _the_call(world.db)
    with bound(services_of(world.app)):
        place_staff_call(call.id)  # run again (a retry, a replayed outbox entry)
    assert len(_calls_placed(world.fake)) == 1


def test_a_call_queued_too_long_ago_is_never_placed(world: StaffCallWorld) -> None:
    with world.db.session() as s:
        late = StaffCall(
            staff_id=world.caseworker,
            member_id=world.member.id,
            reason="report",
            report_id=world.report,
            created_at=utcnow() - timedelta(minutes=3),
        )
        s.add(late)
        s.flush()
        late_id = late.id
    with bound(services_of(world.app)):
        place_staff_call(late_id)
    assert _calls_placed(world.fake) == []
    assert _the_call(world.db).outcome == StaffCallOutcome.TOO_LATE
    assert "too slow to place it" in _report_page(world)


# --- retention -------------------------------------------------------------------------


def test_retention_sweeps_both_legs_at_twilio_and_ages_the_calls_out(world: StaffCallWorld) -> None:
    world.click_call(world.caseworker)
    world.answer(caseworker="1", member="no-answer")
    call = _the_call(world.db)
    assert call.call_sid is not None and call.member_call_sid is not None and call.ended_at is not None
    legs = {call.call_sid, call.member_call_sid}
    world.fake.deleted_calls.clear()
    with bound(services_of(world.app)):
        # A day and a half after it ended: both legs are deleted at Twilio again.
        apply_retention(call.ended_at + timedelta(hours=36))
        deleted = {
            r.path.rsplit("/", 1)[-1].removesuffix(".json")
            for r in world.fake.requests
            if r.method == "DELETE"
        }
        assert legs <= deleted
        assert _the_call(world.db).id == call.id  # still within the call log's retention
        apply_retention(call.created_at + timedelta(days=91))
    with world.db.session() as s:
        assert s.scalars(select(StaffCall)).all() == []


# --- from a check-in alarm ------------------------------------------------------------


def _alarm(db: Database, member_id: int, kind: AlarmKind = AlarmKind.MISSED) -> int:
    with db.session() as s:
        now = utcnow()
        checkin = checkins.start_checkin(s, s.get_one(Member, member_id), 15, now - timedelta(minutes=20))
        alarm = checkins.raise_alarm(s, checkin, kind, now)
        assert alarm is not None
        return alarm.id


def test_any_caseworker_calls_the_member_from_a_check_in_alarm_masked(world: StaffCallWorld) -> None:
    """An alarm is everyone's until it is closed: a caseworker no report ties
    to the member calls from the alarm's page, hears why, and is put through."""
    alarm = _alarm(world.db, world.member.id)
    page = world.click_call(world.other, f"/staff/alarms/{alarm}/call")
    assert "Calling your phone now" in page
    result = world.answer(caseworker="1", member="1")
    assert "connecting you to Ruby about a missed check-in" in result.spoken_to("caseworker")
    assert result.bridged and result.displayed == [world.access_line, world.access_line]
    call = _the_call(world.db)
    assert (call.reason, call.staff_id, call.outcome) == ("checkin", world.other, StaffCallOutcome.TALKED)
    with world.db.session() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "member.call")).all()
    assert entry.detail == f"reason=checkin call={call.id}"
    page = world.client(world.other).get(f"/staff/alarms/{alarm}").get_data(as_text=True)
    assert f"connected, {call.talk_seconds} s" in page and "check-in" in page
    _shows_no_number(page, CASEWORKER_PHONE, world.member.phone)


def test_a_duress_alarm_warns_before_the_call_and_a_member_who_said_no_is_not_called(
    world: StaffCallWorld,
) -> None:
    alarm = _alarm(world.db, world.member.id, AlarmKind.DURESS)
    page = world.client(world.other).get(f"/staff/alarms/{alarm}").get_data(as_text=True)
    assert "Think about the police before you call" in page and "Call the member</button>" in page
    with world.db.session() as s:
        s.get_one(Member, world.member.id).scheme_calls = False
    page = world.client(world.other).get(f"/staff/alarms/{alarm}").get_data(as_text=True)
    assert "asked not to be called by the scheme" in page and "Call the member</button>" not in page
    page = world.click_call(world.other, f"/staff/alarms/{alarm}/call")  # pressed anyway (an old page)
    assert _calls_placed(world.fake) == []
    with world.db.session() as s:
        assert s.scalars(select(StaffCall)).all() == []
        refused = s.scalars(select(AuditEntry.detail).where(AuditEntry.action == "member.call_refused")).one()
    assert refused is not None and refused.startswith("reason=checkin")


def test_an_alarm_that_does_not_exist_calls_nobody(world: StaffCallWorld) -> None:
    world.click_call(world.other, "/staff/alarms/999999/call")
    assert _calls_placed(world.fake) == []
