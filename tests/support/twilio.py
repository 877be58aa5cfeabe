"""A test client that talks to the app as Twilio does, and the TwiML it reads back."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import urlencode

from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse

from tests.support.suite import SuiteConfig

Form = Mapping[str, str] | Sequence[tuple[str, str]]


def _pairs(form: Form) -> list[tuple[str, str]]:
    if isinstance(form, Mapping):
        return [(str(k), str(v)) for k, v in form.items()]
    return [(str(k), str(v)) for k, v in form]


class TwiML:
    """A parsed TwiML answer: the ``<Response>`` root and the raw body."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.root = ET.fromstring(body)  # noqa: S314 (our own TwiML, in a test)
        assert self.root.tag == "Response", body

    @property
    def verbs(self) -> list[str]:
        """The top-level verb names, in order: ``["Say", "Dial"]``."""
        return [child.tag for child in self.root]

    @property
    def said(self) -> str:
        """Everything spoken, in order, nested ``<Say>`` (inside ``<Gather>``) included."""
        return said(self.root)

    def one(self, path: str) -> ET.Element:
        """The element at ``path`` (ElementTree syntax); it must be there."""
        found = self.root.find(path)
        assert found is not None, f"no {path} in {self.body!r}"
        return found

    def find(self, path: str) -> ET.Element | None:
        return self.root.find(path)

    def iter(self, tag: str | None = None) -> Iterator[ET.Element]:
        return self.root.iter(tag)

    def __getitem__(self, index: int) -> ET.Element:
        return self.root[index]

    def __iter__(self) -> Iterator[ET.Element]:
        return iter(self.root)

    def __len__(self) -> int:
        return len(self.root)


def said(element: ET.Element | TwiML) -> str:
    """Everything ``element`` speaks, nested ``<Say>`` included."""
    return " ".join((say.text or "") for say in element.iter("Say"))


def twiml_of(response: TestResponse) -> TwiML:
    """The TwiML of a 200 text/xml answer."""
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/xml", response.mimetype
    return TwiML(response.get_data())


class TwilioClient:
    """Posts to the app as Twilio does: form-encoded and signed with
    ``X-Twilio-Signature`` over ``PUBLIC_BASE_URL`` + path + query."""

    def __init__(self, client: FlaskClient, suite: SuiteConfig) -> None:
        self.client = client
        self.suite = suite

    def sign(self, url: str, form: Form, token: str | None = None) -> str:
        """The signature Twilio would send for ``url`` and ``form``.

        Repeated keys are signed the way Twilio signs them: every value under
        its key (the validator reads a MultiDict with ``getlist``).
        """
        validator = RequestValidator(token if token is not None else self.suite.auth_token)
        return validator.compute_signature(url, MultiDict(_pairs(form)))

    def send(
        self,
        path: str,
        form: Form,
        *,
        query: str = "",
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        close: bool = True,
    ) -> TestResponse:
        """POST ``form`` to ``path?query``, signed; the raw response.

        ``headers`` are added (and may override ``X-Twilio-Signature``).
        ``close=False`` leaves the response open: what the view left for
        after its answer has not run yet (the test closes it).
        """
        query = query.lstrip("?")
        pairs = _pairs(form)
        all_headers = {"X-Twilio-Signature": self.sign(self.suite.url(path, query), pairs, token)}
        all_headers.update(headers or {})
        response = self.client.post(
            path + (f"?{query}" if query else ""),
            data=urlencode(pairs),
            content_type="application/x-www-form-urlencoded",
            headers=all_headers,
        )
        # Read and closed, as a WSGI server does once the bytes are sent:
        # what a view leaves for after its response (ivr/after_response.py) runs.
        response.get_data()
        if close:
            response.close()
        return response

    def post(self, path: str, *, query: str = "", **form: str) -> TwiML:
        """POST the Twilio fields ``form`` to ``path?query``, signed; the TwiML answer."""
        return twiml_of(self.send(path, form, query=query))
