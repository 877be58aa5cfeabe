"""Recording ingestion: download from Twilio, encrypt, store, verify, delete at Twilio.

Idempotent by RecordingSid, whatever step a previous run died in:

- the stored file is named after the RecordingSid, written atomically, so a
  re-run overwrites the same file and never makes a second one;
- the report row is only marked ``stored`` after the file has been read
  back and its hash checked, and a report already ``stored`` with its file
  present skips the download;
- deleting at Twilio comes last and treats "already gone" as done.

Transient failures (Twilio 5xx or timeouts, a bad read-back) raise, so RQ
retries with the backoff set in core/queue.py. A recording Twilio no
longer has (404), or the last retry failing, marks the report ``failed``
with a plain reason staff see in the console; the report is handed off
either way so it never sits unseen.
"""

from __future__ import annotations

import hashlib
import io
import logging
import wave
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callflows.errors import RecordingCorrupted, TwilioResourceGone, TwilioUnavailable
from callflows.status import RecordingState
from core import services
from core.services import Services, recording_store
from storage import menu_repository as menus
from storage.models import Report, utcnow
from worker.twilio_adapter import TwilioAdapter

log = logging.getLogger(__name__)

GONE_AT_TWILIO = "Twilio no longer has this recording; it could not be downloaded."
GAVE_UP = "The recording could not be downloaded and stored after several attempts."
NEVER_ARRIVED = "No recording arrived: the call ended before anything was recorded."
# Twilio posts a recording's status within seconds of the call ending; a
# report still waiting after this long never will (the member hung up
# before <Record> began, so no callback was ever due).
ABANDONED_AFTER = timedelta(minutes=30)


def ingest_recording(report_id: int, recording_sid: str) -> None:
    """Job "ingest_recording": store a report's recording encrypted, then delete it at Twilio."""
    svc = services.current()
    report_id = int(report_id)
    adapter = TwilioAdapter.from_settings(svc.settings)
    store = recording_store(svc)

    with svc.db.session() as session:
        report = _report(session, report_id, recording_sid)
        if report is None:
            return
        state, path = report.recording_state, report.recording_path
        if state == RecordingState.AWAITED and report.recording_sid is None:
            report.recording_sid = recording_sid
    if state == RecordingState.DELETED:
        # Retention or a cancellation erased it: keep nothing, here or there.
        adapter.delete_recording(recording_sid)
        return
    already_stored = state == RecordingState.STORED and path is not None and store.exists(path)

    if not already_stored:
        try:
            audio = adapter.fetch_recording(recording_sid)
        except TwilioResourceGone:
            mark_failed(svc, report_id, recording_sid, GONE_AT_TWILIO)
            return
        key = store.put(recording_sid, audio)
        if hashlib.sha256(store.get(key)).digest() != hashlib.sha256(audio).digest():
            raise RecordingCorrupted(f"report {report_id}: stored recording does not read back")
        seconds = _wav_seconds(audio)
        if seconds is None:
            seconds = _twilio_seconds(adapter, recording_sid)
        with svc.db.session() as session:
            report = _report(session, report_id, recording_sid)
            if report is None or report.recording_state == RecordingState.DELETED:
                # The report went away or was erased (cancellation) meanwhile.
                store.delete(key)
                adapter.delete_recording(recording_sid)
                return
            report.recording_state = RecordingState.STORED
            report.recording_path = key
            report.recording_seconds = seconds if seconds is not None else report.recording_seconds
            report.recording_error = None
        log.info("report %d: recording stored encrypted", report_id)

    adapter.delete_recording(recording_sid)
    svc.queue.enqueue("assign_report", report_id)


def accept_recording_callback(*callback: Any) -> None:
    """:func:`accept_recording_callback_in` in a transaction of its own."""
    with services.current().db.session() as session:
        accept_recording_callback_in(session, *callback)


def accept_recording_callback_in(
    session: Session, report_id: int, call_sid: str, recording_sid: str, status: str
) -> None:
    """Job "recording_callback": a recording-status callback that arrived
    while PostgreSQL was down, accepted now exactly as the webhook would
    have (ivr/menu.py), its follow-up written in the same transaction."""
    follow_up = menus.accept_recording_status(session, int(report_id), call_sid, recording_sid, status)
    if follow_up is not None:
        services.current().queue.enqueue_with(session, follow_up.job, *follow_up.args, key=follow_up.key)


def _report(session: Session, report_id: int, recording_sid: str) -> Report | None:
    """The report, locked, if this recording is (or may become) its recording."""
    report = session.get(Report, report_id, with_for_update=True)
    if report is None:
        log.warning("report %d: gone before its recording was ingested", report_id)
        return None
    if report.recording_sid not in (None, recording_sid):
        log.warning("report %d: a different recording is attached; job ignored", report_id)
        return None
    return report


def mark_failed(svc: Services, report_id: int, recording_sid: str, reason: str) -> None:
    """Make a permanent failure visible on the report and hand the report off."""
    with svc.db.session() as session:
        report = _report(session, report_id, recording_sid)
        if report is None or report.recording_state in (RecordingState.STORED, RecordingState.DELETED):
            return
        report.recording_state = RecordingState.FAILED
        report.recording_error = reason
    log.warning("report %d: recording failed permanently", report_id)
    svc.queue.enqueue("assign_report", report_id)


def on_final_failure(report_id: int, recording_sid: str) -> None:
    """Called by worker.jobs when RQ gives up on an ingestion job."""
    mark_failed(services.current(), int(report_id), recording_sid, GAVE_UP)


def _wav_seconds(audio: bytes) -> int | None:
    try:
        with wave.open(io.BytesIO(audio)) as wav:
            rate = wav.getframerate()
            return round(wav.getnframes() / rate) if rate else None
    except (wave.Error, EOFError):
        return None


def _twilio_seconds(adapter: TwilioAdapter, recording_sid: str) -> int | None:
    try:
        return adapter.recording_seconds(recording_sid)
    except (TwilioUnavailable, TwilioResourceGone):
        return None  # the duration is nice to have; the audio is what matters


def sweep_abandoned_reports(now: datetime | None = None) -> list[int]:
    """Periodic job: reports still waiting for a recording that will never
    come are marked failed and handed to a caseworker, as a failed
    recording is: the member called to report something. Returns their ids."""
    svc = services.current()
    cutoff = (now or utcnow()) - ABANDONED_AFTER
    with svc.db.session() as session:
        reports = session.scalars(
            select(Report)
            .where(
                Report.recording_state == RecordingState.AWAITED,
                Report.recording_sid.is_(None),
                Report.created_at < cutoff,
            )
            .with_for_update(skip_locked=True)
        ).all()
        for report in reports:
            report.recording_state = RecordingState.FAILED
            report.recording_error = NEVER_ARRIVED
        swept = [report.id for report in reports]
    for report_id in swept:
        log.warning("report %d: no recording arrived; handed off without one", report_id)
        svc.queue.enqueue("assign_report", report_id)
    return swept
