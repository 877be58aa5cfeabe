"""Every Twilio webhook's two ends: the guard that lets a request in, and
the TwiML that goes back.

In: ``X-Twilio-Signature`` is verified on every Twilio-facing request. It
covers ``PUBLIC_BASE_URL`` + path + raw query string and the raw form body
(repeated keys included), checked against the configured public origin,
never against the Host header the app happens to see, so it holds behind a
TLS-terminating proxy and a request signed for one path cannot be replayed
to another. Failure is closed: 403 before the view runs, so nothing is
written, enqueued, or logged beyond the path.

Out: TwiML as ``text/xml``; action URLs under the same public origin the
signature is checked against (:func:`external_url` and :func:`signed_url`
must agree, which is why they live together); and never a 5xx to Twilio
(:func:`never_fails`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import traceback
from collections.abc import Callable
from typing import Any, ParamSpec
from urllib.parse import parse_qsl, quote

from flask import Response, current_app, g, request, url_for
from twilio.request_validator import RequestValidator
from twilio.twiml import TwiML
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.datastructures import MultiDict

from callflows.prompts import APOLOGY
from callflows.speech import english_speaker
from ivr import twiml_text
from ivr.services import current_services

log = logging.getLogger(__name__)
P = ParamSpec("P")

# --- in: the signature guard --------------------------------------------------

FORM_TYPE = "application/x-www-form-urlencoded"


def signed_url(base: str) -> str:
    """The URL Twilio requested, as it signed it, under the public ``base``.

    ``script_root`` is included because :func:`external_url` builds
    the URLs Twilio is given with ``url_for``, which includes it: when the app
    is mounted under a prefix (``SCRIPT_NAME``), both sides must agree.
    """
    query = request.query_string.decode("latin-1")
    return base + request.script_root + request.path + (f"?{query}" if query else "")


class SignedForm(MultiDict[str, str]):
    """A form as Twilio signed it. ``getall`` is the name twilio's validator
    asks for first: without it, every field costs the validator a caught
    ``AttributeError`` before it falls back to ``getlist``."""

    def getall(self, key: str) -> list[str]:
        return self.getlist(key)


def raw_form() -> list[tuple[str, str]]:
    """The form exactly as sent: every value of every repeated key, blanks kept."""
    if request.mimetype != FORM_TYPE:
        return []
    body = request.get_data(cache=True, as_text=False)
    return parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)


@functools.lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


def twilio_signature(token: str, url: str, form: list[tuple[str, str]]) -> str:
    """Twilio's signature of ``url`` and ``form``, as twilio's
    ``RequestValidator.compute_signature`` computes it: base64 HMAC-SHA1 of
    the URL followed by each key and value, keys sorted and, within a key,
    its distinct values sorted — which is the distinct pairs, sorted.
    Written out because the library's walk over a form (a lookup and two
    sorts per key) cost twice the HMAC (tests/test_signature.py holds the
    two equal)."""
    payload = url + "".join(key + value for key, value in sorted(set(form)))
    digest = hmac.new(token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_matches(token: str, url: str, form: list[tuple[str, str]], signature: str) -> bool:
    """True when ``signature`` is Twilio's for this URL and form.

    The URL as configured is tried first, with one HMAC; only when that fails
    does twilio's ``validate`` run, which also tries the URL with and without
    an explicit port (two more HMACs) — the rare case, not every request's cost.
    """
    if hmac.compare_digest(twilio_signature(token, url, form).encode(), signature.encode()):
        return True
    return bool(_validator(token).validate(url, SignedForm(form), signature))


def twilio_form() -> MultiDict[str, str]:
    """The verified form of this request (parsed once by the guard)."""
    form: MultiDict[str, str] = g.twilio_form
    return form


def form_count(raw: str | None) -> int | None:
    """A non-negative integer Twilio sends (``SequenceNumber``, ``CallDuration``,
    ``DialCallDuration``): ASCII digits only, else None (``isdigit`` alone
    would take ``²``)."""
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        return None
    return int(text)


def require_twilio_signature() -> Response | None:
    """``before_request`` hook: 403 unless the request is signed by Twilio."""
    settings = current_services().settings
    token = settings.twilio_auth_token
    signature = request.headers.get("X-Twilio-Signature", "")
    form = raw_form()
    if (
        not token
        or not signature
        or not signature_matches(token, signed_url(settings.public_base_url), form, signature)
    ):
        log.warning("rejected a request with a missing or wrong Twilio signature on %s", request.path)
        return Response("Forbidden: invalid Twilio signature\n", status=403, mimetype="text/plain")
    g.twilio_form = MultiDict(form)
    return None


# --- out: TwiML, action URLs, never a 5xx ----------------------------------------


def twiml(response: TwiML) -> Response:
    """A TwiML document as Twilio wants it: 200, text/xml.

    Encoded as ElementTree would (``xmlcharrefreplace``), so the bytes are
    those of ``str(response)``; see :mod:`ivr.twiml_text`.
    """
    return xml_answer(twiml_text.render(response))


def xml_answer(text: str) -> Response:
    """TwiML already written as text (:func:`twiml`, or a stencil's)."""
    return Response(text.encode("utf-8", "xmlcharrefreplace"), status=200, mimetype="text/xml")


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute URL under ``PUBLIC_BASE_URL`` for TwiML to point Twilio at.

    Values must be opaque ids (a CallSid, a report id): URLs end up in
    Twilio's logs and ours, so they never carry a number.
    """
    base = current_services().settings.public_base_url
    query = "&".join(f"{name}={quote(str(value), safe='')}" for name, value in values.items())
    return base + _endpoint_path(endpoint) + (f"?{query}" if query else "")


def _endpoint_path(endpoint: str) -> str:
    """``url_for(endpoint)``, remembered per app and mount point.

    No Twilio-facing route has path parameters, so an endpoint's path never
    changes; building it through the URL map on every call was a measurable
    part of an inbound call's CPU (BENCHMARKS.md, "Profile").
    """
    paths: dict[tuple[str, str], str] = current_app.extensions.setdefault("external_paths", {})
    key = (endpoint, request.script_root)
    path = paths.get(key)
    if path is None:
        path = paths[key] = url_for(endpoint)
    return path


def apology() -> VoiceResponse:
    """Safe TwiML for any internal failure: a calm message, then hang up."""
    response = VoiceResponse()
    # English: nothing is known about the call, or whose it is.
    english_speaker().say(response, APOLOGY)
    response.hangup()
    return response


def never_fails(view: Callable[P, Response]) -> Callable[P, Response]:
    """Answer any exception with :func:`apology` and status 200.

    The log line names the view and the exception type and shows the stack,
    but not the exception's message, which could quote request data.
    """
    return _answering_failures(view, apology)


def never_fails_with(safe: Callable[[], TwiML]) -> Callable[[Callable[P, Response]], Callable[P, Response]]:
    """:func:`never_fails`, answering with ``safe()`` instead of the apology
    (a view whose caller may not be answered yet: the apology would answer
    and bill the call). ``safe`` must not fail: it reads the request only."""

    def decorate(view: Callable[P, Response]) -> Callable[P, Response]:
        return _answering_failures(view, safe)

    return decorate


def _answering_failures(view: Callable[P, Response], safe: Callable[[], TwiML]) -> Callable[P, Response]:
    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return view(*args, **kwargs)
        except Exception as exc:
            stack = "".join(traceback.format_tb(exc.__traceback__))
            log.error("voice webhook %s failed with %s\n%s", view.__name__, type(exc).__name__, stack)
            return twiml(safe())

    return wrapper
