"""Engine and session setup. Repositories receive a Session; the request or
the job that opened it owns the transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from storage.statements import ConnectionStatements, DriverPool, DriverStatements, Statements

# A pooled connection is pinged before use only after sitting idle this long.
# A busy web process reuses its connections within milliseconds, and pinging
# at every checkout (``pool_pre_ping``) cost a round trip per webhook
# (BENCHMARKS.md, "Profile"). A server restart takes longer than this, and the
# first statement to meet a dead connection invalidates the whole pool, so a
# connection that died unnoticed is still replaced before any statement runs.
IDLE_PING_SECONDS = 1.0

# Connections of the driver pool (storage.statements) per process: one per
# gunicorn thread (the Procfile's default is 4) and one to spare.
DRIVER_POOL_SIZE = 5

# Execution option of a SQLite connection whose statements each commit on
# their own (see Database.standalone_connection): no BEGIN is issued for it.
STANDALONE = "standalone_statements"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with short timeouts: a stuck database must not hang a webhook.

    Statement parameters are hidden from its exceptions and logs: they are
    members' names, encrypted phones, blind indexes and PIN hashes, and a
    database error's message ends up in a log (issue 12).
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 5}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite's own transaction handling breaks SAVEPOINT; let
            # SQLAlchemy issue BEGIN itself (the documented recipe).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if not conn.get_execution_options().get(STANDALONE):
                conn.exec_driver_sql("BEGIN")

        return engine
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql"):
        # Fail fast when PostgreSQL is down; cap any one statement.
        connect_args = {"connect_timeout": 2, "options": "-c statement_timeout=5000"}
    engine = create_engine(url, pool_timeout=2, connect_args=connect_args, **kwargs)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling, for connections that sat idle."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # The pool discards this connection and checks out another.
            raise DisconnectionError("pooled connection died while idle") from exc


@contextmanager
def _savepoint_on(connection: Connection) -> Iterator[Connection]:
    """``connection`` inside a savepoint, released at the end (rolled back if
    a statement failed): the tests' stand-in for a standalone connection."""
    savepoint = connection.begin_nested()
    try:
        yield connection
    finally:
        try:
            savepoint.commit()
        except Exception:
            savepoint.rollback()


@contextmanager
def _driver_connection_in_savepoint(connection: Connection) -> Iterator[Any]:
    """The psycopg connection under ``connection``, inside a savepoint: the
    production path's driver statements, in the tests' transaction."""
    with _savepoint_on(connection) as inside:
        yield inside.connection.driver_connection


class Database:
    """Holds the engine and the session factory for one app or worker, and
    the runner of the statements that stand alone (:attr:`statements`)."""

    def __init__(self, url: str, engine: Engine | None = None, statements: Statements | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        self.driver_pool: DriverPool | None = None  # PostgreSQL's, when this Database made its own
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.standalone_connection: Callable[[], AbstractContextManager[Connection]] = self._standalone
        self.statements: Statements = statements or self._own_statements()

    def _own_statements(self) -> Statements:
        """PostgreSQL: a bare driver pool of its own (:attr:`driver_pool`),
        closed with the engine's ``dispose``. SQLite: the standalone connection."""
        if self.engine.dialect.name != "postgresql":
            return ConnectionStatements(self._standalone, self.engine.dialect.name)
        pool = self.driver_pool = DriverPool.for_url(
            self.engine.url.render_as_string(hide_password=False), DRIVER_POOL_SIZE, IDLE_PING_SECONDS
        )
        event.listen(self.engine, "engine_disposed", lambda _engine: pool.close())
        return DriverStatements(pool.connection)

    def _standalone(self) -> Connection:
        """A connection on which every statement commits by itself.

        For views whose statements stand alone (the inbound call: one lookup,
        then one idempotent upsert), so nothing is to commit or roll back:
        PostgreSQL in autocommit, SQLite without the BEGIN of make_engine. It
        spares the BEGIN and COMMIT round trips, which under load cost more
        than the statements did (BENCHMARKS.md, "Profile").
        """
        connection = self.engine.connect()
        if self.engine.dialect.name == "sqlite":
            # Not SQLAlchemy's AUTOCOMMIT level: resetting it when the
            # connection returns to the pool would undo make_engine's setup.
            return connection.execution_options(**{STANDALONE: True})
        return connection.execution_options(isolation_level="AUTOCOMMIT")

    @classmethod
    def bound_to(cls, connection: Connection) -> Database:
        """Sessions that join ``connection``'s open transaction through savepoints.

        Tests use it: everything a test commits is rolled back with the outer
        transaction at its end.
        """
        statements: Statements = (
            DriverStatements(lambda: _driver_connection_in_savepoint(connection))
            if connection.dialect.name == "postgresql"
            else ConnectionStatements(lambda: _savepoint_on(connection), connection.dialect.name)
        )
        db = cls(str(connection.engine.url), engine=connection.engine, statements=statements)
        db.sessions = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        db.standalone_connection = lambda: _savepoint_on(connection)
        return db

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on any error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
