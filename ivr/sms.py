"""``POST /sms/incoming``: text messages are dropped, never stored or logged."""

from __future__ import annotations

from flask import Blueprint

from ivr.twilio_guard import require_twilio_signature

bp = Blueprint("sms", __name__, url_prefix="/sms")
bp.before_request(require_twilio_signature)
