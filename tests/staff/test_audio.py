"""The recording endpoint: decrypted, authenticated, Range-capable, audited."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from core.services import recording_store
from ivr import services_of
from storage.db import Database
from storage.models import AuditEntry
from tests.staff.helpers import People, make_report, wav_bytes


def _stored_report(app: Flask, db: Database, **cols) -> tuple[int, bytes]:
    audio = wav_bytes(1.0)
    key = recording_store(services_of(app)).put("RE_test_audio", audio)
    return make_report(db, recording_state="stored", recording_path=key, **cols), audio


def test_whole_recording_is_streamed_decrypted(inline_app: Flask, db: Database, alice) -> None:
    report, audio = _stored_report(inline_app, db)
    response = alice.get(f"/staff/reports/{report}/audio")
    assert response.status_code == 200
    assert response.mimetype == "audio/wav"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_data() == audio


def test_range_request_gets_206_with_content_range(inline_app: Flask, db: Database, alice) -> None:
    report, audio = _stored_report(inline_app, db)
    response = alice.get(f"/staff/reports/{report}/audio", headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes 100-199/{len(audio)}"
    assert response.get_data() == audio[100:200]
    tail = alice.get(f"/staff/reports/{report}/audio", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.get_data() == audio[-10:]
    beyond = alice.get(f"/staff/reports/{report}/audio", headers={"Range": f"bytes={len(audio) + 5}-"})
    assert beyond.status_code == 416


def test_every_playback_is_audited(inline_app: Flask, db: Database, people: People, alice) -> None:
    report, _ = _stored_report(inline_app, db)
    alice.get(f"/staff/reports/{report}/audio")
    alice.get(f"/staff/reports/{report}/audio", headers={"Range": "bytes=0-"})
    with db.session() as s:
        rows = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "recording.play", AuditEntry.target_id == report)
        ).all()
    assert [r.staff_id for r in rows] == [people.alice, people.alice]


def test_recording_on_disk_is_encrypted(inline_app: Flask, db: Database) -> None:
    from pathlib import Path

    _, audio = _stored_report(inline_app, db)
    on_disk = (Path(services_of(inline_app).settings.recordings_path) / "RE_test_audio.enc").read_bytes()
    assert b"RIFF" not in on_disk and audio[44:200] not in on_disk


def test_audio_needs_sign_in_and_access(inline_app: Flask, db: Database, people: People, anon, bob) -> None:
    report, _ = _stored_report(inline_app, db, caseworker_id=people.alice, status="assigned")
    assert anon.get(f"/staff/reports/{report}/audio").status_code == 302
    assert bob.get(f"/staff/reports/{report}/audio").status_code == 404


def test_no_audio_while_awaited(db: Database, alice) -> None:
    report = make_report(db)
    assert alice.get(f"/staff/reports/{report}/audio").status_code == 404
    assert "<audio" not in alice.get(f"/staff/reports/{report}").get_data(as_text=True)
