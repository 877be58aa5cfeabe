"""The status callback of a leg the service placed itself (a console call,
a check-in call, a buddy call) leaves that leg's deletion at Twilio for
later, written before Twilio is answered (core/provider_records.py)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.provider_records import leave_deletion_at_provider
from ivr.services import current_services
from ivr.webhook import twilio_form


def forget_leg_at_twilio(session: Session) -> None:
    """This callback's leg, to be deleted at Twilio (the caller commits)."""
    call_sid = twilio_form().get("CallSid", "")[:64]
    if call_sid:
        leave_deletion_at_provider(current_services(), session, call_sid)
