"""The member calling the members' access line, keying their Safety Number
and PIN, and stepping through the menu, as Twilio posts it; and the rows the
menu acts on."""

from __future__ import annotations

import itertools
from typing import Any

from flask import Flask
from redis import Redis
from rq import Queue
from sqlalchemy import select

from storage.db import Database
from storage.models import Call, CallDirection, Member, SafetyNumber
from storage.vault import NumberVault
from tests.support import people
from tests.support.twilio import TwilioClient, TwiML

MENU = "/voice/menu"
ACCESS = "/voice/access"

_sids = itertools.count(1)


def new_sid(prefix: str = "CA") -> str:
    """A fresh 34-character Twilio-style sid."""
    return f"{prefix}{next(_sids):032d}"


class MemberMenu:
    """The ``menu`` fixture: the standard member's calls to the access line
    and on into their menu."""

    def __init__(self, twilio: TwilioClient, db: Database, vault: NumberVault) -> None:
        self.twilio = twilio
        self.db = db
        self.vault = vault

    def on(self, app: Flask, db: Database | None = None) -> MemberMenu:
        """The same, against another app (and database)."""
        return MemberMenu(TwilioClient(app.test_client(), self.twilio.suite), db or self.db, self.vault)

    def seed(self, **preferences: Any) -> int:
        """Enrol the standard member (people.MEMBER_PHONE on people.LINE, PIN
        people.PIN) as the app enrols members; their id."""
        return people.enrol(self.db, self.vault, **preferences).id

    def url(self, path: str, query: str = "") -> str:
        return self.twilio.suite.url(path, query)

    def post(
        self,
        step: str,
        call_sid: str,
        *,
        query: str = "",
        phone: str = people.MEMBER_PHONE,
        line: str = people.LINE,
        **extra: str,
    ) -> TwiML:
        """POST one signed menu step (``step`` like "pin", "options") of the
        call ``call_sid`` from ``phone`` to ``line``; its TwiML."""
        form = {
            "AccountSid": self.twilio.suite.account_sid,
            "CallSid": call_sid,
            "From": phone,
            "To": line,
            "Direction": "inbound",
            "CallStatus": "in-progress",
            **extra,
        }
        return self.twilio.post(f"{MENU}/{step}", query=query, **form)

    def call_access_line(self, call_sid: str, *, phone: str = people.MEMBER_PHONE) -> TwiML:
        """A call from ``phone`` to the access line; its first prompt."""
        access_line = people.add_access_line(self.db)
        return self.twilio.post(
            "/voice/incoming",
            AccountSid=self.twilio.suite.account_sid,
            CallSid=call_sid,
            From=phone,
            To=access_line,
            Direction="inbound",
            CallStatus="ringing",
        )

    def key(self, step: str, call_sid: str, digits: str, *, phone: str = people.MEMBER_PHONE) -> TwiML:
        """Key ``digits`` at an access-line prompt (``step`` "number" or "pin")."""
        form = {
            "AccountSid": self.twilio.suite.account_sid,
            "CallSid": call_sid,
            "From": phone,
            "To": people.ACCESS_LINE,
            "Direction": "inbound",
            "CallStatus": "in-progress",
            "Digits": digits,
        }
        return self.twilio.post(f"{ACCESS}/{step}", **form)

    def through_access_line(
        self,
        call_sid: str,
        *,
        line: str = people.LINE,
        pin: str = people.PIN,
        phone: str = people.MEMBER_PHONE,
    ) -> list[TwiML]:
        """Call the access line from ``phone``, key ``line`` (nationally) and
        ``pin``; the three answers: first prompt, PIN prompt, outcome."""
        return [
            self.call_access_line(call_sid, phone=phone),
            self.key("number", call_sid, people.national(line), phone=phone),
            self.key("pin", call_sid, pin, phone=phone),
        ]

    def log_in(self, call_sid: str, pin: str = people.PIN) -> TwiML:
        """The member's call through the access line with ``pin``; the TwiML answering the PIN."""
        return self.through_access_line(call_sid, pin=pin)[-1]

    def logged_in_call(self) -> str:
        """A new call of the (enrolled) member that passed the PIN; its sid."""
        sid = new_sid()
        self.log_in(sid)
        return sid

    def press(self, call_sid: str, digits: str, *, query: str = "") -> TwiML:
        return self.post("options", call_sid, query=query, Digits=digits)

    def add_inbound_call(self, member_id: int, caller: str | None, *, blocked: bool = False) -> int:
        """Log an inbound call from ``caller`` (None: withheld) to the member; its id."""
        with self.db.session() as session:
            line_id = session.scalars(
                select(SafetyNumber.id).where(SafetyNumber.member_id == member_id)
            ).one()
            call = Call(
                call_sid=new_sid(),
                direction=CallDirection.INBOUND,
                member_id=member_id,
                safety_number_id=line_id,
                withheld=caller is None,
                blocked=blocked,
            )
            if caller is not None:
                protected = self.vault.protect(caller)
                call.other_party_index = protected.index
                call.other_party_encrypted = protected.token
                call.other_party_last3 = protected.last3
            session.add(call)
            session.flush()
            return call.id


def member_row(db: Database, member_id: int) -> Member:
    with db.session() as session:
        return session.get_one(Member, member_id)


def jobs(redis: Redis, db: Database) -> list[tuple[str | None, tuple[Any, ...]]]:
    """(function path, ids) of the work each doorbell queued on the "safety"
    queue asks for (its event, read from the table)."""
    from core.queue import JOBS
    from tests.worker_helpers import rung_jobs

    return [(JOBS[name], args) for name, args in rung_jobs(db, Queue("safety", connection=redis).jobs)]
