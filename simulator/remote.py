"""The demo's fake Twilio seen from another process: ``simulate --server``.

A call simulated against the running demo leaves its recording and its call
legs "at Twilio", where the demo's app fetches and deletes them: in the
demo's own fake (simulator/fake_twilio.py), not in one of the simulate
command's, which would stop with the command and which the demo's app does
not know. The demo writes its fake's address to :data:`ADDRESS_FILE` in its
instance folder while it serves.
"""

from __future__ import annotations

import base64
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from simulator.fake_twilio import API, FakeRecording, RecordingsAtTwilio

ADDRESS_FILE = "fake_twilio_url"


def published_address(instance: Path) -> str | None:
    """The running demo's fake Twilio, if a demo serves from ``instance``."""
    path = instance / ADDRESS_FILE
    return path.read_text().strip() if path.exists() else None


def publish_address(instance: Path, base_url: str) -> Path:
    path = instance / ADDRESS_FILE
    path.write_text(base_url + "\n")
    return path


class RemoteTwilio(RecordingsAtTwilio):
    """What the simulator's engine needs of a fake Twilio, over HTTP."""

    def __init__(self, base_url: str, account_sid: str, auth_token: str) -> None:
        self._base_url = base_url.rstrip("/")
        self.account_sid = account_sid
        credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self._auth = f"Basic {credentials}"

    @property
    def base_url(self) -> str:
        return self._base_url

    def _keep(self, recording: FakeRecording) -> None:
        audio = base64.b64encode(recording.audio).decode()
        fields = {"Sid": recording.sid, "Audio": audio, "ContentType": recording.content_type}
        duration = "" if recording.duration is None else str(recording.duration)
        fields.update({"CallSid": recording.call_sid or "", "Duration": duration})
        self._post("Recordings", fields)

    def add_call(self, sid: str, from_: str, to: str, parent_sid: str | None = None) -> None:
        self._post("Calls", {"Sid": sid, "From": from_, "To": to, "ParentCallSid": parent_sid or ""})

    def _post(self, what: str, fields: dict[str, str]) -> None:
        request = urllib.request.Request(  # noqa: S310 (the loopback URL the demo published)
            f"{self.base_url}{API}{self.account_sid}/Simulator/{what}.json",
            data=urlencode(fields).encode(),
            headers={"Authorization": self._auth},
        )
        # A loopback URL the demo published; urlopen raises on any error status.
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass
