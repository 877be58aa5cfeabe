"""Cancelling erases at once (issue 12, item 6).

The finding: after a member cancelled, their voice recordings stayed
playable and their callers' encrypted numbers stayed linked to them until
retention ran, contrary to "keeps only anonymous counts". Cancelling from
the CLI or the console now erases recordings (files and links), the
callers' encrypted numbers, indexes and last digits in the call log,
blocks, and the reports' links to member, call, caller and notes, while
the counts the scheme reports stay exactly as they were.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.services import recording_store
from ivr import services_of
from storage import repositories as repo
from storage.db import Database
from storage.models import Block, Call, CallDirection, RecordingState, Report, ReportStatus
from tests.staff.helpers import make_call, post, wav_bytes

CALLER = "+447700900777"


@dataclass
class Member:
    id: int
    call_ids: list[int]
    stored_report: int
    awaited_report: int
    recording_file: Path


def _member_with_history(app: Flask, db: Database, phone: str, number: str) -> Member:
    svc = services_of(app)
    store = recording_store(svc)
    with db.session() as s:
        repo.add_numbers(s, [number])
        member, _ = repo.enrol_member(s, svc.vault, name="Ruby", phone_e164=phone, pin="4821")
        member_id = member.id
    inbound, caller_index = make_call(db, svc.vault, CALLER, member_id=member_id, bridged=True)
    masked, _ = make_call(
        db, svc.vault, "+447700900888", member_id=member_id, direction=CallDirection.MASKED_LEG
    )
    with db.session() as s:
        repo.block_caller(s, member_id, caller_index, "777")
        key = store.put(f"REcancel{member_id}", wav_bytes())
        stored = Report(
            member_id=member_id,
            call_id=inbound,
            caller_index=caller_index,
            recording_sid=f"REcancel{member_id}",
            recording_state=RecordingState.STORED,
            recording_path=key,
            police_consent=True,
            category="threats",
            status=ReportStatus.IN_REVIEW,
            notes="Knows where she works",
        )
        awaited = Report(member_id=member_id, category="robbery", police_consent=False)
        s.add_all([stored, awaited])
        s.flush()
        ids = stored.id, awaited.id
    return Member(member_id, [inbound, masked], *ids, Path(svc.settings.recordings_path) / key)


def _counts(db: Database) -> tuple[object, ...]:
    with db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(Call)),
            s.execute(select(Call.member_id, func.count()).group_by(Call.member_id)).all(),
            sorted(s.execute(select(Report.category, Report.police_consent, Report.status)).all()),
        )


def _stats_page(admin: FlaskClient) -> str:
    """The stats page without its per-request CSRF token."""
    html = admin.get("/staff/stats").get_data(as_text=True)
    return re.sub(r'value="[^"]*"', "", html)


def _cancel_from_cli(app: Flask, member_id: int) -> None:
    result = app.test_cli_runner().invoke(args=["members", "cancel", str(member_id)])
    assert result.exit_code == 0, result.output


def _cancel_from_console(admin: FlaskClient, member_id: int) -> None:
    response = post(admin, f"/staff/members/{member_id}/cancel", {"confirm": "yes"})
    assert response.status_code == 302


@pytest.mark.parametrize("where", ["cli", "console"])
def test_cancelling_erases_recordings_callers_and_blocks_at_once_and_keeps_the_counts(
    inline_app: Flask, db: Database, admin: FlaskClient, where: str
) -> None:
    gone = _member_with_history(inline_app, db, "+447911123456", "+442079460001")
    other = _member_with_history(inline_app, db, "+447911654321", "+442079460002")
    assert gone.recording_file.exists()
    counts, stats = _counts(db), _stats_page(admin)

    if where == "cli":
        _cancel_from_cli(inline_app, gone.id)
    else:
        _cancel_from_console(admin, gone.id)

    assert not gone.recording_file.exists()
    assert admin.get(f"/staff/reports/{gone.stored_report}/audio").status_code != 200
    with db.session() as s:
        for call in s.scalars(select(Call).where(Call.id.in_(gone.call_ids))):
            assert call.member_id == gone.id  # still counted for the (now anonymous) member
            assert (call.other_party_encrypted, call.other_party_index, call.other_party_last3) == (None,) * 3
        assert s.scalars(select(Block).where(Block.member_id == gone.id)).all() == []
        for report_id in (gone.stored_report, gone.awaited_report):
            report = s.get(Report, report_id)
            assert report is not None
            assert (report.member_id, report.call_id, report.caller_index, report.notes) == (None,) * 4
            assert (report.recording_path, report.recording_state) == (None, RecordingState.DELETED)
        # The other member keeps everything.
        assert other.recording_file.exists()
        for call in s.scalars(select(Call).where(Call.id.in_(other.call_ids))):
            assert call.other_party_encrypted and call.other_party_index
        assert s.scalars(select(Block).where(Block.member_id == other.id)).one()
        kept = s.get(Report, other.stored_report)
        assert kept is not None and kept.notes and kept.recording_state == RecordingState.STORED
    assert _counts(db) == counts
    assert _stats_page(admin) == stats
