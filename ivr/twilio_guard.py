"""Verify ``X-Twilio-Signature`` on every Twilio-facing request.

The signature covers ``PUBLIC_BASE_URL`` + path + raw query string and the
raw form body (repeated keys included). It is checked against the configured
public origin, never against the Host header the app happens to see, so it
holds behind a TLS-terminating proxy and a request signed for one path cannot
be replayed to another. Failure is closed: 403 before the view runs, so
nothing is written, enqueued, or logged beyond the path.
"""

from __future__ import annotations

import functools
import hmac
import logging
from urllib.parse import parse_qsl

from flask import Response, current_app, g, request
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

log = logging.getLogger(__name__)

FORM_TYPE = "application/x-www-form-urlencoded"


def signed_url() -> str:
    """The URL Twilio requested, as it signed it.

    ``script_root`` is included because :func:`ivr.twiml.external_url` builds
    the URLs Twilio is given with ``url_for``, which includes it: when the app
    is mounted under a prefix (``SCRIPT_NAME``), both sides must agree.
    """
    base = current_app.extensions["safety"].settings.public_base_url
    query = request.query_string.decode("latin-1")
    return base + request.script_root + request.path + (f"?{query}" if query else "")


class SignedForm(MultiDict[str, str]):
    """A form as Twilio signed it. ``getall`` is the name twilio's validator
    asks for first: without it, every field costs the validator a caught
    ``AttributeError`` before it falls back to ``getlist``."""

    def getall(self, key: str) -> list[str]:
        return self.getlist(key)


def raw_form() -> SignedForm:
    """The form exactly as sent: every value of every repeated key, blanks kept."""
    if request.mimetype != FORM_TYPE:
        return SignedForm()
    body = request.get_data(cache=True, as_text=False)
    pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return SignedForm(pairs)


@functools.lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


def signature_matches(token: str, url: str, form: SignedForm, signature: str) -> bool:
    """True when ``signature`` is Twilio's for this URL and form.

    The URL as configured is tried first, with one HMAC; only when that fails
    does twilio's ``validate`` run, which also tries the URL with and without
    an explicit port (two more HMACs) — the rare case, not every request's cost.
    """
    validator = _validator(token)
    if hmac.compare_digest(validator.compute_signature(url, form).encode(), signature.encode()):
        return True
    return bool(validator.validate(url, form, signature))


def twilio_form() -> MultiDict[str, str]:
    """The verified form of this request (parsed once by the guard)."""
    form: MultiDict[str, str] = g.twilio_form
    return form


def require_twilio_signature() -> Response | None:
    """``before_request`` hook: 403 unless the request is signed by Twilio."""
    token = current_app.extensions["safety"].settings.twilio_auth_token
    signature = request.headers.get("X-Twilio-Signature", "")
    form = raw_form()
    if not token or not signature or not signature_matches(token, signed_url(), form, signature):
        log.warning("rejected a request with a missing or wrong Twilio signature on %s", request.path)
        return Response("Forbidden: invalid Twilio signature\n", status=403, mimetype="text/plain")
    g.twilio_form = form
    return None
