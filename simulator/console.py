"""Check what a caseworker sees: sign in to the staff console like a person
would, open the newest report in the inbox, and play its recording.

The demo runs this after the scenarios so it can say the report is there
with playable audio before it hands the console over; the end-to-end tests
run it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Flask

from simulator.audio import wav_seconds
from simulator.errors import ConsoleCheckFailed

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_REPORT_LINK = re.compile(r'href="/staff/reports/(\d+)"')


@dataclass(frozen=True)
class ReportSeen:
    """The report a caseworker found first in their inbox."""

    report_id: int
    url: str
    audio_type: str
    audio_seconds: float


def newest_report_with_audio(app: Flask, email: str, password: str) -> ReportSeen:
    """Sign in as ``email`` and open the first report of the inbox and its audio."""
    client = app.test_client()
    login = client.get("/staff/login")
    token = _CSRF.search(login.get_data(as_text=True))
    if login.status_code != 200 or token is None:
        raise ConsoleCheckFailed(f"the sign-in page answered {login.status_code}")
    signed_in = client.post(
        "/staff/login", data={"email": email, "password": password, "csrf_token": token.group(1)}
    )
    if signed_in.status_code not in (302, 303):
        raise ConsoleCheckFailed(f"signing in as {email} failed ({signed_in.status_code})")
    inbox = client.get("/staff/reports")
    link = _REPORT_LINK.search(inbox.get_data(as_text=True))
    if inbox.status_code != 200 or link is None:
        raise ConsoleCheckFailed("the inbox shows no report")
    report_id = int(link.group(1))
    page = client.get(f"/staff/reports/{report_id}")
    if page.status_code != 200 or "<audio" not in page.get_data(as_text=True):
        raise ConsoleCheckFailed(f"report {report_id} has no audio player ({page.status_code})")
    audio = client.get(f"/staff/reports/{report_id}/audio")
    kind = audio.mimetype or ""
    if audio.status_code != 200 or not kind.startswith("audio/"):
        raise ConsoleCheckFailed(f"report {report_id}'s audio answered {audio.status_code} {kind}")
    return ReportSeen(report_id, f"/staff/reports/{report_id}", kind, wav_seconds(audio.get_data()))
