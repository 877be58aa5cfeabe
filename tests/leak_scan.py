"""pytest plugin: run the suite with DEBUG logging and look for leaks.

Registered from ``tests/conftest.py``. For the whole session it

- writes every log record of the app's loggers (and rq's, twilio's, urllib3's)
  at DEBUG, with stack traces, to one file;
- learns which numbers are real people's: every number the app ever encrypts
  or blind-indexes (``NumberVault.protect``, ``BlindIndex``) — members'
  phones, callers, masked-call destinations, warned numbers — minus the
  Safety Numbers of the pool, which are public; and every member's working
  name, as it is written to the database;
- learns the secrets derived from them (issue 12): every blind index the
  app computes, every ciphertext it makes with the data keys
  (``FieldCipher.encrypt``: numbers, TOTP secrets) and every Argon2 hash
  (PINs, passwords) — a database error once logged all of these;
- copies every key of the test Redis database (jobs included, decompressed)
  before each test that used it is torn down, since the ``redis`` fixture
  flushes it;

and ``tests/test_log_scan.py`` (moved to the end of the run) scans the log,
the Redis copy and every development mail log the tests wrote for those
numbers, in E.164, international, national and spaced forms, names, and
those secrets (whole or cut short: any 32 characters of one are enough).

``LEAK_SCAN=0`` turns it off.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

LOGGERS = ("ivr", "callflows", "storage", "worker", "rq", "twilio", "urllib3", "tests")
SCAN_TEST = "test_log_scan.py::test_the_suite_leaked_no_member_number_or_name"


@dataclass
class LeakScan:
    """What the session saw; read by tests/test_log_scan.py."""

    log_path: Path
    redis_path: Path
    numbers: set[str] = field(default_factory=set)
    public_numbers: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    # fingerprint (32 characters of a secret) -> what kind of secret it is
    secrets: dict[str, str] = field(default_factory=dict)
    basetemp: Path | None = None

    def remember(self, kind: str, value: str) -> None:
        for fingerprint in secret_fingerprints(kind, value):
            self.secrets[fingerprint] = kind

    def secret_numbers(self) -> set[str]:
        return self.numbers - self.public_numbers

    def mail_logs(self) -> list[Path]:
        if self.basetemp is None or not self.basetemp.exists():
            return []
        return sorted(p for p in self.basetemp.rglob("*mail*.log") if p.is_file())


STATE: LeakScan | None = None


# --- what counts as a leak -------------------------------------------------


def number_forms(e164: str) -> list[str]:
    """The ways a number is written: +442079460123, 442079460123, 02079460123,
    020 7946 0123, 2079460123 (and the international spaced form)."""
    import phonenumbers

    forms = {e164, e164.lstrip("+"), "%2B" + e164.lstrip("+")}
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return sorted(forms)
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    forms |= {national, re.sub(r"\D", "", national), international, str(parsed.national_number)}
    return sorted(f for f in forms if len(re.sub(r"\D", "", f)) >= 7)


@functools.lru_cache(maxsize=4096)
def _number_pattern(e164: str) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(f) for f in sorted(number_forms(e164), key=len, reverse=True))
    # standing alone: not inside a SID, a token or a longer run of digits
    return re.compile(rf"(?<![0-9A-Za-z])(?:{alternatives})(?![0-9A-Za-z])")


def _name_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])")


def is_scannable_name(name: str | None) -> bool:
    """Names short or letterless enough to occur by chance are not scanned."""
    return bool(name) and len(name.strip()) >= 4 and any(c.isalpha() for c in name)  # type: ignore[union-attr]


def find_leaks(text: str, numbers: Iterable[str], names: Iterable[str]) -> list[str]:
    """Every number or name of ``numbers``/``names`` found in ``text``."""
    found = []
    for number in sorted(set(numbers)):
        match = _number_pattern(number).search(text)
        if match:
            found.append(f"number ending {number[-3:]} as {match.group(0)[:4]}…")
    for name in sorted(set(names)):
        if is_scannable_name(name) and _name_pattern(name.strip()).search(text):
            found.append(f"member name {name[:1]}… ({len(name)} chars)")
    return found


# Secrets are found by any 32 characters they share with the text: enough
# to be unique (a blind index has 64 random hex characters, a Fernet token's
# IV 22 random base64 ones, an Argon2 digest 43), short enough to catch a
# secret cut short in a log line. Fernet tokens begin with a version byte and
# a timestamp that many share, so their windows start at the IV.
FINGERPRINT = 32
_CANDIDATE = re.compile(rf"[A-Za-z0-9+/_=-]{{{FINGERPRINT},}}")
_FIRST_WINDOW = {"blind index": 0, "ciphertext": 12, "Argon2 hash": 0}


def secret_fingerprints(kind: str, value: str) -> list[str]:
    """The 32-character windows of ``value`` that identify it."""
    if kind == "Argon2 hash":
        value = value.rsplit("$", 1)[-1]  # the digest; the parameters are shared
    first = _FIRST_WINDOW[kind]
    return [value[i : i + FINGERPRINT] for i in range(first, len(value) - FINGERPRINT + 1)]


def find_secrets(text: str, secrets: dict[str, str]) -> list[str]:
    """The kinds of secret found in ``text``, once each, never the secret itself."""
    found: dict[str, int] = {}
    for match in _CANDIDATE.finditer(text):
        run = match.group(0)
        for i in range(len(run) - FINGERPRINT + 1):
            kind = secrets.get(run[i : i + FINGERPRINT])
            if kind is not None:
                found[kind] = found.get(kind, 0) + 1
                break
    return [f"{kind} ({count}x)" for kind, count in sorted(found.items())]


# --- recording what the session saw -----------------------------------------


def _watch_numbers(state: LeakScan) -> None:
    from storage.crypto import BlindIndex
    from storage.vault import NumberVault

    index_call = BlindIndex.__call__
    protect = NumberVault.protect

    def watched_index(self: BlindIndex, e164: str) -> str:
        state.numbers.add(e164)
        index = index_call(self, e164)
        state.remember("blind index", index)
        return index

    def watched_protect(self: NumberVault, e164: str) -> Any:
        state.numbers.add(e164)
        return protect(self, e164)

    BlindIndex.__call__ = watched_index  # type: ignore[method-assign]
    NumberVault.protect = watched_protect  # type: ignore[method-assign]


def _watch_secrets(state: LeakScan) -> None:
    """Ciphertexts and Argon2 hashes, as they are made (numbers, TOTP
    secrets, PINs, passwords). Patched on the classes, so every import
    path and instance is seen."""
    from argon2 import PasswordHasher

    from storage.crypto import FieldCipher

    encrypt = FieldCipher.encrypt
    hash_ = PasswordHasher.hash

    def watched_encrypt(self: FieldCipher, plaintext: str) -> str:
        token = encrypt(self, plaintext)
        state.remember("ciphertext", token)
        return token

    def watched_hash(self: PasswordHasher, password: str | bytes, *, salt: bytes | None = None) -> str:
        hashed = hash_(self, password, salt=salt)
        state.remember("Argon2 hash", hashed)
        return hashed

    FieldCipher.encrypt = watched_encrypt  # type: ignore[method-assign]
    PasswordHasher.hash = watched_hash  # type: ignore[method-assign]


def _watch_rows(state: LeakScan) -> None:
    from sqlalchemy import event

    from storage.models import Member, SafetyNumber

    def member_written(_mapper: Any, _conn: Any, member: Member) -> None:
        if member.working_name:
            state.names.add(member.working_name)

    def line_written(_mapper: Any, _conn: Any, line: SafetyNumber) -> None:
        state.public_numbers.add(line.e164)

    for kind in ("before_insert", "before_update"):
        event.listen(Member, kind, member_written)
        event.listen(SafetyNumber, kind, line_written)


def _redis_text(client: Any) -> Iterator[str]:
    for key in client.scan_iter(count=500):
        kind = client.type(key)
        if kind == b"string":
            values = [client.get(key)]
        elif kind == b"hash":
            values = [*client.hgetall(key).keys(), *client.hgetall(key).values()]
        elif kind == b"list":
            values = client.lrange(key, 0, -1)
        elif kind == b"set":
            values = list(client.smembers(key))
        elif kind == b"zset":
            values = client.zrange(key, 0, -1)
        else:
            values = []
        yield key.decode("latin-1")
        for value in values:
            if not isinstance(value, bytes):
                continue
            with contextlib.suppress(zlib.error):
                value = zlib.decompress(value)  # RQ keeps job data compressed
            yield value.decode("latin-1")


def _copy_redis(state: LeakScan) -> None:
    from redis import Redis

    from tests.support.suite import REDIS_URL

    client = Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        with state.redis_path.open("a", encoding="utf-8", errors="replace") as out:
            for text in _redis_text(client):
                out.write(text + "\n")
    finally:
        client.close()


# --- pytest hooks -------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    global STATE
    if os.environ.get("LEAK_SCAN", "1") == "0" or STATE is not None:
        return
    folder = Path(tempfile.mkdtemp(prefix="sn-leak-scan-"))
    STATE = LeakScan(log_path=folder / "debug.log", redis_path=folder / "redis.txt")
    handler = logging.FileHandler(STATE.log_path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    _watch_numbers(STATE)
    _watch_secrets(STATE)
    _watch_rows(STATE)
    config.addinivalue_line("markers", "leak_scan_last: runs after every other test")


def pytest_sessionstart(session: pytest.Session) -> None:
    if STATE is not None:
        factory = getattr(session.config, "_tmp_path_factory", None)
        if factory is not None:
            STATE.basetemp = factory.getbasetemp()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The scan runs last, over everything the run did before it."""
    last = [item for item in items if item.nodeid.endswith(SCAN_TEST)]
    for item in last:
        items.remove(item)
        items.append(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    # Before the fixtures' finalizers run: the redis fixture flushes the database.
    if STATE is not None and "redis" in getattr(item, "funcargs", {}):
        try:
            _copy_redis(STATE)
        except Exception as exc:  # a dead Redis is another test's business
            logging.getLogger("tests.leak_scan").debug("could not copy Redis: %s", type(exc).__name__)
    yield
