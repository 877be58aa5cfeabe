"""The world of check-in tests: an app on a clock moved by hand, the fake
Twilio its calls go to, and the steps Twilio takes on a call the app placed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from core.services import bound
from ivr.services import services_of
from simulator.fake_twilio import FakeTwilio, PlacedCall
from storage.db import Database
from storage.models import Checkin, CheckinAlarm
from tests.staff.helpers import Clock
from tests.support.twilio import TwilioClient, TwiML, twiml_of
from worker.checkins import fire_due_checkins

# A Thursday evening in December (UTC equals UK time in winter).
START = datetime(2026, 12, 3, 20, 0, tzinfo=UTC).timestamp()


@dataclass
class CheckinCalls:
    """Runs the due-check as the worker does, and answers the calls it placed as Twilio would."""

    app: Flask
    twilio: TwilioClient
    fake: FakeTwilio
    db: Database
    clock: Clock

    def fire(self) -> list[PlacedCall]:
        """Run the periodic "fire due check-ins" job once; the calls it placed."""
        before = len(self.fake.placed)
        with bound(services_of(self.app)):
            fire_due_checkins()
        return self.fake.placed[before:]

    def request(self, url: str | None, call: PlacedCall, **form: str) -> TwiML:
        """POST to one of the app's URLs (as given to Twilio) for ``call``, signed."""
        return twiml_of(self.send(url, call, close=True, **form))

    def send(self, url: str | None, call: PlacedCall, *, close: bool = True, **form: str) -> TestResponse:
        """The same, the raw response (``close=False``: see ``TwilioClient.send``)."""
        assert url is not None
        parts = urlsplit(url)
        fields = {
            "AccountSid": self.twilio.suite.account_sid,
            "CallSid": call.sid,
            "From": call.from_,
            "To": call.to,
            "Direction": "outbound-api",
            **form,
        }
        return self.twilio.send(parts.path, fields, query=parts.query, close=close)

    def answer(self, call: PlacedCall, answered_by: str = "human") -> TwiML:
        """The member (or their voicemail) picks up: Twilio fetches the call's TwiML."""
        return self.request(call.url, call, CallStatus="in-progress", AnsweredBy=answered_by)

    def key(self, twiml: TwiML, call: PlacedCall, digits: str) -> TwiML:
        """Key ``digits`` at the Gather of ``twiml`` (empty: the Gather timed out)."""
        action = twiml.one("Gather").get("action")
        return self.request(action, call, CallStatus="in-progress", Digits=digits)

    def end(self, call: PlacedCall, status: str, duration: str = "0") -> TwiML:
        """The call's final status callback."""
        return self.request(call.status_callback, call, CallStatus=status, CallDuration=duration)

    def app_now(self) -> datetime:
        """Now by the app's clock (naive UTC, as stored)."""
        return services_of(self.app).settings.now()

    def checkin(self, checkin_id: int) -> Checkin:
        with self.db.session() as session:
            return session.get_one(Checkin, checkin_id)

    def alarms(self) -> list[CheckinAlarm]:
        with self.db.session() as session:
            return list(session.scalars(select(CheckinAlarm).order_by(CheckinAlarm.id)))
