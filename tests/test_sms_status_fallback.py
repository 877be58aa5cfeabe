"""SMS drop, status callbacks, the fallback URL, and safe TwiML when the
database or Redis is down."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from redis import Redis
from sqlalchemy import func, select

from ivr import create_app
from storage.db import Database
from storage.models import Base
from tests.support.menu import jobs as menu_jobs
from tests.support.people import LINE, MEMBER_PHONE, EnrolledMember
from tests.support.suite import AppConfig, SuiteConfig
from tests.support.twilio import TwilioClient, TwiML

CALLER = "+447911123456"
# Every way the caller's or the member's number could show up in a log.
NUMBER_FRAGMENTS = ("7911123456", "7911 123456", "2079460123", "20 7946 0123", "7946 0123")


def row_counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {
            t.name: s.scalar(select(func.count()).select_from(t)) or 0 for t in Base.metadata.sorted_tables
        }


def queued(redis: Redis, db: Database) -> list[tuple[str | None, tuple[Any, ...]]]:
    return menu_jobs(redis, db)


# --- SMS -------------------------------------------------------------------------------


def test_sms_is_dropped_without_a_trace(
    twilio: TwilioClient, member: EnrolledMember, db: Database, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    before = row_counts(db)
    caplog.set_level(logging.DEBUG)
    body = "ring me on 07911 123456, the password is PERIWINKLE"
    form = {"MessageSid": "SM0001", "From": CALLER, "To": LINE, "Body": body, "NumMedia": "0"}
    root = twilio.post("/sms/incoming", **form)
    assert root.verbs == [] and root.root.text is None
    assert row_counts(db) == before
    assert redis.dbsize() == 0
    assert "PERIWINKLE" not in caplog.text
    assert not any(fragment in caplog.text for fragment in NUMBER_FRAGMENTS)


# --- status callbacks ----------------------------------------------------------------------


def status(twilio: TwilioClient, **fields: str) -> TwiML:
    """A status callback of a leg of a call to the member."""
    form = {
        "AccountSid": twilio.suite.account_sid,
        "From": CALLER,
        "To": MEMBER_PHONE,
        "CallbackSource": "call-progress-events",
    }
    return twilio.post("/voice/status", **form, **fields)


def test_status_callback_is_queued_with_ids_only(twilio: TwilioClient, redis: Redis, db: Database) -> None:
    root = status(
        twilio,
        CallSid="CAleg1",
        ParentCallSid="CAparent1",
        SequenceNumber="3",
        CallStatus="completed",
        CallDuration="42",
    )
    assert root.verbs == []
    assert queued(redis, db) == [
        ("worker.calllog.record_call_event", ("CAleg1", 3, "completed", 42, "CAparent1"))
    ]


def test_the_numbers_own_status_callback(twilio: TwilioClient, redis: Redis, db: Database) -> None:
    status(twilio, CallSid="CAparent1", CallStatus="ringing")
    assert queued(redis, db) == [
        ("worker.calllog.record_call_event", ("CAparent1", 0, "ringing", None, None))
    ]


@pytest.mark.parametrize(
    ("sequence", "duration"), [("x", "ten"), ("-1", "-5"), ("", ""), ("1e3", "4.5"), ("٣", "99999999999")]
)
def test_malformed_numbers_are_treated_as_missing(
    twilio: TwilioClient, redis: Redis, db: Database, sequence: str, duration: str
) -> None:
    root = status(
        twilio, CallSid="CAleg2", SequenceNumber=sequence, CallStatus="in-progress", CallDuration=duration
    )
    assert root.verbs == []
    assert queued(redis, db) == [
        ("worker.calllog.record_call_event", ("CAleg2", 0, "in-progress", None, None))
    ]


def test_an_unknown_status_is_not_passed_on_as_free_text(
    twilio: TwilioClient, redis: Redis, db: Database
) -> None:
    status(twilio, CallSid="CAleg3", CallStatus="call me on 07911123456")
    assert queued(redis, db) == [("worker.calllog.record_call_event", ("CAleg3", 0, "unknown", None, None))]


def test_a_status_without_a_callsid_queues_nothing(twilio: TwilioClient, redis: Redis, db: Database) -> None:
    assert status(twilio, CallStatus="completed").verbs == []
    assert queued(redis, db) == []


# --- fallback and failures -------------------------------------------------------------------


@pytest.fixture
def broken_app(app_config: AppConfig, tmp_path: Path) -> Flask:
    """Database and Redis both unreachable (nothing listens on port 1)."""
    config = app_config(
        DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/nothing",
        REDIS_URL="redis://127.0.0.1:1/0",
    )
    return create_app(config)


APOLOGY = "Sorry, this number cannot take your call right now. Please try again later. Goodbye."


def test_fallback_needs_neither_database_nor_redis(broken_app: Flask, suite: SuiteConfig) -> None:
    form = {"CallSid": "CA1", "From": CALLER, "To": LINE, "ErrorCode": "11200", "ErrorUrl": "https://x/voice"}
    root = TwilioClient(broken_app.test_client(), suite).post("/voice/fallback", **form)
    assert root.verbs == ["Say", "Hangup"]
    assert root[0].text == APOLOGY


@pytest.mark.parametrize(
    ("path", "query", "fields"),
    [
        ("/voice/incoming", "", {"CallStatus": "ringing"}),
        ("/voice/whisper", "call=CA1", {}),
        ("/voice/screen", "call=CA1", {"Digits": "2"}),
        # The greeting answered the call, so the apology costs the caller nothing more.
        ("/voice/dial_result", "call=CA1&answered=1", {"DialCallStatus": "completed"}),
        ("/voice/status", "", {"CallStatus": "completed", "SequenceNumber": "1"}),
    ],
)
def test_an_internal_failure_is_answered_with_safe_twiml(
    broken_app: Flask,
    suite: SuiteConfig,
    caplog: pytest.LogCaptureFixture,
    path: str,
    query: str,
    fields: dict[str, str],
) -> None:
    caplog.set_level(logging.DEBUG)
    form = {"CallSid": "CA1", "From": CALLER, "To": LINE, **fields}
    root = TwilioClient(broken_app.test_client(), suite).post(path, query=query, **form)  # 200, text/xml
    assert root.verbs == ["Say", "Hangup"]
    assert root[0].text == APOLOGY
    assert "failed with" in caplog.text  # the failure is visible ...
    assert not any(fragment in caplog.text for fragment in NUMBER_FRAGMENTS)  # ... without a number


def test_a_failing_dial_result_on_an_unanswered_call_rejects_it(
    broken_app: Flask, suite: SuiteConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """The apology would answer (and bill) a call nobody accepted: the safe
    answer there is the one rejection every call that will not ring gets."""
    caplog.set_level(logging.DEBUG)
    form = {"CallSid": "CA1", "From": CALLER, "To": LINE, "CallStatus": "ringing"}
    form["DialCallStatus"] = "completed"  # no DialBridged: the app must look it up, and fails
    root = TwilioClient(broken_app.test_client(), suite).post("/voice/dial_result", query="call=CA1", **form)
    assert root.verbs == ["Reject"] and root[0].attrib == {} and root.said == ""
    assert "voice webhook dial_result failed with" in caplog.text
