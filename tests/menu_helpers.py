"""Helpers of the member-menu tests: a member calling their own line, logging
in with the PIN, pressing keys, and seeding the calls the menu acts on."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from typing import Any

from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue
from sqlalchemy import select, update

from storage.db import Database
from storage.models import Call, CallDirection, Member, SafetyNumber
from tests.support.suite import SuiteConfig
from tests.voice_helpers import parse_twiml, post_twilio, seed_member

MEMBER_PHONE = "+442079460123"
LINE = "+442079460001"
PIN = "4821"
MENU = "/voice/menu"

_sids = itertools.count(1)


def new_sid(prefix: str = "CA") -> str:
    """A fresh 34-character Twilio-style sid."""
    return f"{prefix}{next(_sids):032d}"


def vault(app: Flask):
    return app.extensions["safety"].vault


# Argon2id with the smallest cost: the app checks it exactly like a real hash
# (the parameters travel in the hash), but each PIN check costs milliseconds.
_CHEAP_PIN_HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PIN)


def seed(app: Flask, db: Database, **prefs: Any) -> int:
    """The standard member (MEMBER_PHONE on LINE, PIN 4821); returns the member id."""
    member_id, _ = seed_member(db, vault(app), phone=MEMBER_PHONE, line=LINE, pin=PIN, **prefs)
    with db.session() as session:
        session.execute(update(Member).where(Member.id == member_id).values(pin_hash=_CHEAP_PIN_HASH))
    return member_id


def call_form(call_sid: str, *, phone: str = MEMBER_PHONE, line: str = LINE, **extra: str) -> dict[str, str]:
    """What Twilio posts during the member's call to their own line."""
    form = {
        "AccountSid": "ACtest00000000000000000000000000000",
        "CallSid": call_sid,
        "From": phone,
        "To": line,
        "Direction": "inbound",
        "CallStatus": "in-progress",
    }
    form.update(extra)
    return form


def post(client: FlaskClient, step: str, call_sid: str, *, query: str = "", **form: str) -> ET.Element:
    """POST one signed menu step (``step`` like "pin", "options") and parse its TwiML."""
    response = post_twilio(client, f"{MENU}/{step}", call_form(call_sid, **form), query=query)
    return parse_twiml(response)


def log_in(client: FlaskClient, call_sid: str, pin: str = PIN) -> ET.Element:
    """Start the menu and enter ``pin``; the TwiML answering the PIN."""
    post(client, "start", call_sid)
    return post(client, "pin", call_sid, Digits=pin)


def press(client: FlaskClient, call_sid: str, digits: str, *, query: str = "") -> ET.Element:
    return post(client, "options", call_sid, query=query, Digits=digits)


def said(root: ET.Element) -> str:
    """Everything spoken, in order, nested ``<Say>`` (inside ``<Gather>``) included."""
    return " ".join((el.text or "") for el in root.iter("Say"))


def gather(root: ET.Element) -> ET.Element:
    found = root.find("Gather")
    assert found is not None, ET.tostring(root)
    return found


def url(path: str, query: str = "") -> str:
    return SuiteConfig().url(path, query)


def add_inbound_call(
    app: Flask,
    db: Database,
    member_id: int,
    caller: str | None,
    *,
    blocked: bool = False,
) -> int:
    """Log an inbound call from ``caller`` (None: withheld) to the member; its id."""
    with db.session() as session:
        line_id = session.scalars(select(SafetyNumber.id).where(SafetyNumber.member_id == member_id)).one()
        call = Call(
            call_sid=new_sid(),
            direction=CallDirection.INBOUND,
            member_id=member_id,
            safety_number_id=line_id,
            withheld=caller is None,
            blocked=blocked,
        )
        if caller is not None:
            protected = vault(app).protect(caller)
            call.other_party_index = protected.index
            call.other_party_encrypted = protected.token
            call.other_party_last3 = protected.last3
        session.add(call)
        session.flush()
        return call.id


def member(db: Database, member_id: int) -> Member:
    with db.session() as session:
        found = session.get(Member, member_id)
        assert found is not None
        return found


def jobs(redis: Redis) -> list[tuple[str | None, tuple[Any, ...]]]:
    """(function path, args) of every job queued on the "safety" queue."""
    return [(job.func_name, tuple(job.args)) for job in Queue("safety", connection=redis).jobs]
