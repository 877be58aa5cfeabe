"""The floor: the leanest *correct* inbound-call webhook, written for the
benchmark only (issue 20), to measure the project's ``/voice/incoming``
against what any webhook doing the same work must cost; and a floor of the
same kind for the status callback and the member's whisper (below).

It does what the real one must and nothing more: Flask; Twilio's signature
(HMAC-SHA1 over the public URL and the sorted form) checked, 403 when
wrong; one PostgreSQL statement, through a small pool of psycopg
connections, that finds the line, its member's encrypted phone and whether
the member blocked the caller, and inserts the call-log row; an HMAC blind
index and a Fernet encryption of the caller; one Fernet decryption of the
member's phone; TwiML written as a string that rings that member.

None of the project's code is imported: it reads the benchmark's own keys
(``benchmarks.config``) and the schema the migrations made, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import psycopg
from cryptography.fernet import Fernet
from flask import Flask, Response, request
from redis import Redis

from benchmarks.config import AUTH_TOKEN, DATA_KEY, INDEX_KEY, PUBLIC_BASE_URL, REDIS_URL

# One round trip: the lookup as a CTE, the insert as a data-modifying CTE
# (idempotent on the CallSid, as a Twilio retry needs), the lookup returned.
SCREEN_AND_LOG = """
WITH found AS (
  SELECT s.id AS line_id, m.id AS member_id, m.phone_encrypted,
         EXISTS (SELECT 1 FROM blocks b
                 WHERE b.member_id = m.id AND b.caller_index = %(index)s) AS blocked
  FROM safety_numbers s JOIN members m ON m.id = s.member_id
  WHERE s.e164 = %(line)s AND s.status = 'assigned' AND s.kind = 'safety'
    AND m.status = 'active' AND m.phone_encrypted IS NOT NULL
), logged AS (
  INSERT INTO calls (call_sid, direction, status, safety_number_id, member_id,
                     other_party_index, other_party_encrypted, other_party_last3,
                     withheld, blocked, warned, last_sequence, bridged, declined,
                     started_at, created_at)
  SELECT %(sid)s, 'inbound', 'ringing', line_id, member_id, %(index)s, %(token)s,
         %(last3)s, false, blocked, false, -1, false, false, now(), now()
  FROM found
  ON CONFLICT (call_sid) DO NOTHING
)
SELECT phone_encrypted, blocked FROM found
"""

# The status callback's honest minimum: the event written durably before
# Twilio is answered (idempotent on its natural key), its id handed to the
# workers by one Redis command.
RECORD_EVENT = """
INSERT INTO events (job, key, args, created_at, due_at, attempts)
VALUES ('call_event', %(key)s, %(args)s, now(), now(), 0)
ON CONFLICT (key) DO NOTHING RETURNING id
"""
DOORBELL = "floor:doorbell"
CALL_STATUSES = frozenset(
    {"queued", "initiated", "ringing", "in-progress", "answered", "completed", "busy", "no-answer",
     "failed", "canceled"}
)  # fmt: skip
# The whisper's: the call the member is rung for, its caller's last digits,
# the member's language and the categories of the caller's live warnings.
WHISPER_FACTS = """
SELECT c.other_party_last3, m.language,
       ARRAY(SELECT w.category FROM warnings w
             WHERE c.other_party_index IS NOT NULL AND w.caller_index = c.other_party_index
               AND (w.expires_at IS NULL OR w.expires_at > now())
             ORDER BY w.created_at DESC)
