"""Returning TwiML, building action URLs, and never answering a voice
webhook with a 5xx."""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from typing import Any, ParamSpec
from urllib.parse import quote

from flask import Response, current_app, request, url_for
from twilio.twiml import TwiML
from twilio.twiml.voice_response import VoiceResponse

from callflows.prompts import LANGUAGE, VOICE
from ivr import twiml_text

__all__ = ["APOLOGY", "LANGUAGE", "VOICE", "apology", "external_url", "never_fails", "twiml"]

log = logging.getLogger(__name__)
P = ParamSpec("P")

APOLOGY = "Sorry, this number cannot take your call right now. Please try again later. Goodbye."


def twiml(response: TwiML) -> Response:
    """A TwiML document as Twilio wants it: 200, text/xml.

    Encoded as ElementTree would (``xmlcharrefreplace``), so the bytes are
    those of ``str(response)``; see :mod:`ivr.twiml_text`.
    """
    body = twiml_text.render(response).encode("utf-8", "xmlcharrefreplace")
    return Response(body, status=200, mimetype="text/xml")


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute URL under ``PUBLIC_BASE_URL`` for TwiML to point Twilio at.

    Values must be opaque ids (a CallSid, a report id): URLs end up in
    Twilio's logs and ours, so they never carry a number.
    """
    base = current_app.extensions["safety"].settings.public_base_url
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
    response.say(APOLOGY, voice=VOICE, language=LANGUAGE)
    response.hangup()
    return response


def never_fails(view: Callable[P, Response]) -> Callable[P, Response]:
    """Answer any exception with :func:`apology` and status 200.

    The log line names the view and the exception type and shows the stack,
    but not the exception's message, which could quote request data.
    """

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return view(*args, **kwargs)
        except Exception as exc:
            stack = "".join(traceback.format_tb(exc.__traceback__))
            log.error("voice webhook %s failed with %s\n%s", view.__name__, type(exc).__name__, stack)
            return twiml(apology())

    return wrapper
