"""Returning TwiML, building action URLs, and never answering a voice
webhook with a 5xx."""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from typing import Any, ParamSpec

from flask import Response, current_app, url_for
from twilio.twiml import TwiML
from twilio.twiml.voice_response import VoiceResponse

from callflows.prompts import LANGUAGE, VOICE

__all__ = ["APOLOGY", "LANGUAGE", "VOICE", "apology", "external_url", "never_fails", "twiml"]

log = logging.getLogger(__name__)
P = ParamSpec("P")

APOLOGY = "Sorry, this number cannot take your call right now. Please try again later. Goodbye."


def twiml(response: TwiML) -> Response:
    """A TwiML document as Twilio wants it: 200, text/xml."""
    return Response(str(response), status=200, mimetype="text/xml")


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute URL under ``PUBLIC_BASE_URL`` for TwiML to point Twilio at.

    Values must be opaque ids (a CallSid, a report id): URLs end up in
    Twilio's logs and ours, so they never carry a number.
    """
    base = current_app.extensions["safety"].settings.public_base_url
    return base + url_for(endpoint, **values)


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
