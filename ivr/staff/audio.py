"""Streams a report's recording, decrypted, to signed-in staff; every request audited.

Range requests are answered with 206 and ``Content-Range`` (werkzeug's
conditional responses) so the browser's player can seek. The decrypted
audio lives only in memory for the length of the request.
"""

from __future__ import annotations

import io

from flask import abort, request, send_file
from werkzeug.wrappers import Response

from core.services import recording_store
from ivr.services import current_services
from ivr.staff.blueprint import bp
from ivr.staff.common import audit, db, report_or_404, viewer
from storage.models import RecordingState


def sniff_mimetype(audio: bytes) -> str:
    """Twilio gives WAV or MP3; tell them apart by their first bytes."""
    if audio[:4] == b"RIFF":
        return "audio/wav"
    if audio[:3] == b"ID3" or audio[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    return "application/octet-stream"


@bp.route("/reports/<int(max=2147483647):report_id>/audio")
def report_audio(report_id: int) -> Response:
    """The decrypted recording of a report this staff member may see."""
    staff = viewer()
    session = db()
    report = report_or_404(staff, report_id)
    if report.recording_state != RecordingState.STORED or not report.recording_path:
        abort(404)
    try:
        audio = recording_store(current_services()).get(report.recording_path)
    except FileNotFoundError:
        abort(404)
    audit("recording.play", "report", report.id, request.headers.get("Range", "whole")[:60])
    session.commit()
    response = send_file(
        io.BytesIO(audio),
        mimetype=sniff_mimetype(audio),
        conditional=True,
        etag=False,
        max_age=0,
    )
    response.headers["Content-Disposition"] = "inline"
    return response
