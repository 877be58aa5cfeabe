"""``POST /sms/incoming``: text messages are dropped, never stored or logged.

Safety Numbers are call-only. The message body is read only by the signature
check (the signature covers it) and is then forgotten: no row, no log line,
no job. The answer is an empty ``<Response/>`` so Twilio sends no reply.
"""

from __future__ import annotations

from flask import Blueprint, Response
from twilio.twiml.messaging_response import MessagingResponse

from ivr.webhook import require_twilio_signature, twiml

bp = Blueprint("sms", __name__, url_prefix="/sms")
bp.before_request(require_twilio_signature)


@bp.post("/incoming")
def incoming() -> Response:
    """A text to a Safety Number ("A message comes in"): drop it silently."""
    return twiml(MessagingResponse())
