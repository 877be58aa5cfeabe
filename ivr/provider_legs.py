"""Nothing stays at Twilio: the record of every leg the service places
carries a real number, so each leg's final status callback leaves its
deletion for later (PROVIDER_RECORD_DELAY_SECONDS, when Twilio has settled
the call), as an event written before Twilio is answered."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ivr.services import current_services
from ivr.webhook import twilio_form


def forget_leg_at_twilio(session: Session) -> None:
    """Write this leg's deletion in ``session``'s transaction (the caller
    commits); keyed by the leg, so a repeated callback adds none."""
    call_sid = twilio_form().get("CallSid", "")[:64]
    if not call_sid:
        return
    services = current_services()
    services.queue.enqueue_with(
        session,
        "delete_provider_records",
        call_sid,
        key=f"provider-records:{call_sid}",
        delay_seconds=services.settings.provider_record_delay_seconds,
    )
