"""A small local fake of Twilio's REST and media API, for tests and the simulator.

It listens on 127.0.0.1 (a random free port), demands HTTP basic auth with
the account SID and auth token on every request (401 otherwise), and keeps
everything in memory with attributes tests can inspect::

    with FakeTwilio("AC…", "token") as fake:        # or FakeTwilio(...).start()
        fake.add_recording("RE…", wav_bytes)         # served as .wav/.mp3/bare
        settings.twilio_api_base_url = fake.base_url
        ...
        assert fake.deleted_recordings == ["RE…"]

Only the handful of endpoints Safety Number uses exist; anything else is 404.
It is not Twilio and charges nothing. A call the app places through the
Calls resource is checked as Twilio checks it (``To`` in E.164, ``From`` a
number of the account, an absolute ``Url``), answered 201 "queued" at once
and kept in ``placed`` for the simulator to play, as the phone rings later.
It keeps a record of each call leg placed, as Twilio does, so tests can
show that none is left once the app is done.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

API = "/2010-04-01/Accounts/"

# Fields of an IncomingPhoneNumber that "numbers sync" sets: form name -> JSON name.
NUMBER_FIELDS = {
    "VoiceUrl": "voice_url",
    "VoiceMethod": "voice_method",
    "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method",
    "VoiceFallbackUrl": "voice_fallback_url",
    "VoiceFallbackMethod": "voice_fallback_method",
    "SmsUrl": "sms_url",
    "SmsMethod": "sms_method",
    "FriendlyName": "friendly_name",
}


@dataclass
class FakeRecording:
    sid: str
    audio: bytes
    call_sid: str | None = None
    duration: int | None = None
    content_type: str = "audio/x-wav"


@dataclass
class FakeCall:
    """Twilio's record of one call leg: what its call log would show."""

    sid: str
    from_: str
    to: str
    parent_sid: str | None = None
    status: str = "queued"


@dataclass
class PlacedCall:
    """A call the app asked Twilio to place (``POST …/Calls.json``): what
    Twilio will do once the phone it rings is answered. The simulator plays
    it (``Simulator.play_placed``) with whatever that phone does."""

    sid: str
    to: str
    from_: str
    url: str
    method: str
    status_callback: str | None
    status_events: tuple[str, ...]
    status_method: str
    timeout: int
    # ``Enable`` when answering machine detection runs: the request for
    # ``url`` then carries ``AnsweredBy`` (human, machine_start …).
    machine_detection: str | None = None


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    status: int = 0


@dataclass
class _Faults:
    """Scripted trouble for the next requests (retry and timeout tests)."""

    fail: int = 0
    fail_status: int = 500
    fail_method: str | None = None
    stall: int = 0
    stall_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, method: str) -> tuple[int | None, float]:
        with self.lock:
            if self.stall:
                self.stall -= 1
                return None, self.stall_seconds
            if self.fail and self.fail_method in (None, method):
                self.fail -= 1
                return self.fail_status, 0.0
        return None, 0.0


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up mid-download (a killed worker) is expected.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def twilio_recording_url(api_base_url: str, account_sid: str, sid: str) -> str:
    """The RecordingUrl Twilio posts in a recording callback: no extension, under the REST API origin."""
    return f"{api_base_url}{API}{account_sid}/Recordings/{sid}"


class RecordingsAtTwilio:
    """Where the simulator leaves a call's recordings for the app to fetch: this
    module's FakeTwilio keeps them in memory, simulator/remote.py's RemoteTwilio
    sends them to the demo's. A subclass says where (``base_url``) and keeps
    each recording (``_keep``)."""

    account_sid: str

    @property
    def base_url(self) -> str:
        raise NotImplementedError

    def add_recording(
        self,
        sid: str,
        audio: bytes,
        *,
        call_sid: str | None = None,
        content_type: str = "audio/x-wav",
        duration: int | None = None,
    ) -> str:
        """Make a recording downloadable; return its media URL (as Twilio sends it)."""
        self._keep(FakeRecording(sid, audio, call_sid, duration, content_type))
        return self.recording_url(sid)

    def recording_url(self, sid: str) -> str:
        """The RecordingUrl Twilio would post in a recording callback (no extension)."""
        return twilio_recording_url(self.base_url, self.account_sid, sid)

    def _keep(self, recording: FakeRecording) -> None:
        raise NotImplementedError


