"""Nothing left at the provider: a completed call leg's record is deleted at Twilio.

Twilio keeps a record of every call leg — the leg that rings a member
carries their real number in ``To`` — for as long as the account lives,
open to anyone with console access and to any demand made of Twilio
(issue 12, item 12). The project's own call log keeps what the scheme needs,
encrypted; so ``PROVIDER_RECORD_DELAY_SECONDS`` (default 300) after a leg's
final status callback, this job deletes that leg's record there, with any
recording of the call no report still waits for (an awaited recording is
deleted by its ingestion job once it is stored).

The delay leaves Twilio time to send its last callbacks (a recording's, the
Dial action's) before the record goes. The job takes the CallSid only, is
idempotent (a 404 — already gone — counts as done), lets a Twilio failure
reach RQ so it retries with backoff, and the daily retention sweep deletes
whatever a lost job left, with the call log's rows.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from core import services
from storage.models import RecordingState, Report
from worker.twilio_adapter import TwilioAdapter, is_call_sid

log = logging.getLogger(__name__)


def delete_provider_records(call_sid: str) -> None:
    """Job "delete_provider_records": delete one call leg's record (and its
    recordings no report awaits) at Twilio."""
    if not is_call_sid(call_sid):
        log.warning("provider records: not a Twilio CallSid; nothing to delete")
        return
    svc = services.current()
    adapter = TwilioAdapter.from_settings(svc.settings)
    if _recording_awaited(call_sid):
        log.info("call %s: a report still awaits its recording; ingestion deletes that", call_sid)
    else:
        for recording_sid in adapter.call_recordings(call_sid):
            adapter.delete_recording(recording_sid)
    gone = not adapter.delete_call(call_sid)
    log.info("call %s: record deleted at Twilio%s", call_sid, " (already gone)" if gone else "")


def _recording_awaited(call_sid: str) -> bool:
    """Whether a report made on this call still waits for its recording."""
    with services.current().db.session() as session:
        waiting = session.scalars(
            select(Report.id).where(
                Report.report_call_sid == call_sid, Report.recording_state == RecordingState.AWAITED
            )
        ).first()
    return waiting is not None
