"""Pre-generated Twilio webhooks, signed as Twilio signs them.

Signatures are computed with twilio's ``RequestValidator`` over
``PUBLIC_BASE_URL`` + path and the form, so the app's guard accepts them.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from benchmarks.config import AUTH_TOKEN, PUBLIC_BASE_URL

ACCOUNT_SID = "ACbench000000000000000000000000000"


@dataclass(frozen=True)
class SignedRequest:
    path: str
    signature: str
    body: str
    form: tuple[tuple[str, str], ...]


def sign(path: str, form: Sequence[tuple[str, str]]) -> SignedRequest:
    params = dict(form)
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + path, params)
    return SignedRequest(path, signature, urlencode(list(form)), tuple(form))


def call_sid() -> str:
    return "CA" + secrets.token_hex(16)


def random_caller(rng: random.Random) -> str:
    """A UK mobile number phonenumbers holds valid, as Twilio's ``From``
    carries for a real caller. 07911 is a mobile range, but not all of its
    sub-ranges are allocated: an invalid number is read as a withheld
    caller, which would spare the app the caller's encryption and index."""
    import phonenumbers

    while True:
        number = f"+447911{rng.randrange(10**6):06d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number


def incoming_call(line: str, caller: str) -> SignedRequest:
    """``POST /voice/incoming`` as Twilio sends it for a new call."""
    form = [
        ("AccountSid", ACCOUNT_SID),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", call_sid()),
        ("CallStatus", "ringing"),
        ("Called", line),
        ("Caller", caller),
        ("Direction", "inbound"),
        ("From", caller),
        ("FromCountry", "GB"),
        ("To", line),
        ("ToCountry", "GB"),
    ]
    return sign("/voice/incoming", form)


def status_callback(sid: str, sequence: int, status: str, line: str, caller: str) -> SignedRequest:
    """``POST /voice/status`` for one event of one call."""
    form = [
        ("AccountSid", ACCOUNT_SID),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", sid),
        ("CallStatus", status),
        ("Direction", "inbound"),
        ("From", caller),
        ("To", line),
        ("SequenceNumber", str(sequence)),
        ("Timestamp", "Sun, 29 Nov 2026 05:00:00 +0000"),
    ]
    if status == "completed":
        form.append(("CallDuration", "42"))
    return sign("/voice/status", form)


def incoming_calls(
    lines: Sequence[str], callers: Sequence[str], count: int, seed: int = 7
) -> list[SignedRequest]:
    """``count`` inbound calls, each with its own CallSid, spread over lines and callers."""
    rng = random.Random(seed)
    return [incoming_call(rng.choice(lines), rng.choice(callers)) for _ in range(count)]


def write_wrk_file(requests: Iterable[SignedRequest], path: Path) -> Path:
    """One request a line, ``path<TAB>signature<TAB>body``, for ``rotate.lua``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        for r in requests:
            fh.write(f"{r.path}\t{r.signature}\t{r.body}\n")
    return path