class FakeTwilio(RecordingsAtTwilio):
    """Twilio REST + media API on loopback, with its state in memory."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.recordings: dict[str, FakeRecording] = {}
        self.deleted_recordings: list[str] = []
        self.deleted_calls: list[str] = []
        # CallSid -> the record of a call leg placed through the simulator.
        self.calls: dict[str, FakeCall] = {}
        # Calls the app placed through the REST API, in order, waiting to be played.
        self.placed: list[PlacedCall] = []
        # PN sid -> the number's JSON resource (phone_number, voice_url, …).
        self.numbers: dict[str, dict[str, Any]] = {}
        # area code -> numbers on offer; unlisted area codes get generated ones.
        self.available: dict[str, list[str]] = {}
        self.requests: list[LoggedRequest] = []
        # Set when a media download starts; media downloads wait while
        # hold_media() is on (kill-during-download tests).
        self.media_requested = threading.Event()
        self._media_gate = threading.Event()
        self._media_gate.set()
        self._faults = _Faults()
        self._lock = threading.Lock()
        self._sids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------

    def start(self) -> FakeTwilio:
        """Listen on a random free port of 127.0.0.1 in a background thread."""
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-twilio", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._media_gate.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeTwilio:
        return self.start() if self._server is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The origin to use as TWILIO_API_BASE_URL, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("FakeTwilio is not started")
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    # --- state set up by tests ------------------------------------------------

    def _keep(self, recording: FakeRecording) -> None:
        with self._lock:
            self.recordings[recording.sid] = recording

    def add_call(self, sid: str, from_: str, to: str, parent_sid: str | None = None) -> None:
        """Keep the record of a call leg, as Twilio does for every leg it places."""
        with self._lock:
            self.calls[sid] = FakeCall(sid, from_, to, parent_sid)

    def end_call(self, sid: str, status: str) -> None:
        """Mark a leg's record with its final status (it stays until deleted)."""
        with self._lock:
            if sid in self.calls:
                self.calls[sid].status = status

    def add_number(self, e164: str, **fields: str) -> str:
        """An incoming number the account already owns; return its PN sid."""
        return self._create_number({"phone_number": e164, **fields})

    def add_available(self, area_code: str, *numbers: str) -> None:
        """Numbers offered by AvailablePhoneNumbers/GB/Local for ``area_code``."""
        self.available.setdefault(area_code, []).extend(numbers)

    def fail_next(self, count: int, status: int = 500, method: str | None = None) -> None:
        """Answer the next ``count`` requests (of ``method`` only, if given) with ``status``."""
        with self._faults.lock:
            self._faults.fail, self._faults.fail_status, self._faults.fail_method = count, status, method

    def stall_next(self, count: int, seconds: float) -> None:
        """Sleep ``seconds`` before answering the next ``count`` requests (client timeouts)."""
        with self._faults.lock:
            self._faults.stall, self._faults.stall_seconds = count, seconds

    def hold_media(self) -> None:
        """Make media downloads wait (after sending headers) until release_media()."""
        self.media_requested.clear()
        self._media_gate.clear()

    def release_media(self) -> None:
        self._media_gate.set()

    def next_placed(self) -> PlacedCall:
        """The oldest placed call not yet played (a test asserts there is one)."""
        with self._lock:
            if not self.placed:
                raise AssertionError("the app placed no call through the REST API")
            return self.placed.pop(0)

    def number_by_e164(self, e164: str) -> dict[str, Any] | None:
        with self._lock:
            return next((n for n in self.numbers.values() if n["phone_number"] == e164), None)

    # --- internals -------------------------------------------------------------

    def new_sid(self, prefix: str) -> str:
        return f"{prefix}{next(self._sids):032x}"

    def _create_number(self, values: dict[str, Any]) -> str:
        sid = self.new_sid("PN")
        now = format_datetime(datetime.now(UTC), usegmt=True)
        resource: dict[str, Any] = {
            "sid": sid,
            "account_sid": self.account_sid,
            "friendly_name": values.get("phone_number"),
            "capabilities": {"voice": True, "sms": True, "mms": False, "fax": False},
            "date_created": now,
            "date_updated": now,
            "uri": f"{API}{self.account_sid}/IncomingPhoneNumbers/{sid}.json",
            "api_version": "2010-04-01",
            **{name: None for name in NUMBER_FIELDS.values() if name != "friendly_name"},
        }
        resource.update(values)
        with self._lock:
            self.numbers[sid] = resource
        return sid

    def _offer(self, area_code: str) -> list[str]:
        if area_code in self.available:
            return list(self.available[area_code])
        # Ofcom's drama ranges: numbers reserved for fiction, never real lines.
        if area_code == "20":
            return [f"+44207946{n:04d}" for n in range(100, 103)]
        base = f"+44{area_code}"
        filler = "4960000"[: max(13 - len(base) - 3, 0)]
        return [f"{base}{filler}{n:03d}" for n in range(100, 103)]


