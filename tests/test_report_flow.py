"""Incident reports from the member menu: the report row, the recording,
police consent, and the recording callback that queues ingestion once."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from ivr.services import services_of
from storage.db import Database
from storage.models import RecordingState, Report
from tests.support.menu import MENU, MemberMenu, jobs, new_sid
from tests.support.suite import AppConfig
from tests.support.twilio import TwiML, said, twiml_of

RECORDING_URL = "https://api.twilio.com/2010-04-01/Accounts/ACtest/Recordings/RE0123"


def start_report(menu: MemberMenu, sid: str) -> TwiML:
    menu.log_in(sid)
    return menu.press(sid, "2")


def reporting(menu: MemberMenu) -> tuple[str, int]:
    """The standard member, enrolled, starts a report: (call sid, report id)."""
    menu.seed()
    sid = new_sid()
    start_report(menu, sid)
    return sid, the_report(menu.db, sid).id


def the_report(db: Database, sid: str) -> Report:
    with db.session() as session:
        return session.scalars(select(Report).where(Report.report_call_sid == sid)).one()


def recording_callback(menu: MemberMenu, report_id: int, call_sid: str, **form: str) -> TestResponse:
    """Twilio's recording-status callback for the report's recording."""
    fields = {
        "AccountSid": menu.twilio.suite.account_sid,
        "CallSid": call_sid,
        "RecordingSid": "RE" + "1" * 32,
        "RecordingUrl": RECORDING_URL,
        "RecordingStatus": "completed",
        "RecordingDuration": "42",
        "RecordingChannels": "1",
        "RecordingSource": "RecordVerb",
    }
    fields.update(form)
    return menu.twilio.send(f"{MENU}/recording", fields, query=f"report={report_id}")


def test_option_2_records_with_a_status_callback(menu, app, db):
    member_id = menu.seed()
    sid = new_sid()
    root = start_report(menu, sid)
    # The report row exists at once, before anything is recorded.
    report = the_report(db, sid)
    assert report.member_id == member_id
    assert report.recording_sid is None and report.police_consent is None
    assert root.verbs == ["Say", "Record", "Gather", "Say", "Hangup"]
    assert "Press hash when you have finished" in said(root)
    record = root.one("Record")
    settings = services_of(app).settings
    assert record.get("maxLength") == str(settings.record_max_seconds)
    # A member who pauses to collect themselves keeps talking: not Twilio's 5 s.
    assert record.get("timeout") == "15" == str(settings.report_silence_timeout_seconds)
    assert record.get("finishOnKey") == "#"
    assert record.get("playBeep") == "true"
    assert record.get("action") == menu.url(f"{MENU}/consent", f"report={report.id}")
    assert record.get("recordingStatusCallback") == menu.url(f"{MENU}/recording", f"report={report.id}")
    assert record.get("recordingStatusCallbackEvent") == "completed absent"


def test_report_is_linked_to_the_last_inbound_caller(vault, menu, app, db):
    member_id = menu.seed()
    menu.add_inbound_call(member_id, "+447400111222")
    last = menu.add_inbound_call(member_id, "+447400654321")
    menu.add_inbound_call(member_id, "+447400999888", blocked=True)  # rejected: never reached them
    sid = new_sid()
    start_report(menu, sid)
    report = the_report(db, sid)
    assert report.call_id == last
    assert report.caller_index == vault.index("+447400654321")


def test_report_links_a_withheld_last_caller_by_call_only(menu, app, db):
    member_id = menu.seed()
    last = menu.add_inbound_call(member_id, None)
    sid = new_sid()
    start_report(menu, sid)
    report = the_report(db, sid)
    assert (report.call_id, report.caller_index) == (last, None)


def test_report_without_any_caller(menu, app, db):
    menu.seed()
    sid = new_sid()
    start_report(menu, sid)
    assert (the_report(db, sid).call_id, the_report(db, sid).caller_index) == (None, None)


def test_pressing_2_again_in_the_same_call_keeps_one_report(menu, app, db):
    menu.seed()
    sid = new_sid()
    start_report(menu, sid)
    menu.press(sid, "2")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Report)) == 1


@pytest.mark.parametrize(("digits", "consent"), [("1", True), ("2", False), ("", False), ("7", False)])
def test_consent_question_and_answer(menu, app, db, digits, consent):
    sid, report_id = reporting(menu)
    root = menu.post(
        "consent",
        sid,
        query=f"report={report_id}",
        RecordingUrl=RECORDING_URL,
        RecordingDuration="42",
        Digits="#",
    )
    g = root.one("Gather")
    assert g.get("numDigits") == "1"
    assert "anonymous version go to the police" in said(g)
    answer = menu.url(f"{MENU}/consent-answer", f"report={report_id}")
    assert g.get("action") == answer
    # Silence reaches the same URL and means no.
    assert root.one("Redirect").text == answer
    root = menu.post("consent-answer", sid, query=f"report={report_id}", Digits=digits)
    assert root.verbs == ["Say", "Hangup"]
    assert "Your report has been passed to a caseworker" in said(root)
    assert the_report(db, sid).police_consent is consent


def test_report_steps_of_another_call_or_report_are_refused(menu, app, db):
    sid, report_id = reporting(menu)
    other = new_sid()
    menu.log_in(other)  # authenticated, but not the reporting call
    for step in ("consent", "consent-answer", "report-again"):
        root = menu.post(step, other, query=f"report={report_id}", Digits="1")
        assert root.verbs == ["Say", "Hangup"] and "not available" in said(root)
        root = menu.post(step, sid, query="report=999999", Digits="1")
        assert "not available" in said(root)
    assert the_report(db, sid).police_consent is None


def test_recording_callback_stores_the_sid_and_queues_ingestion_once(menu, app, db, redis, caplog):
    sid, report_id = reporting(menu)
    recording_sid = "RE" + "1" * 32
    caplog.set_level(logging.DEBUG)
    for _ in range(3):  # Twilio may deliver the callback more than once
        response = recording_callback(menu, report_id, sid)
        assert twiml_of(response).verbs == []
    report = the_report(db, sid)
    assert report.recording_sid == recording_sid
    assert report.recording_state == RecordingState.AWAITED
    assert jobs(redis, db) == [("worker.recordings.ingest_recording", (report_id, recording_sid))]
    assert RECORDING_URL not in caplog.text and "RE0123" not in caplog.text


def test_recording_callback_with_another_recording_does_not_replace_the_first(menu, app, db, redis):
    sid, report_id = reporting(menu)
    recording_callback(menu, report_id, sid)
    recording_callback(menu, report_id, sid, RecordingSid="RE" + "2" * 32)
    assert the_report(db, sid).recording_sid == "RE" + "1" * 32
    assert len(jobs(redis, db)) == 1


def test_a_recording_of_one_report_cannot_be_attached_to_another(menu, app, db, redis):
    menu.seed()
    first, second = new_sid(), new_sid()
    start_report(menu, first)
    start_report(menu, second)
    recording_callback(menu, the_report(db, first).id, first)
    response = recording_callback(menu, the_report(db, second).id, second)
    assert response.status_code == 200
    assert the_report(db, second).recording_sid is None
    assert len(jobs(redis, db)) == 1


@pytest.mark.parametrize(
    "form",
    [
        {"RecordingStatus": "in-progress"},
        {"RecordingSid": ""},
        {"CallSid": "CA" + "9" * 32},  # not the reporting call
    ],
)
def test_recording_callback_that_is_not_a_completed_recording_of_this_call(menu, app, db, redis, form):
    sid, report_id = reporting(menu)
    response = recording_callback(menu, report_id, sid, **form)
    assert twiml_of(response).verbs == []
    assert the_report(db, sid).recording_sid is None
    assert jobs(redis, db) == []


def test_silence_timeout_is_a_setting_of_at_least_ten_seconds(menu, app_config: AppConfig, db):
    from callflows.errors import ConfigurationError
    from ivr import create_app

    menu = menu.on(create_app(app_config(REPORT_SILENCE_TIMEOUT_SECONDS="30", database=db)))
    menu.seed()
    assert start_report(menu, new_sid()).one("Record").get("timeout") == "30"
    with pytest.raises(ConfigurationError, match="REPORT_SILENCE_TIMEOUT_SECONDS"):
        create_app(app_config(REPORT_SILENCE_TIMEOUT_SECONDS="5", database=db))


def test_after_silence_the_member_is_offered_another_try(menu, app, db):
    """Twilio makes no request when nothing was recorded and plays the verbs
    after <Record>: they offer a second try, not a dead end."""
    menu.seed()
    sid = new_sid()
    root = start_report(menu, sid)
    report_id = the_report(db, sid).id
    after_record = list(root.root)[2:]
    offer = after_record[0]
    assert offer.tag == "Gather" and offer.get("numDigits") == "1"
    assert "To try again, press 1" in said(offer)
    assert offer.get("action") == menu.url(f"{MENU}/report-again", f"report={report_id}")
    # No key: the Gather falls through to a goodbye that says what happened.
    assert [v.tag for v in after_record[1:]] == ["Say", "Hangup"]
    assert after_record[1].text == "No report was recorded. Goodbye."

    again = menu.post("report-again", sid, query=f"report={report_id}", Digits="1")
    assert again.verbs == ["Say", "Record", "Gather", "Say", "Hangup"]
    assert again.one("Record").get("action") == menu.url(f"{MENU}/consent", f"report={report_id}")
    with db.session() as session:  # the same report, recorded again
        assert session.scalar(select(func.count()).select_from(Report)) == 1
    done = menu.post("report-again", sid, query=f"report={report_id}", Digits="2")
    assert done.verbs == ["Say", "Hangup"] and said(done) == "No report was recorded. Goodbye."


def test_an_absent_recording_is_marked_absent_and_a_second_try_still_attaches(menu, app, db, redis):
    sid, report_id = reporting(menu)
    absent = {"RecordingStatus": "absent", "RecordingSid": "RE" + "3" * 32}
    answer = recording_callback(menu, report_id, sid, **absent)
    assert twiml_of(answer).verbs == []  # the callback tells the member nothing
    report = the_report(db, sid)
    assert report.recording_state == RecordingState.ABSENT and report.recording_sid is None
    assert report.recording_error == "nothing was recorded"
    # Handed to a caseworker: the member meant to report something.
    assert jobs(redis, db) == [("worker.handoff.assign_report", (report_id,))]
    # The member pressed 1 and spoke this time: the recording still attaches.
    recording_callback(menu, report_id, sid)
    report = the_report(db, sid)
    assert report.recording_sid == "RE" + "1" * 32 and report.recording_state == RecordingState.AWAITED


def test_a_failed_recording_is_visible_on_the_report(menu, app, db, redis):
    sid, report_id = reporting(menu)
    recording_callback(menu, report_id, sid, RecordingStatus="failed")
    report = the_report(db, sid)
    assert report.recording_state == RecordingState.FAILED and report.recording_sid is None
    assert report.recording_error is not None and "failed" in report.recording_error
    # Still handed to a caseworker: the member meant to report something.
    assert jobs(redis, db) == [("worker.handoff.assign_report", (report_id,))]


def test_a_late_failure_callback_does_not_undo_a_stored_recording(menu, app, db, redis):
    sid, report_id = reporting(menu)
    recording_callback(menu, report_id, sid)
    recording_callback(menu, report_id, sid, RecordingStatus="failed")
    report = the_report(db, sid)
    assert report.recording_sid == "RE" + "1" * 32
    assert report.recording_state == RecordingState.AWAITED


def test_recording_callback_needs_a_signature(menu, app, db, redis):
    sid, report_id = reporting(menu)
    response = menu.twilio.send(
        f"{MENU}/recording",
        {"CallSid": sid, "RecordingSid": "RE" + "1" * 32, "RecordingStatus": "completed"},
        query=f"report={report_id}",
        headers={"X-Twilio-Signature": "forged"},
    )
    assert response.status_code == 403
    assert the_report(db, sid).recording_sid is None
    assert jobs(redis, db) == []


@pytest.mark.usefixtures("empty_events")
def test_recording_callback_without_redis_is_kept_as_an_event(menu, app_config: AppConfig, db, tmp_path):
    """Redis down: the ingestion is written in the table, with the claim, and
    waits there for the sweep instead of being lost."""
    from ivr import create_app
    from storage.models import Event

    menu = menu.on(create_app(app_config(REDIS_URL="redis://127.0.0.1:1/0", database=db)))
    sid, report_id = reporting(menu)
    assert recording_callback(menu, report_id, sid).status_code == 200
    with db.session() as session:
        event = session.scalars(select(Event)).one()
        assert (event.job, event.args) == ("ingest_recording", [report_id, "RE" + "1" * 32])
        assert event.done_at is None and event.key == "recording:RE" + "1" * 32
