"""Helpers of the staff console tests: staff, reports, calls, a real WAV."""

from __future__ import annotations

import io
import itertools
import math
import re
import struct
import wave
from dataclasses import dataclass
from typing import Any

import flask
from flask.testing import FlaskClient
from flask_wtf.csrf import generate_csrf
from werkzeug.test import TestResponse

from ivr import services_of
from ivr.staff.common import clock
from ivr.staff.signed_in import open_session
from storage import repositories as repo
from storage.db import Database
from storage.models import Call, CallDirection, Report, Staff
from storage.recordings import LocalRecordingStore
from storage.vault import NumberVault
from tests.support.people import cheap_hashing

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class People:
    """The staff of the ``people`` fixture (tests/staff/conftest.py), by id."""

    admin: int
    alice: int  # a caseworker
    bob: int  # another caseworker


CSRF = "test-csrf-token"
_sids = itertools.count(1)


def make_staff(db: Database, email: str, role: str = "caseworker", **cols: Any) -> int:
    """A staff account made as ``flask --app ivr staff add`` makes one (at the
    cheapest Argon2 cost), then given any other ``cols`` the test needs."""
    with cheap_hashing(), db.session() as s:
        staff = repo.add_staff(s, email=email, password=PASSWORD, role=role)
        for column, value in cols.items():
            assert hasattr(staff, column), column
            setattr(staff, column, value)
        return staff.id


def sign_in_as(client: FlaskClient, staff_id: int) -> FlaskClient:
    """Put a signed-in session (with a known CSRF secret) in the client's cookie,
    opened as the sign-in view opens one, at the app's clock."""
    app = client.application
    with services_of(app).db.session() as s, app.app_context():
        staff = s.get(Staff, staff_id)
        assert staff is not None
        with client.session_transaction() as sess:
            open_session(sess, staff, clock())
            sess["csrf_token"] = CSRF
    return client


def csrf_token_of(client: FlaskClient) -> str:
    """The token a console page would put in its forms for this client's session,
    made by Flask-WTF itself from the session's secret."""
    with client.session_transaction() as sess:
        secret = sess.get("csrf_token", CSRF)
    with client.application.test_request_context():
        flask.session["csrf_token"] = secret
        return generate_csrf()


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None, **kw: Any) -> TestResponse:
    """A POST carrying the session's CSRF token."""
    return client.post(path, data={"csrf_token": csrf_token_of(client), **(data or {})}, **kw)


def without_csrf(html: str) -> str:
    """A page with its CSRF tokens blanked: Flask-WTF signs each with the
    second it was made, so two identical pages may carry different ones."""
    return re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value=""', html)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def make_call(
    db: Database, vault: NumberVault, caller: str = "+447700900123", **cols: Any
) -> tuple[int, str]:
    """An inbound call from ``caller``; returns (call id, caller blind index)."""
    protected = vault.protect(caller)
    with db.session() as s:
        call = Call(
            call_sid=cols.pop("call_sid", f"CA{next(_sids):032d}"),
            direction=cols.pop("direction", CallDirection.INBOUND),
            other_party_index=protected.index,
            other_party_encrypted=protected.token,
            other_party_last3=protected.last3,
            **cols,
        )
        s.add(call)
        s.flush()
        return call.id, protected.index


def make_report(db: Database, **cols: Any) -> int:
    with db.session() as s:
        report = Report(**cols)
        s.add(report)
        s.flush()
        return report.id


def wav_bytes(seconds: float = 2.0, rate: int = 8000) -> bytes:
    """A real mono 16-bit PCM WAV: a 440 Hz tone."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return buf.getvalue()


def store_recording(store: LocalRecordingStore, name: str, audio: bytes) -> str:
    return store.put(name, audio)


class Clock:
    """A clock the test moves by hand (the ``clock`` setting: session ages, TOTP steps)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