FROM calls c LEFT JOIN members m ON m.id = c.member_id
WHERE c.call_sid = %(sid)s AND c.direction = 'inbound'
"""
XML = '<?xml version="1.0" encoding="UTF-8"?>'
EMPTY = XML + "<Response />"
DECLINE = XML + "<Response><Hangup /></Response>"
REJECT = XML + '<Response><Reject reason="busy" /></Response>'
UNAVAILABLE = (
    XML + '<Response><Say language="en-GB" voice="Polly.Amy">This number is not available.</Say>'
    "<Hangup /></Response>"
)
E164_DIGITS = frozenset("0123456789")
POOL_SIZE = 4  # the gunicorn threads of one worker


class Pool:
    """Connections opened on first need and handed back after each request."""

    def __init__(self, url: str, size: int) -> None:
        self._url, self._free = url, queue.LifoQueue[psycopg.Connection[Any]]()
        self._opened, self._size, self._lock = 0, size, threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            conn = self._free.get_nowait()
        except queue.Empty:
            conn = self._open_or_wait()
        try:
            yield conn
        finally:
            self._free.put(conn)

    def _open_or_wait(self) -> psycopg.Connection[Any]:
        with self._lock:
            opening = self._opened < self._size
            self._opened += opening
        if not opening:
            return self._free.get(timeout=5)
        try:
            return psycopg.connect(self._url, autocommit=True)
        except psycopg.Error:
            with self._lock:
                self._opened -= 1  # the slot is free again
            raise


def twilio_signature(url: str, form: list[tuple[str, str]]) -> str:
    """Twilio's: base64 HMAC-SHA1 of the URL followed by every key and value, keys sorted."""
    payload = url + "".join(k + v for k, v in sorted(form))
    digest = hmac.new(AUTH_TOKEN.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def ring(member_phone: str, line: str, sid: str) -> str:
    """Ring the member from the line, with the project's whisper, action and status URLs."""
    base = PUBLIC_BASE_URL + "/voice/"
    return (
        f'{XML}<Response><Dial action={quoteattr(f"{base}dial_result?call={sid}")} answerOnBridge="true"'
        f' callerId="{line}" timeout="20">'
        f'<Number statusCallback="{base}status" statusCallbackEvent="initiated ringing answered completed"'
        f" url={quoteattr(f'{base}whisper?call={sid}')}>{escape(member_phone)}</Number></Dial></Response>"
    )


def whisper_twiml(last3: str | None, categories: list[str], screen_url: str) -> str:
    """Who is calling, the warnings on file, the keys; hang up if none is pressed."""
    say = '<Say language="en-GB" voice="Polly.Amy">'
    caller = f"a number ending {' '.join(last3)}" if last3 else "a withheld number"
    parts = [f"{say}Safety Number call from {escape(caller)}.</Say>"]
    if categories:
        kinds = escape(", ".join(sorted(set(categories))))
        parts.append(f"{say}{len(categories)} warnings on file about this caller: {kinds}.</Say>")
    parts.append(f"{say}Press 1 to accept, 2 to decline and block.</Say>")
    gather = f'<Gather action={quoteattr(screen_url)} input="dtmf" method="POST" numDigits="1" timeout="6">'
    return f"{XML}<Response>{gather}{''.join(parts)}</Gather><Hangup /></Response>"


def signed(url: str) -> list[tuple[str, str]] | None:
    """The request's form if Twilio's signature over ``url`` and it matches, else None."""
    form = list(request.form.items(multi=True))
    given = request.headers.get("X-Twilio-Signature", "").encode()
    return form if hmac.compare_digest(twilio_signature(url, form).encode(), given) else None


def digits(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None


def create_app() -> Flask:
    app = Flask(__name__)
    pool = Pool(os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://"), POOL_SIZE)
    index_key = base64.urlsafe_b64decode(INDEX_KEY + "=" * (-len(INDEX_KEY) % 4))
    fernet = Fernet(DATA_KEY)
    url = PUBLIC_BASE_URL + "/voice/incoming"

    @app.post("/voice/incoming")
    def incoming() -> Response:
        form = list(request.form.items(multi=True))
        if not hmac.compare_digest(
            twilio_signature(url, form).encode(), request.headers.get("X-Twilio-Signature", "").encode()
        ):
            return Response("Forbidden\n", status=403, mimetype="text/plain")
        fields = dict(form)
        caller, line, sid = fields.get("From", ""), fields.get("To", ""), fields.get("CallSid", "")[:64]
        if not (caller.startswith("+") and 8 <= len(caller) <= 16 and set(caller[1:]) <= E164_DIGITS):
            return Response(REJECT, mimetype="text/xml")  # withheld or not a number: the floor skips it
        params = {
            "index": hmac.new(index_key, caller.encode(), hashlib.sha256).hexdigest(),
            "token": fernet.encrypt(caller.encode()).decode(),
            "last3": caller[-3:],
            "line": line,
            "sid": sid,
        }
        with pool.connection() as conn:
            row = conn.execute(SCREEN_AND_LOG, params).fetchone()
        if row is None:
            return Response(UNAVAILABLE, mimetype="text/xml")
        if row[1]:
            return Response(REJECT, mimetype="text/xml")
        return Response(ring(fernet.decrypt(row[0].encode()).decode(), line, sid), mimetype="text/xml")

    redis = Redis.from_url(REDIS_URL)
    status_url = PUBLIC_BASE_URL + "/voice/status"

    @app.post("/voice/status")
    def status() -> Response:
        form = signed(status_url)
        if form is None:
            return Response("Forbidden\n", status=403, mimetype="text/plain")
        fields = dict(form)
        sid = fields.get("CallSid", "")[:64]
        if sid:
            reported = fields.get("CallStatus", "").strip().lower()
            state = reported if reported in CALL_STATUSES else "unknown"
            sequence = digits(fields.get("SequenceNumber", ""))
            args = [sid, sequence or 0, state, digits(fields.get("CallDuration", "")), None]
            key = f"call:{sid}:{state if sequence is None else sequence}"
            with pool.connection() as conn:
                row = conn.execute(RECORD_EVENT, {"key": key, "args": json.dumps(args)}).fetchone()
            if row is not None:
                redis.lpush(DOORBELL, row[0])
        return Response(EMPTY, mimetype="text/xml")

    @app.post("/voice/whisper")
    def whisper() -> Response:
        call = request.args.get("call", "")[:64]
        if signed(f"{PUBLIC_BASE_URL}/voice/whisper?call={call}") is None:
            return Response("Forbidden\n", status=403, mimetype="text/plain")
        with pool.connection() as conn:
            row = conn.execute(WHISPER_FACTS, {"sid": call}).fetchone()
        if row is None:
            return Response(DECLINE, mimetype="text/xml")
        screen = f"{PUBLIC_BASE_URL}/voice/screen?call={call}"
        return Response(whisper_twiml(row[0], row[2], screen), mimetype="text/xml")

    return app
