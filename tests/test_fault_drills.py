"""Fast fault drills: Redis and PostgreSQL die, hang and come back while the
webhooks keep answering Twilio with safe TwiML and nothing is lost.

The shared Redis and PostgreSQL servers are never stopped (other runs use
them). Each drill puts a :class:`Link` between the app and the real server —
a loopback TCP relay that can forward, cut every connection and refuse new
ones ("down"), or accept and never answer ("blackhole") — or points the app
at a port where nothing listens. The long drills (a real redis-server and
PostgreSQL killed under load) are in ``benchmarks/drills.py``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from redis import Redis
from rq import Queue
from sqlalchemy import select
from werkzeug.test import TestResponse

from core.queue import QUEUE_NAME, RedisQueue
from core.services import bound
from ivr import create_app, services_of
from storage.db import Database
from storage.models import CallEvent, Event, utcnow
from tests.support.suite import AppConfig, SuiteConfig
from tests.support.twilio import TwilioClient, twiml_of
from tests.worker_helpers import rung_jobs
from worker.events import GRACE, sweep_events
from worker.private_worker import PrivateSimpleWorker

UNREACHABLE_PG = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"
APOLOGY_WORDS = "cannot take your call"

# Counts events and sweeps: other tests' committed events must not show.
pytestmark = pytest.mark.usefixtures("empty_events")


class Link:
    """A TCP relay on 127.0.0.1 in front of a real server, with a switch."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.mode = "up"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._open.append(client)
            if self.mode == "down":
                self._kill(client)
            elif self.mode == "up":
                try:
                    upstream = socket.create_connection(self.target, timeout=2)
                except OSError:
                    self._kill(client)
                    continue
                upstream.settimeout(None)
                with self._lock:
                    self._open.append(upstream)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()
            # "blackhole": keep the connection open and never answer

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            self._kill(src)
            self._kill(dst)

    @staticmethod
    def _kill(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def set(self, mode: str) -> None:
        """``up``, ``down`` (every open connection cut, new ones closed at once) or ``blackhole``."""
        self.mode = mode
        if mode != "up":
            with self._lock:
                doomed, self._open = self._open, []
            for sock in doomed:
                self._kill(sock)

    def close(self) -> None:
        self._closed = True
        self.set("down")
        self._listener.close()


@pytest.fixture
def redis_link(suite: SuiteConfig) -> Iterator[Link]:
    parts = urlsplit(suite.redis_url)
    link = Link(parts.hostname or "127.0.0.1", parts.port or 6379)
    yield link
    link.close()


@pytest.fixture
def pg_link(pg_url: str) -> Iterator[Link]:
    """The test database's server behind a link the test can cut."""
    parts = urlsplit(pg_url.replace("postgresql+psycopg", "http"))
    link = Link(parts.hostname or "127.0.0.1", parts.port or 5432)
    yield link
    link.close()


@pytest.fixture
def pg_linked_app(app_config: AppConfig, pg_url: str, pg_link: Link) -> Flask:
    """The app, reaching the test database through ``pg_link``."""
    parts = urlsplit(pg_url.replace("postgresql+psycopg", "http"))
    return create_app(
        app_config(DATABASE_URL=pg_url.replace(parts.netloc.rsplit("@", 1)[-1], f"127.0.0.1:{pg_link.port}"))
    )


def _via(link: Link, url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"127.0.0.1:{link.port}").geturl()


def _status(client: TwilioClient, sid: str, seq: int) -> TestResponse:
    return client.send("/voice/status", {"CallSid": sid, "SequenceNumber": str(seq), "CallStatus": "ringing"})


def _queued_events(redis: Redis, db: Database) -> list[tuple[str, int]]:
    """(CallSid, SequenceNumber) of each call event a doorbell in Redis rings for."""
    jobs = Queue(QUEUE_NAME, connection=redis).jobs
    return [(args[0], args[1]) for name, args in rung_jobs(db, jobs) if name == "call_event"]


def _events(db: Database) -> list[Event]:
    with db.session() as s:
        return list(s.scalars(select(Event).order_by(Event.id)))


def _sweep(db: Database, app_config: AppConfig) -> int:
    """The events sweep as the worker's schedule runs it, past the grace period."""
    with bound(services_of(create_app(app_config(database=db)))):
        return sweep_events(now=utcnow() + GRACE + timedelta(seconds=1))


def _work(db: Database, app_config: AppConfig, redis: Redis) -> None:
    with bound(services_of(create_app(app_config(database=db)))):
        PrivateSimpleWorker([Queue(QUEUE_NAME, connection=redis)], connection=redis).work(burst=True)


def test_redis_that_accepts_and_never_answers_costs_a_timeout_not_the_event(
    suite: SuiteConfig, app_config: AppConfig, db: Database, redis: Redis, redis_link: Link, tmp_path: Path
) -> None:
    redis_link.set("blackhole")
    app = create_app(app_config(REDIS_URL=_via(redis_link, suite.redis_url), database=db))
    client = TwilioClient(app.test_client(), suite)

    root = twiml_of(_status(client, "CAblackhole", 3))
    assert list(root) == []  # the empty <Response/> Twilio expects, not a 5xx or a hang
    [event] = _events(db)  # written before the doorbell was tried
    assert event.job == "call_event" and event.args[:3] == ["CAblackhole", 3, "ringing"]
    assert event.done_at is None
    assert _queued_events(redis, db) == []

    assert _sweep(db, app_config) == 1
    assert _queued_events(redis, db) == [("CAblackhole", 3)]


def test_redis_dying_mid_call_and_coming_back_loses_and_repeats_nothing(
    suite: SuiteConfig, app_config: AppConfig, db: Database, redis: Redis, redis_link: Link, tmp_path: Path
) -> None:
    app = create_app(app_config(REDIS_URL=_via(redis_link, suite.redis_url), database=db))
    queue = services_of(app).queue
    assert isinstance(queue, RedisQueue)
    client = TwilioClient(app.test_client(), suite)
    sent: list[tuple[str, int]] = []

    def burst(phase: str) -> None:
        for seq in range(5):
            sid = f"CA{phase}"
            twiml_of(_status(client, sid, seq))  # 200 TwiML whatever Redis does
            sent.append((sid, seq))

    burst("before")
    redis_link.set("down")  # Redis dies: open connections cut, new ones refused
    burst("during")
    redis_link.set("up")  # back; the app reconnects by itself, no restart
    burst("after")

    assert sorted(_queued_events(redis, db)) == sorted(e for e in sent if e[0] != "CAduring")
    assert len(_events(db)) == 15  # every one written, rung or not
    _work(db, app_config, redis)
    waiting = [tuple(e.args[:2]) for e in _events(db) if e.done_at is None]
    assert waiting == [("CAduring", s) for s in range(5)]

    assert _sweep(db, app_config) == 5  # only what Redis never heard of
    _work(db, app_config, redis)
    assert _sweep(db, app_config) == 0
    with db.session() as s:
        logged = s.execute(select(CallEvent.call_sid, CallEvent.sequence_number)).all()
    assert sorted(logged) == sorted(sent)  # each once


def _voice_rules(app: Flask) -> list[str]:
    """Every POST path of the Twilio-facing voice and menu blueprints."""
    paths = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in ("voice", "menu") and "POST" in (rule.methods or ()):
            assert not rule.arguments, f"{rule.rule}: give the drill a value for {rule.arguments}"
            paths.append(rule.rule)
    return sorted(paths)


def test_database_unreachable_every_voice_webhook_still_answers_safe_twiml(
    suite: SuiteConfig, app_config: AppConfig, redis: Redis, tmp_path: Path
) -> None:
    app = create_app(app_config(DATABASE_URL=UNREACHABLE_PG))
    client = TwilioClient(app.test_client(), suite)
    paths = _voice_rules(app)
    assert "/voice/incoming" in paths and "/voice/status" in paths
    form = {
        "CallSid": "CAdbdown",
        "From": "+447911123456",
        "To": "+442079460001",
        "Digits": "1",
        "CallStatus": "in-progress",
        "RecordingSid": "REdbdown",
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/REdbdown",
    }
    for path in paths:
        response = client.send(path, form, query="call=CAparent&report=1")
        root = twiml_of(response)  # 200, text/xml, <Response>
        assert response.status_code == 200, path
        if path == "/voice/incoming":
            assert APOLOGY_WORDS in "".join(root.root.itertext())
            assert root.verbs[-1] == "Hangup"


def test_database_that_never_answers_gets_the_caller_an_apology(
    suite: SuiteConfig, app_config: AppConfig, redis: Redis, tmp_path: Path
) -> None:
    blackhole = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never answers
    try:
        port = blackhole.getsockname()[1]
        app = create_app(app_config(DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{port}/x"))
        response = TwilioClient(app.test_client(), suite).send(
            "/voice/incoming",
            {"CallSid": "CAhang", "From": "+447911123456", "To": "+442079460001"},
        )
        root = twiml_of(response)
        assert APOLOGY_WORDS in "".join(root.root.itertext())  # the connect timeout fired; no hang
    finally:
        blackhole.close()


def test_database_down_then_back_the_app_recovers_by_itself(
    suite: SuiteConfig, redis: Redis, tmp_path: Path, pg_link: Link, pg_linked_app: Flask
) -> None:
    link, app = pg_link, pg_linked_app
    client = TwilioClient(app.test_client(), suite)

    def call() -> str:
        # A number that is not in the pool: with the database up the
        # answer is the ordinary <Reject/>; down, it is the apology.
        root = twiml_of(
            client.send(
                "/voice/incoming",
                {"CallSid": "CAx", "From": "+447911123456", "To": "+442079469999"},
            )
        )
        return "apology" if APOLOGY_WORDS in "".join(root.root.itertext()) else "answered"

    assert call() == "answered"
    link.set("down")  # PostgreSQL stops: pooled connections cut, new ones fail
    assert [call(), call()] == ["apology", "apology"]
    link.set("up")  # back: no restart, no operator
    assert call() == "answered"
    assert app.test_client().get("/healthz").status_code == 200


def test_a_pooled_connection_that_died_while_idle_is_replaced_before_the_next_call(
    suite: SuiteConfig,
    redis: Redis,
    tmp_path: Path,
    pg_link: Link,
    pg_linked_app: Flask,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pooled connections are pinged only after sitting idle (storage/db.py,
    storage/statements.py): one cut while idle must cost the next caller
    nothing, in both pools (the engine's, and the bare driver's that the
    inbound call uses)."""
    import storage.db

    link, app = pg_link, pg_linked_app
    client = TwilioClient(app.test_client(), suite)
    form = {"CallSid": "CAidle", "From": "+447911123456", "To": "+442079469999"}
    assert APOLOGY_WORDS not in "".join(twiml_of(client.send("/voice/incoming", form)).root.itertext())
    assert app.test_client().get("/healthz").status_code == 200  # the engine's pool, used once
    link.set("down")  # the pooled connections are cut while nobody uses them
    link.set("up")
    # They have sat idle long enough to be pinged before their next use.
    monkeypatch.setattr(storage.db, "IDLE_PING_SECONDS", 0.0)
    driver_pool = services_of(app).db.driver_pool
    assert driver_pool is not None
    monkeypatch.setattr(driver_pool, "idle_ping_seconds", 0.0)
    root = twiml_of(client.send("/voice/incoming", form))
    assert APOLOGY_WORDS not in "".join(root.root.itertext())
    assert root[0].tag == "Reject"  # the ordinary rejection of a number not in the pool
    health = app.test_client().get("/healthz")
    assert health.status_code == 200 and health.get_json()["database"] == "ok", health.get_json()