def _page(key: str, items: list[dict[str, Any]], uri: str) -> dict[str, Any]:
    return {
        key: items,
        "page": 0,
        "page_size": 50,
        "first_page_uri": uri,
        "next_page_uri": None,
        "previous_page_uri": None,
        "uri": uri,
        "start": 0,
        "end": max(len(items) - 1, 0),
    }


# Path (below the account) -> the handler, by method, of the resource there.
_ROUTES: dict[re.Pattern[str], dict[str, str]] = {
    re.compile(r"^/Recordings\.json$"): {"GET": "recordings_list"},
    re.compile(r"^/Recordings/(RE\w+)\.json$"): {"GET": "recording_meta", "DELETE": "recording_delete"},
    re.compile(r"^/Recordings/(RE\w+)(\.wav|\.mp3)?$"): {"GET": "recording_media"},
    re.compile(r"^/Calls/(CA\w+)\.json$"): {"DELETE": "call_delete"},
    re.compile(r"^/Calls\.json$"): {"POST": "call_create"},
    re.compile(r"^/AvailablePhoneNumbers/([A-Z]{2})/Local\.json$"): {"GET": "available"},
    re.compile(r"^/IncomingPhoneNumbers\.json$"): {"GET": "numbers_list", "POST": "numbers_buy"},
    re.compile(r"^/IncomingPhoneNumbers/(PN\w+)\.json$"): {"POST": "number_update", "GET": "number_fetch"},
    # Not Twilio's: how a simulator in another process (``simulate --server``
    # against the demo) leaves what a call made at "Twilio" (simulator/remote.py).
    re.compile(r"^/Simulator/Recordings\.json$"): {"POST": "simulator_recording"},
    re.compile(r"^/Simulator/Calls\.json$"): {"POST": "simulator_call"},
}


