"""Voice webhooks of the member menu: PIN, options, masked calls, blocking,
warnings, incident reports and cancellation. Thin views over ``callflows``."""

from __future__ import annotations

from flask import Blueprint

from ivr.twilio_guard import require_twilio_signature

bp = Blueprint("menu", __name__, url_prefix="/voice/menu")
bp.before_request(require_twilio_signature)
