"""Shared helpers of the voice tests: sign and post a Twilio webhook, read
the TwiML back, and seed a member with a line.

Import them from any test module: ``from tests.voice_helpers import ...``.
The API is stable; other engineers' tests rely on it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse

from storage.db import Database
from storage.vault import NumberVault
from tests.support import people
from tests.support.suite import SuiteConfig

AUTH_TOKEN = SuiteConfig.auth_token
PUBLIC_BASE_URL = SuiteConfig.public_base_url

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


def seed_member(
    db: Database,
    vault: NumberVault,
    *,
    phone: str = people.MEMBER_PHONE,
    line: str = people.LINE,
    pin: str = people.PIN,
    **prefs: Any,
) -> tuple[int, str]:
    """An active member on ``phone`` holding Safety Number ``line``, enrolled
    as the app enrols them (``tests.support.people.enrol``); ``(id, line)``."""
    member = people.enrol(db, vault, phone=phone, line=line, pin=pin, **prefs)
    return member.id, member.line
