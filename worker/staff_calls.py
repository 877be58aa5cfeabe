"""Job "place_staff_call": ring the caseworker's own phone for a masked call
to a member (``callflows.staff_call`` tells the whole story).

It takes the call's id only, reads the caseworker's phone (decrypted here,
never passed on but to Twilio's ``To``) and the access line to show, and
asks Twilio through the adapter to ring it; Twilio then fetches the answer
URL (``ivr.staff_call``) when the caseworker picks up. Both URLs carry the
call's id and nothing else.

Idempotent: the call is claimed once (queued -> placing), so a second run
does nothing. It is deliberately not retried: a phone that rings minutes
after the click, when the caseworker has moved on, is worse than a failure
they can see. Twilio unreachable (or refusing) ends the call with that
outcome, which the page it was placed from shows with the time.
"""

from __future__ import annotations

import logging

from callflows.errors import TwilioResourceGone, TwilioUnavailable
from callflows.status import StaffCallOutcome
from core import services
from storage import staff_calls
from storage.models import Staff, utcnow
from worker.twilio_adapter import TwilioAdapter

log = logging.getLogger(__name__)

# ivr.staff_call's webhooks (a test holds them equal to the app's routes).
ANSWER_PATH = "/voice/staff-call/answer"
STATUS_PATH = "/voice/staff-call/status"


def place_staff_call(staff_call_id: int) -> None:
    """Job "place_staff_call": ring the caseworker for one queued masked call."""
    svc = services.current()
    with svc.db.session() as session:
        call = staff_calls.claim_for_placing(session, staff_call_id, utcnow())
        if call is None:
            log.info("staff call %d: already placed, ended or too late; not placed now", staff_call_id)
            return
        staff = session.get(Staff, call.staff_id)
        line = staff_calls.access_line(session)
        token = staff.phone_encrypted if staff is not None else None
    if token is None or line is None:
        # Removed between the click and now: nobody can be rung.
        _ended(staff_call_id, StaffCallOutcome.TWILIO_UNREACHABLE)
        return
    base = svc.settings.public_base_url
    query = f"?staff_call={staff_call_id}"
    adapter = TwilioAdapter.from_settings(svc.settings)
    try:
        sid = adapter.place_call(
            to=svc.vault.reveal(token),
            from_=line,
            url=base + ANSWER_PATH + query,
            status_callback=base + STATUS_PATH + query,
            timeout=svc.settings.dial_timeout_seconds,
        )
    except (TwilioUnavailable, TwilioResourceGone) as exc:
        # The message names the step and Twilio's status, never a number.
        log.warning("staff call %d: not placed: %s", staff_call_id, exc)
        _ended(staff_call_id, StaffCallOutcome.TWILIO_UNREACHABLE)
        return
    with svc.db.session() as session:
        staff_calls.placed(session, staff_call_id, sid)
    log.info("staff call %d: ringing the caseworker (call %s)", staff_call_id, sid)


def _ended(staff_call_id: int, outcome: StaffCallOutcome) -> None:
    with services.current().db.session() as session:
        staff_calls.end(session, staff_call_id, outcome, utcnow())
