"""Shared helpers of the voice tests: sign and post a Twilio webhook, read
the TwiML back, and seed a member with a line.

Import them from any test module: ``from tests.voice_helpers import ...``.
The API is stable; other engineers' tests rely on it.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from flask.testing import FlaskClient
from sqlalchemy import select
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse

from storage.db import Database
from storage.hashing import hash_secret
from storage.models import LineStatus, Member, MemberStatus, SafetyNumber
from storage.vault import NumberVault
from tests.conftest import AUTH_TOKEN, PUBLIC_BASE_URL

Form = Mapping[str, str] | Sequence[tuple[str, str]]


def _pairs(form: Form) -> list[tuple[str, str]]:
    if isinstance(form, Mapping):
        return [(str(k), str(v)) for k, v in form.items()]
    return [(str(k), str(v)) for k, v in form]


def sign(url: str, form: Form, token: str = AUTH_TOKEN) -> str:
    """The ``X-Twilio-Signature`` Twilio would send for ``url`` and ``form``.

    Repeated keys are signed the way Twilio signs them: every value under
    its key (the validator reads a MultiDict with ``getlist``).
    """
    return RequestValidator(token).compute_signature(url, MultiDict(_pairs(form)))


def post_twilio(
    client: FlaskClient,
    path: str,
    form: Form,
    *,
    query: str = "",
    token: str = AUTH_TOKEN,
    headers: Mapping[str, str] | None = None,
) -> TestResponse:
    """POST ``form`` to ``path?query`` signed as Twilio signs it.

    The signature covers ``PUBLIC_BASE_URL`` + path + query, as the app checks
    it. ``headers`` are added (and may override ``X-Twilio-Signature``).
    """
    query = query.lstrip("?")
    url = PUBLIC_BASE_URL + path + (f"?{query}" if query else "")
    pairs = _pairs(form)
    all_headers = {"X-Twilio-Signature": sign(url, pairs, token)}
    all_headers.update(headers or {})
    return client.post(
        path + (f"?{query}" if query else ""),
        data=urlencode(pairs),
        content_type="application/x-www-form-urlencoded",
        headers=all_headers,
    )


def parse_twiml(response: TestResponse) -> ET.Element:
    """The TwiML root (``<Response>``) of a 200 text/xml answer."""
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/xml", response.mimetype
    root = ET.fromstring(response.get_data())  # noqa: S314 (our own TwiML, in a test)
    assert root.tag == "Response"
    return root


def verbs(root: ET.Element) -> list[str]:
    """The top-level verb names, in order: ``["Say", "Dial"]``."""
    return [child.tag for child in root]


@functools.lru_cache(maxsize=16)
def _pin_hash(pin: str) -> str:
    # Argon2 is slow on purpose; tests reuse one hash per PIN.
    return hash_secret(pin)


def seed_member(
    db: Database,
    vault: NumberVault,
    *,
    phone: str = "+442079460123",
    line: str = "+442079460001",
    pin: str = "4821",
    **prefs: Any,
) -> tuple[int, str]:
    """An active member on ``phone`` holding Safety Number ``line``; committed.

    ``prefs`` set Member columns (``greeting``, ``accept_withheld``,
    ``caller_id_shown``, ``working_name`` ...). The line is added to the pool
    if it is not there. Returns ``(member_id, line_e164)``.
    """
    protected = vault.protect(phone)
    with db.session() as session:
        safety_number = session.scalars(select(SafetyNumber).where(SafetyNumber.e164 == line)).first()
        if safety_number is None:
            safety_number = SafetyNumber(e164=line)
            session.add(safety_number)
        member = Member(
            working_name=prefs.pop("working_name", "Test member"),
            phone_encrypted=protected.token,
            phone_index=protected.index,
            pin_hash=_pin_hash(pin),
            status=MemberStatus.ACTIVE,
            **prefs,
        )
        session.add(member)
        session.flush()
        safety_number.member_id = member.id
        safety_number.status = LineStatus.ASSIGNED
        session.flush()
        return member.id, line
