"""A real HTTP server on a loopback port, for tests that fire parallel requests,
a database of the test's own whose commits are real, and Twilio's signed
posts to such a server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import requests
from flask import Flask
from sqlalchemy import create_engine
from werkzeug.serving import make_server

from storage.db import Database
from storage.migrate import upgrade
from tests.support.databases import committing_database, scratch_database
from tests.support.suite import SuiteConfig
from tests.support.twilio import TwilioClient


@contextmanager
def serving(app: Flask, port: int = 0) -> Iterator[str]:
    """Serve ``app`` (one thread per request) on ``port`` (0: any free one)
    until the block ends; its base URL."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@contextmanager
def migrated_database(server_url: str, name: str, pool_size: int) -> Iterator[Database]:
    """A fresh migrated database of its own on the test server, dropped at the end."""
    with scratch_database(server_url, name) as url:
        engine = create_engine(url)
        upgrade(engine)
        engine.dispose()
        db = committing_database(url, pool_size=pool_size)
        _fill_pool(db, pool_size)
        try:
            yield db
        finally:
            db.engine.dispose()


class SignedPoster:
    """Posts to a live server at ``origin`` as Twilio does: the form signed
    over the suite's ``PUBLIC_BASE_URL`` + path. Safe to share between threads."""

    def __init__(self, origin: str, suite: SuiteConfig) -> None:
        self.origin, self.suite = origin, suite
        self.signer = TwilioClient(None, suite)  # type: ignore[arg-type]

    def post(self, path: str, form: dict[str, str]) -> bytes:
        """The TwiML body answering ``form`` at ``path`` (which must be a 200)."""
        signature = self.signer.sign(self.suite.url(path), form)
        response = requests.post(
            self.origin + path, data=form, headers={"X-Twilio-Signature": signature}, timeout=60
        )
        assert response.status_code == 200, response.status_code
        return response.content


def _fill_pool(db: Database, size: int) -> None:
    """Open the pool's connections before the test fires its requests: on a
    loaded machine, dozens of connections opened at the same moment can
    outlast the engine's 2 s connect timeout, and a parallel test is about
    what its requests do, not about opening connections."""
    with ExitStack() as held:
        for _ in range(size):
            held.enter_context(db.engine.connect())
