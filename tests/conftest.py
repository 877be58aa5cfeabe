"""Fixtures: real PostgreSQL and Redis, migrations once per run, each test
inside a transaction that is rolled back, Redis database flushed; and the
world tests are given instead of importing it: the suite's secrets
(``suite``), app configurations (``app_config``, ``make_app``), the number
vault, a signed Twilio client (``twilio``) and enrolled members (``member``,
``enrol``).

``TEST_DATABASE_URL`` and ``TEST_REDIS_URL`` override where they live.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from redis import Redis
from sqlalchemy import Engine, create_engine

from ivr import create_app
from storage.crypto import BlindIndex, FieldCipher
from storage.db import Database
from storage.migrate import upgrade
from storage.vault import NumberVault
from tests.support import people
from tests.support.databases import scratch_database
from tests.support.menu import MemberMenu
from tests.support.suite import PG_URL, SuiteConfig
from tests.support.twilio import TwilioClient

# The whole run logs at DEBUG to a file that tests/test_log_scan.py scans,
# with Redis and mail logs, for members' numbers and names (issue 7).
pytest_plugins = ["tests.leak_scan"]


@pytest.fixture(scope="session")
def suite() -> SuiteConfig:
    """The fixed secrets and public URL every test app is built with."""
    return SuiteConfig()


@pytest.fixture
def app_config(suite: SuiteConfig, tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """``app_config(**overrides)``: a test app's configuration, folders in ``tmp_path``."""
    return functools.partial(suite.app_config, tmp_path)


@pytest.fixture
def make_app(app_config: Callable[..., dict[str, Any]], db: Database) -> Callable[..., Flask]:
    """``make_app(**overrides)``: an app on the rolled-back test database
    (``database=`` another), configured like ``app`` but for ``overrides``."""

    def make(**overrides: Any) -> Flask:
        return create_app(app_config(**{"database": db, **overrides}))

    return make


@pytest.fixture(autouse=True, scope="session")
def twiml_rendered_as_twilio_does() -> Iterator[None]:
    """Every TwiML document the suite serves is checked, as it is served,
    against twilio's own serialisation (tests/test_twiml_text.py) and against
    what real Twilio accepts and does with it (tests/twiml_rules.py)."""
    from flask import has_request_context, request

    from ivr import twiml_text
    from tests import twiml_rules

    fast, fill = twiml_text.render, twiml_text.Stencil.fill

    def check_served(text: str) -> None:
        if has_request_context():  # served, not just rendered by a unit test
            where = twiml_rules.where_served(request.path, request.form.get("CallStatus"))
            # Collected, not raised: a voice view's never_fails would turn the
            # AssertionError into the apology and hide it.
            twiml_rules.SERVED_VIOLATIONS.extend(
                f"{request.path}: {v}\n{text}" for v in twiml_rules.violations(text, where)
            )

    def checked(document: Any) -> str:
        text = fast(document)
        expected = str(document).encode("utf-8")
        assert text.encode("utf-8", "xmlcharrefreplace") == expected, (text, expected)
        check_served(text)
        return text

    def checked_fill(stencil: twiml_text.Stencil, **values: str) -> str | None:
        # A stencil's bytes are held to the document's by tests/test_twiml_text.py;
        # what it serves is held to Twilio's rules here, as a rendered document is.
        text = fill(stencil, **values)
        if text is not None:
            check_served(text)
        return text

    twiml_text.render = checked
    twiml_text.Stencil.fill = checked_fill  # type: ignore[method-assign,assignment]
    yield
    twiml_text.render = fast
    twiml_text.Stencil.fill = fill  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def served_twiml_follows_twilio() -> Iterator[None]:
    """Fails the test that served a TwiML document breaking tests/twiml_rules.py."""
    from tests.twiml_rules import SERVED_VIOLATIONS

    SERVED_VIOLATIONS.clear()
    yield
    found, SERVED_VIOLATIONS[:] = list(SERVED_VIOLATIONS), []
    assert not found, "served TwiML that real Twilio would treat otherwise:\n" + "\n".join(found)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh database of this run's own on the test PostgreSQL server."""
    with scratch_database(PG_URL, f"sn_test_{os.getpid()}") as url:
        yield url


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


@pytest.fixture
def empty_events(db: Database) -> None:
    """No work events but this test's own. Tests that commit for real (live
    servers, subprocess workers) leave theirs in the process's database;
    they are deleted inside this test's transaction, so for this test only."""
    from sqlalchemy import delete

    from storage.models import Event

    with db.session() as session:
        session.execute(delete(Event))


@pytest.fixture(params=["postgresql", "sqlite"])
def any_db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """The same test on PostgreSQL and on SQLite."""
    engine = request.getfixturevalue("pg_engine" if request.param == "postgresql" else "sqlite_engine")
    yield from _transactional(engine)


@pytest.fixture
def redis() -> Iterator[Redis]:
    client = Redis.from_url(SuiteConfig.redis_url)
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
def app(make_app: Callable[..., Flask], redis: Redis) -> Flask:
    return make_app()


@pytest.fixture
def inline_app(make_app: Callable[..., Flask]) -> Flask:
    """The app with the embedded in-process queue (no REDIS_URL)."""
    return make_app(REDIS_URL=None)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def twilio(client: FlaskClient, suite: SuiteConfig) -> TwilioClient:
    """The app's test client posting as Twilio does: signed, returning TwiML."""
    return TwilioClient(client, suite)


@pytest.fixture
def vault(suite: SuiteConfig) -> NumberVault:
    """The number vault of the test apps (the same keys)."""
    return NumberVault(FieldCipher([suite.data_key]), BlindIndex(suite.index_key))


@pytest.fixture
def enrol(db: Database, vault: NumberVault) -> people.Enrol:
    """``enrol(phone=, line=, pin=, name=, **preferences)``: one more member,
    enrolled as the app enrols them, on the test database."""
    return functools.partial(people.enrol, db, vault)


@pytest.fixture
def member(enrol: people.Enrol) -> people.EnrolledMember:
    """The member most tests need: +442079460123 on Safety Number
    +442079460001, PIN 4821, default preferences."""
    return enrol()


@pytest.fixture
def menu(twilio: TwilioClient, db: Database, vault: NumberVault) -> MemberMenu:
    """The standard member's calls to their own line, through the menu."""
    return MemberMenu(twilio, db, vault)


@pytest.fixture
def fake_twilio(suite: SuiteConfig) -> Iterator[Any]:
    """A started local fake of Twilio's REST + media API (simulator/fake_twilio.py).

    Point the app at it with ``TWILIO_API_BASE_URL=fake_twilio.base_url``.
    """
    from simulator.fake_twilio import running

    yield from running(suite.account_sid, suite.auth_token)


@pytest.fixture
def staff_call_world(
    make_app: Callable[..., Flask],
    fake_twilio: Any,
    db: Database,
    vault: NumberVault,
    enrol: people.Enrol,
    redis: Redis,
) -> Any:
    """A masked call from the console ready to be placed (tests/support/staff_calls.py):
    jobs through Redis (each one scanned for numbers by the ``redis`` fixture),
    call records deleted at the fake Twilio at once."""
    from tests.support.staff_calls import build_world

    app = make_app(TWILIO_API_BASE_URL=fake_twilio.base_url, PROVIDER_RECORD_DELAY_SECONDS="0")
    return build_world(app, fake_twilio, db, vault, enrol)
