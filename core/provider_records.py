"""Nothing stays at Twilio: the record of every call leg carries a real
number, so once a leg has ended its deletion is left for later
(``PROVIDER_RECORD_DELAY_SECONDS``, when Twilio has settled the call) as an
event in the caller's transaction — the inbound call's worker job, the
status callbacks of the legs the service places itself."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.services import Services


def leave_deletion_at_provider(services: Services, session: Session, call_sid: str) -> None:
    """Write the leg's deletion in ``session``'s transaction (the caller
    commits); keyed by the leg, so a repeated callback adds none."""
    services.queue.enqueue_with(
        session,
        "delete_provider_records",
        call_sid,
        key=f"provider-records:{call_sid}",
        delay_seconds=services.settings.provider_record_delay_seconds,
    )
