"""How the simulator reaches the app: signed webhooks, in-process or over HTTP.

Twilio signs the URL it requests (``PUBLIC_BASE_URL`` + path + query) with
the form's keys and values appended in key order, HMAC-SHA1 under the
account's auth token. The twilio library's ``RequestValidator`` computes it;
the simulator uses that same function, so what it sends is what the app
would receive from Twilio.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode, urlsplit

from flask import Flask
from twilio.request_validator import RequestValidator

from ivr.services import services_of
from simulator.errors import OutsideTheApp, WebhookUnreachable

USER_AGENT = "TwilioProxy/1.1 (Safety Number simulator)"
FORM_TYPE = "application/x-www-form-urlencoded"
# Incoming-message webhooks name their charset (docs/reference.md, How Twilio behaves).
SMS_FORM_TYPE = FORM_TYPE + "; charset=UTF-8"


@dataclass(frozen=True)
class Answer:
    """What the app answered a webhook with."""

    status: int
    body: bytes
    content_type: str


class Transport(Protocol):
    """Sends one signed webhook request and returns the app's answer."""

    public_base_url: str

    def request(
        self, method: str, url: str, params: Mapping[str, str], content_type: str | None = None
    ) -> Answer:
        """Send one request; ``content_type`` of a POST defaults to :data:`FORM_TYPE`.

        Raises :class:`WebhookUnreachable` when no answer comes back at all.
        """
        ...


def signature(token: str, url: str, params: Mapping[str, str]) -> str:
    """``X-Twilio-Signature`` for ``url`` (as Twilio requested it) and the form."""
    return RequestValidator(token).compute_signature(url, dict(params))


def signed_request(token: str, method: str, url: str, params: Mapping[str, str]) -> tuple[str, bytes, str]:
    """(url to request, body, signature) as Twilio builds them for GET or POST.

    GET puts the parameters in the query string and signs the whole URL;
    POST signs the URL plus the form.
    """
    if method == "GET":
        sep = "&" if urlsplit(url).query else "?"
        full = url + (sep + urlencode(params) if params else "")
        return full, b"", signature(token, full, {})
    return url, urlencode(params).encode(), signature(token, url, params)


def _path_of(public_base_url: str, url: str) -> str:
    if not url.startswith(public_base_url + "/"):
        raise OutsideTheApp(f"TwiML points at a URL outside PUBLIC_BASE_URL: {urlsplit(url).netloc or url}")
    return url[len(public_base_url) :]


class InProcess:
    """Calls the app through Flask's test client: no server, no network."""

    def __init__(self, app: Flask, public_base_url: str | None = None, token: str | None = None) -> None:
        self.client = app.test_client()
        if public_base_url is None or token is None:
            settings = services_of(app).settings
            public_base_url = public_base_url or settings.public_base_url
            token = token if token is not None else settings.twilio_auth_token
        self.public_base_url: str = public_base_url or ""
        self.token: str = token or ""

    def request(
        self, method: str, url: str, params: Mapping[str, str], content_type: str | None = None
    ) -> Answer:
        full, body, sig = signed_request(self.token, method, url, params)
        path = _path_of(self.public_base_url, full)
        headers = {"X-Twilio-Signature": sig, "User-Agent": USER_AGENT}
        if method == "GET":
            response = self.client.get(path, headers=headers)
        else:
            kind = content_type or FORM_TYPE
            response = self.client.post(path, data=body, content_type=kind, headers=headers)
        body = response.get_data()
        response.close()  # as a WSGI server does once the bytes are sent (ivr/after_response.py)
        return Answer(response.status_code, body, response.mimetype or "")


class OverHttp:
    """Calls a running server (``flask run``, gunicorn) at ``server_url``.

    Requests are signed for ``public_base_url`` — what Twilio would call —
    and sent to ``server_url``, as a TLS-terminating proxy would forward them.
    """

    def __init__(self, server_url: str, public_base_url: str, token: str, timeout: float = 15.0) -> None:
        self.server_url = server_url.rstrip("/")
        self.public_base_url = public_base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(
        self, method: str, url: str, params: Mapping[str, str], content_type: str | None = None
    ) -> Answer:
        full, body, sig = signed_request(self.token, method, url, params)
        target = self.server_url + _path_of(self.public_base_url, full)
        kind = content_type or FORM_TYPE
        headers = {"X-Twilio-Signature": sig, "User-Agent": USER_AGENT, "Content-Type": kind}
        req = urllib.request.Request(  # noqa: S310 - the URL is built from server_url, http(s) only
            target, data=body if method == "POST" else None, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                return Answer(resp.status, resp.read(), resp.headers.get_content_type())
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, exc.read(), exc.headers.get_content_type() if exc.headers else "")
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            # Refused, reset or too slow: Twilio gets no answer and goes to the fallback.
            raise WebhookUnreachable(f"no answer from {urlsplit(target).netloc}: {exc}") from exc
