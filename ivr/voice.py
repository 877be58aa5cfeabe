"""Voice webhooks for calls *to* a Safety Number: inbound, whisper, dial
result, status callbacks and fallback. Thin views over ``callflows``."""

from __future__ import annotations

from flask import Blueprint

from ivr.twilio_guard import require_twilio_signature

bp = Blueprint("voice", __name__, url_prefix="/voice")
bp.before_request(require_twilio_signature)