def _first_of(form: dict[str, list[str]]) -> Any:
    """``one(name)``: the first value of a form field, or ""."""
    return lambda name: (form.get(name) or [""])[0]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTwilio
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet: the request log is self.fake.requests.
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # --- plumbing -------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        entry = LoggedRequest(method, parts.path, parse_qs(parts.query), form)
        with fake._lock:
            fake.requests.append(entry)
        if not self._authorised():
            entry.status = 401
            self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
            return
        fail_status, stall = fake._faults.take(method)
        if stall:
            time.sleep(stall)
        if fail_status:
            entry.status = fail_status
            self._json(
                fail_status, {"code": 20500, "message": "Internal Server Error", "status": fail_status}
            )
            return
        prefix = f"{API}{fake.account_sid}"
        if not parts.path.startswith(prefix + "/"):
            entry.status = 404
            self._not_found()
            return
        rest = parts.path[len(prefix) :]
        for pattern, handlers in _ROUTES.items():
            match = pattern.match(rest)
            if match and method in handlers:
                entry.status = getattr(self, "_" + handlers[method])(
                    *match.groups(), query=entry.query, form=form
                )
                return
        entry.status = 404
        self._not_found()

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.fake.account_sid and password == self.fake.auth_token

    def _json(self, status: int, payload: dict[str, Any]) -> int:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return status

    def _empty(self, status: int = 204) -> int:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return status

    def _not_found(self) -> int:
        return self._json(
            404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
        )

    # --- endpoints --------------------------------------------------------------

    def _recording_json(self, rec: FakeRecording) -> dict[str, Any]:
        fake = self.fake
        return {
            "sid": rec.sid,
            "account_sid": fake.account_sid,
            "call_sid": rec.call_sid,
            "duration": None if rec.duration is None else str(rec.duration),
            "status": "completed",
            "channels": 1,
            "source": "RecordVerb",
            "uri": f"{API}{fake.account_sid}/Recordings/{rec.sid}.json",
            "media_url": fake.recording_url(rec.sid),
        }

    def _recording_meta(self, sid: str, **_: Any) -> int:
        rec = self.fake.recordings.get(sid)
        return self._json(200, self._recording_json(rec)) if rec else self._not_found()

    def _recordings_list(self, query: dict[str, list[str]], **_: Any) -> int:
        wanted = (query.get("CallSid") or [""])[0] or None
        with self.fake._lock:
            found = [r for r in self.fake.recordings.values() if wanted in (None, r.call_sid)]
        items = [self._recording_json(r) for r in found]
        return self._json(200, _page("recordings", items, self.path))

    def _recording_media(self, sid: str, ext: str | None, **_: Any) -> int:
        fake = self.fake
        rec = fake.recordings.get(sid)
        if rec is None:
            return self._not_found()
        content_type = "audio/mpeg" if ext == ".mp3" else rec.content_type
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(rec.audio)))
        self.end_headers()
        # Half the body now, the rest once released: a killed client sees a
        # download that started but never finished.
        half = len(rec.audio) // 2
        self.wfile.write(rec.audio[:half])
        self.wfile.flush()
        fake.media_requested.set()
        fake._media_gate.wait(timeout=60)
        self.wfile.write(rec.audio[half:])
        return 200

    def _recording_delete(self, sid: str, **_: Any) -> int:
        fake = self.fake
        with fake._lock:
            rec = fake.recordings.pop(sid, None)
            if rec is not None:
                fake.deleted_recordings.append(sid)
        return self._empty() if rec else self._not_found()

    def _simulator_recording(self, form: dict[str, list[str]], **_: Any) -> int:
        one = _first_of(form)
        duration = one("Duration")
        self.fake.add_recording(
            one("Sid"),
            base64.b64decode(one("Audio")),
            call_sid=one("CallSid") or None,
            duration=int(duration) if duration.isdigit() else None,
            content_type=one("ContentType") or "audio/x-wav",
        )
        return self._empty(201)

    def _simulator_call(self, form: dict[str, list[str]], **_: Any) -> int:
        one = _first_of(form)
        self.fake.add_call(one("Sid"), one("From"), one("To"), one("ParentCallSid") or None)
        return self._empty(201)

    def _call_delete(self, sid: str, **_: Any) -> int:
        # A SID never reported through add_call is taken to exist (tests of
        # retention make call rows without placing calls); a deleted one is 404.
        fake = self.fake
        with fake._lock:
            if sid in fake.deleted_calls:
                gone = True
            else:
                fake.calls.pop(sid, None)
                fake.deleted_calls.append(sid)
                gone = False
        return self._not_found() if gone else self._empty()

    def _call_create(self, form: dict[str, list[str]], **_: Any) -> int:
        """Place a call as Twilio's Calls resource does: ``To``, ``From`` (a
        number of this account) and an absolute ``Url`` are required, the
        call is queued and answered 201 at once; it rings afterwards."""
        fake = self.fake

        def one(name: str) -> str:
            return (form.get(name) or [""])[0]

        to, from_, url = one("To"), one("From"), one("Url")
        problem = None
        if not to:
            problem = (21201, "No 'To' number is specified")
        elif not re.fullmatch(r"\+[1-9]\d{6,14}", to):
            problem = (21211, "Invalid 'To' Phone Number")
        elif not from_:
            problem = (21213, "No 'From' number is specified")
        elif fake.number_by_e164(from_) is None:
            problem = (21210, "The source phone number provided, From, is not yet verified for your account")
        elif not re.fullmatch(r"https?://[^/\s]+\S*", url):
            problem = (21205, "Url is not a valid URL")
        elif one("Method") not in ("", "GET", "POST") or one("StatusCallbackMethod") not in (
            "",
            "GET",
            "POST",
        ):
            problem = (21200, "Method must be GET or POST")
        if problem is not None:
            code, message = problem
            return self._json(400, {"code": code, "message": message, "status": 400})
        sid = fake.new_sid("CA")
        timeout = one("Timeout")
        placed = PlacedCall(
            sid=sid,
            to=to,
            from_=from_,
            url=url,
            method=one("Method") or "POST",
            status_callback=one("StatusCallback") or None,
            # The library sends each event as its own StatusCallbackEvent field.
            status_events=tuple(e for v in form.get("StatusCallbackEvent", []) for e in v.split())
            or ("completed",),
            status_method=one("StatusCallbackMethod") or "POST",
            timeout=int(timeout) if timeout.isdigit() else 60,
            machine_detection=one("MachineDetection") or None,
        )
        with fake._lock:
            fake.placed.append(placed)
            fake.calls[sid] = FakeCall(sid, from_, to)
        now = format_datetime(datetime.now(UTC), usegmt=True)
        return self._json(
            201,
            {
                "sid": sid,
                "account_sid": fake.account_sid,
                "to": to,
                "from": from_,
                "status": "queued",
                "direction": "outbound-api",
                "parent_call_sid": None,
                "date_created": now,
                "date_updated": now,
                "api_version": "2010-04-01",
                "uri": f"{API}{fake.account_sid}/Calls/{sid}.json",
            },
        )

    def _available(self, country: str, query: dict[str, list[str]], **_: Any) -> int:
        area = (query.get("AreaCode") or [""])[0]
        owned = {n["phone_number"] for n in self.fake.numbers.values()}
        offer = [n for n in self.fake._offer(area) if n not in owned] if country == "GB" else []
        items = [
            {
                "phone_number": n,
                "friendly_name": n,
                "iso_country": "GB",
                "locality": None,
                "region": None,
                "capabilities": {"voice": True, "SMS": True, "MMS": False},
            }
            for n in offer
        ]
        return self._json(200, _page("available_phone_numbers", items, self.path))

    def _numbers_list(self, query: dict[str, list[str]], **_: Any) -> int:
        wanted: str | None = (query.get("PhoneNumber") or [""])[0] or None
        with self.fake._lock:
            items = [dict(n) for n in self.fake.numbers.values() if wanted in (None, n["phone_number"])]
        return self._json(200, _page("incoming_phone_numbers", items, self.path))

    def _numbers_buy(self, form: dict[str, list[str]], **_: Any) -> int:
        fake = self.fake
        number = (form.get("PhoneNumber") or [""])[0]
        if not number:
            return self._json(400, {"code": 21601, "message": "PhoneNumber is required", "status": 400})
        if fake.number_by_e164(number):
            return self._json(400, {"code": 21422, "message": "Number not available", "status": 400})
        values: dict[str, Any] = {"phone_number": number}
        values.update({NUMBER_FIELDS[k]: v[0] for k, v in form.items() if k in NUMBER_FIELDS})
        sid = fake._create_number(values)
        return self._json(201, fake.numbers[sid])

    def _number_fetch(self, sid: str, **_: Any) -> int:
        number = self.fake.numbers.get(sid)
        return self._json(200, number) if number else self._not_found()

    def _number_update(self, sid: str, form: dict[str, list[str]], **_: Any) -> int:
        fake = self.fake
        with fake._lock:
            number = fake.numbers.get(sid)
            if number is not None:
                number.update({NUMBER_FIELDS[k]: v[0] for k, v in form.items() if k in NUMBER_FIELDS})
                number["date_updated"] = format_datetime(datetime.now(UTC), usegmt=True)
        return self._json(200, number) if number else self._not_found()


def running(account_sid: str, auth_token: str) -> Iterator[FakeTwilio]:
    """Generator for pytest fixtures: a started FakeTwilio, stopped afterwards."""
    fake = FakeTwilio(account_sid, auth_token).start()
    try:
        yield fake
    finally:
        fake.stop()
