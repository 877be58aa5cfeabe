"""Fixtures: real PostgreSQL and Redis, migrations once per run, each test
inside a transaction that is rolled back, Redis database flushed.

``TEST_DATABASE_URL`` and ``TEST_REDIS_URL`` override where they live.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from redis import Redis
from sqlalchemy import Engine, create_engine, make_url, text

from ivr import create_app
from storage.db import Database
from storage.migrate import upgrade

# The whole run logs at DEBUG to a file that tests/test_log_scan.py scans,
# with Redis and mail logs, for members' numbers and names (issue 7).
pytest_plugins = ["tests.leak_scan"]

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

# Fixed test secrets: never used outside tests.
DATA_KEY = "5uH3Tg1hN4bQmJmZ8d2m0xqM2C8jz0m7VYq9WQ7f1xU="
OLD_DATA_KEY = "Yk7a6b3D2XoPq1Jw0cU8sZr9hVt4eLmN5gF0iKj2lAs="
INDEX_KEY = "dGVzdC1pbmRleC1rZXktdGhhdC1pcy1sb25nLWVub3VnaCE="
AUTH_TOKEN = "12345"
PUBLIC_BASE_URL = "https://safety.example.org"


def base_config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "TESTING": True,
        "instance_path": str(tmp_path / "instance"),
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_ACCOUNT_SID": "ACtest00000000000000000000000000000",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "SAFETY_DATA_KEYS": DATA_KEY,
        "SAFETY_INDEX_KEY": INDEX_KEY,
        "SECRET_KEY": "test-secret-key",
        "RECORDINGS_PATH": str(tmp_path / "recordings"),
        "REDIS_URL": REDIS_URL,
    }
    config.update(extra)
    return config


@pytest.fixture(autouse=True, scope="session")
def twiml_rendered_as_twilio_does() -> Iterator[None]:
    """Every TwiML document the suite serves is checked, as it is served,
    against twilio's own serialisation (tests/test_twiml_text.py)."""
    from ivr import twiml_text

    fast = twiml_text.render

    def checked(document: Any) -> str:
        text = fast(document)
        expected = str(document).encode("utf-8")
        assert text.encode("utf-8", "xmlcharrefreplace") == expected, (text, expected)
        return text

    twiml_text.render = checked  # type: ignore[assignment]
    yield
    twiml_text.render = fast  # type: ignore[assignment]


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh database of this run's own on the test PostgreSQL server.

    Several runs (developers, CI, benchmarks) may share one server; each gets
    its own database, created from ``PG_URL``'s and dropped afterwards.
    """
    server = make_url(PG_URL)
    name = f"sn_test_{os.getpid()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """The test PostgreSQL database, migrated once per run.

    Statement parameters hidden, as on production's engines (storage/db.py),
    so the suite's logs show what production's would; without production's
    statement timeout, which seeding 100,000 rows would exceed.
    """
    engine = create_engine(pg_url, hide_parameters=True)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    from storage.db import make_engine

    path = tmp_path_factory.mktemp("sqlite") / "safety.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _transactional(engine: Engine) -> Iterator[Database]:
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            yield Database.bound_to(conn)
        finally:
            outer.rollback()


@pytest.fixture
def db(pg_engine: Engine) -> Iterator[Database]:
    """A Database whose every commit is rolled back at the end of the test."""
    yield from _transactional(pg_engine)


@pytest.fixture(params=["postgresql", "sqlite"])
def any_db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """The same test on PostgreSQL and on SQLite."""
    engine = request.getfixturevalue("pg_engine" if request.param == "postgresql" else "sqlite_engine")
    yield from _transactional(engine)


@pytest.fixture
def redis() -> Iterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    # Every job a test enqueued through Redis, checked for phone numbers
    # before it is flushed away (tests/job_privacy.py).
    from tests.job_privacy import phone_numbers_in_jobs

    leaked = phone_numbers_in_jobs(client)
    client.flushdb()
    client.close()
    assert not leaked, f"jobs carry phone numbers: {sorted(leaked)}"


@pytest.fixture
def app(db: Database, redis: Redis, tmp_path: Path) -> Flask:
    return create_app({**base_config(tmp_path), "database": db})


@pytest.fixture
def inline_app(db: Database, tmp_path: Path) -> Flask:
    """The app with the embedded in-process queue (no REDIS_URL)."""
    config = base_config(tmp_path)
    config.pop("REDIS_URL")
    return create_app({**config, "database": db})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


TWILIO_ACCOUNT_SID = "ACtest00000000000000000000000000000"


@pytest.fixture
def fake_twilio() -> Iterator[Any]:
    """A started local fake of Twilio's REST + media API (simulator/fake_twilio.py).

    Point the app at it with ``TWILIO_API_BASE_URL=fake_twilio.base_url``.
    """
    from simulator.fake_twilio import running

    yield from running(TWILIO_ACCOUNT_SID, AUTH_TOKEN)
