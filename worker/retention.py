"""Retention, run daily by the worker's schedule (and safe to run any time).

Rules (settings in core/settings.py, defaults in docs/operations.md):

- call log rows (calls and their call_events) older than
  ``CALL_LOG_RETENTION_DAYS`` are deleted, after their call records are
  deleted at Twilio through the adapter;
- the other party's encrypted number is dropped after
  ``CALLER_NUMBER_RETENTION_DAYS`` (the blind index and last three digits
  stay, for blocks, warnings and the console);
- recordings of reports closed more than ``REPORT_RETENTION_DAYS`` ago are
  deleted from the store (the report stays, marked ``deleted``);
- a cancelled member's personal data is erased (again, in case anything was
  left behind), with their callers' encrypted numbers;
- masked calls from the console (``staff_calls``: ids, states, times) and
  closed call-back requests go with the call log, and both legs of each such
  call are deleted at Twilio again a day after it ended.
- work events (storage/events.py) are deleted ``EVENTS_DONE_KEPT`` after
  they were done; failed ones stay for admins as long as the call log.

If Twilio cannot be reached, calls whose record could not be deleted there
stay for the next run; after ``TWILIO_GRACE_DAYS`` more they are deleted
here anyway, because what we hold matters more than what Twilio holds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update

from callflows.errors import TwilioUnavailable
from callflows.status import TERMINAL_STATUSES, MemberStatus, RecordingState, ReportStatus
from core import services
from core.services import Services, recording_store
from storage import events, staff_calls
from storage.erasure import MEMBER_PERSONAL_COLUMNS, erase_cancelled_members_data
from storage.models import Call, CallEvent, Member, Report, utcnow
from storage.rows import rowcount
from worker.provider_records import delete_provider_records
from worker.twilio_adapter import TwilioAdapter

log = logging.getLogger(__name__)

BATCH = 500
TWILIO_GRACE_DAYS = 7
# Legs whose deletion job should long have run (PROVIDER_RECORD_DELAY_SECONDS
# is minutes) are swept this long after they ended.
PROVIDER_SWEEP_AFTER = timedelta(days=1)
EVENTS_DONE_KEPT = timedelta(days=2)


@dataclass
class RetentionResult:
    calls_deleted: int = 0
    events_deleted: int = 0
    twilio_records_deleted: int = 0
    twilio_failures: int = 0
    numbers_dropped: int = 0
    recordings_deleted: int = 0
    members_erased: int = 0
    provider_records_swept: int = 0
    staff_calls_deleted: int = 0
    work_events_deleted: int = 0


def apply_retention(now: datetime | None = None) -> RetentionResult:
    """Job "apply_retention": enforce every retention rule once; ``now`` is for tests."""
    svc = services.current()
    now = now or utcnow()
    result = RetentionResult()
    _erase_cancelled_members(svc, result)
    _drop_old_numbers(svc, now, result)
    _delete_old_recordings(svc, now, result)
    _delete_old_calls(svc, now, result)
    _sweep_provider_records(svc, now, result)
    _sweep_staff_call_legs(svc, now, result)
    _delete_old_staff_calls(svc, now, result)
    with svc.db.session() as session:
        result.work_events_deleted = events.delete_finished(
            session,
            done_before=now - EVENTS_DONE_KEPT,
            failed_before=now - timedelta(days=svc.settings.call_log_retention_days),
        )
    log.info("retention: %s", result)
    return result


def _erase_cancelled_members(svc: Services, result: RetentionResult) -> None:
    with svc.db.session() as session:
        leftover = list(
            session.scalars(
                select(Member.id).where(
                    Member.status == MemberStatus.CANCELLED,
                    or_(*(getattr(Member, column).is_not(None) for column in MEMBER_PERSONAL_COLUMNS)),
                )
            )
        )
        if leftover:
            session.execute(
                update(Member)
                .where(Member.id.in_(leftover))
                .values(dict.fromkeys(MEMBER_PERSONAL_COLUMNS, None))
            )
        # Cancelling erased the rest at once; this catches what came later
        # or what an older version left (storage/erasure.py).
        erase_cancelled_members_data(session, recording_store(svc))
        result.members_erased = len(leftover)


def _drop_old_numbers(svc: Services, now: datetime, result: RetentionResult) -> None:
    cutoff = now - timedelta(days=svc.settings.caller_number_retention_days)
    with svc.db.session() as session:
        dropped = session.execute(
            update(Call)
            .where(Call.created_at < cutoff, Call.other_party_encrypted.is_not(None))
            .values(other_party_encrypted=None)
        )
        result.numbers_dropped = rowcount(dropped)


def _delete_old_recordings(svc: Services, now: datetime, result: RetentionResult) -> None:
    cutoff = now - timedelta(days=svc.settings.report_retention_days)
    store = recording_store(svc)
    with svc.db.session() as session:
        reports = list(
            session.scalars(
                select(Report)
                .where(
                    Report.status == ReportStatus.CLOSED,
                    Report.recording_state == RecordingState.STORED,
                    Report.closed_at.is_not(None),
                    Report.closed_at < cutoff,
                )
                .with_for_update(skip_locked=True)
            )
        )
        for report in reports:
            if report.recording_path:
                store.delete(report.recording_path)
            report.recording_state = RecordingState.DELETED
            report.recording_path = None
        result.recordings_deleted = len(reports)


def _delete_old_calls(svc: Services, now: datetime, result: RetentionResult) -> None:
    cutoff = now - timedelta(days=svc.settings.call_log_retention_days)
    give_up_on_twilio = cutoff - timedelta(days=TWILIO_GRACE_DAYS)
    adapter = TwilioAdapter.from_settings(svc.settings)
    twilio_down = False
    last_id = 0
    while True:
        with svc.db.session() as session:
            batch = session.execute(
                select(Call.id, Call.call_sid, Call.created_at)
                .where(Call.created_at < cutoff, Call.id > last_id)
                .order_by(Call.id)
                .limit(BATCH)
            ).all()
        if not batch:
            break
        last_id = batch[-1].id
        deletable: list[tuple[int, str]] = []
        for row in batch:
            if not twilio_down:
                try:
                    if adapter.delete_call(row.call_sid):
                        result.twilio_records_deleted += 1
                except TwilioUnavailable:
                    # Try the rest next run rather than hammer a failing API.
                    twilio_down = True
                except ValueError:
                    pass  # not a Twilio CallSid: nothing to delete there
            if twilio_down and row.created_at >= give_up_on_twilio:
                result.twilio_failures += 1
                continue
            deletable.append((row.id, row.call_sid))
        if deletable:
            with svc.db.session() as session:
                sids = [sid for _, sid in deletable]
                events = session.execute(delete(CallEvent).where(CallEvent.call_sid.in_(sids)))
                calls = session.execute(delete(Call).where(Call.id.in_([i for i, _ in deletable])))
                result.events_deleted += rowcount(events)
                result.calls_deleted += rowcount(calls)
    # Events whose call row never existed (or was removed by hand) age out too.
    with svc.db.session() as session:
        orphans = session.execute(
            delete(CallEvent).where(
                CallEvent.received_at < cutoff,
                CallEvent.call_sid.not_in(select(Call.call_sid)),
            )
        )
        result.events_deleted += rowcount(orphans)


def _sweep_provider_records(svc: Services, now: datetime, result: RetentionResult) -> None:
    """Backstop of worker/provider_records.py: every leg that ended between
    two days and one day ago has its record deleted at Twilio again, in case
    its job was lost (an embedded queue's timer dies with its process). Runs
    are a day apart, so each leg falls in one run's window; a 404 is done.
    If Twilio fails, the rest wait for the call log's own deletion."""
    window_end = now - PROVIDER_SWEEP_AFTER
    with svc.db.session() as session:
        sids = session.scalars(
            select(CallEvent.call_sid)
            .where(
                CallEvent.status.in_(list(TERMINAL_STATUSES)),
                CallEvent.received_at >= window_end - timedelta(days=1),
                CallEvent.received_at < window_end,
            )
            .distinct()
        ).all()
    _delete_at_provider(sids, result)


def _delete_at_provider(call_sids: Sequence[str], result: RetentionResult) -> None:
    """Delete the calls' records at Twilio, stopping at the first failure:
    Twilio is unreachable, and the rest would only fail the same way."""
    for call_sid in call_sids:
        try:
            delete_provider_records(call_sid)
        except TwilioUnavailable:
            result.twilio_failures += 1
            return
        result.provider_records_swept += 1


def _sweep_staff_call_legs(svc: Services, now: datetime, result: RetentionResult) -> None:
    """The same backstop for masked calls from the console, whose legs (the
    caseworker's phone, the member's phone) leave no call events: both legs
    of every such call that ended between two days and one day ago."""
    window_end = now - PROVIDER_SWEEP_AFTER
    with svc.db.session() as session:
        sids = staff_calls.legs_ended_between(session, window_end - timedelta(days=1), window_end)
    _delete_at_provider(sids, result)


def _delete_old_staff_calls(svc: Services, now: datetime, result: RetentionResult) -> None:
    """Masked calls from the console (ids and times) live as long as the call log."""
    cutoff = now - timedelta(days=svc.settings.call_log_retention_days)
    with svc.db.session() as session:
        result.staff_calls_deleted = staff_calls.delete_older_than(session, cutoff)
