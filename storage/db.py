"""Engine and session setup. Repositories receive a Session; the request or
the job that opened it owns the transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with short timeouts: a stuck database must not hang a webhook."""
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
            conn.exec_driver_sql("BEGIN")

        return engine
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql"):
        # Fail fast when PostgreSQL is down; cap any one statement.
        connect_args = {"connect_timeout": 2, "options": "-c statement_timeout=5000"}
    return create_engine(url, pool_pre_ping=True, pool_timeout=2, connect_args=connect_args, **kwargs)


class Database:
    """Holds the engine and the session factory for one app or worker."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def bound_to(cls, connection: Connection) -> Database:
        """Sessions that join ``connection``'s open transaction through savepoints.

        Tests use it: everything a test commits is rolled back with the outer
        transaction at its end.
        """
        db = cls(str(connection.engine.url), engine=connection.engine)
        db.sessions = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
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
