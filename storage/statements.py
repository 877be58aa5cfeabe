"""Statements that stand alone, run with as little around them as possible.

The hot webhooks (an inbound call, the member's whisper) each run one
statement that needs no transaction around it. Through SQLAlchemy's
connection, pool and result machinery that statement cost more of the web
process's CPU than everything else the webhook does (BENCHMARKS.md,
"Webhook against its floor"), so on PostgreSQL it runs on a bare psycopg
connection in autocommit, taken from a small pool of its own
(:class:`DriverPool`).

The statements themselves are still SQLAlchemy Core, written once in the
repositories and compiled once here into the driver's SQL
(:func:`driver_sql`); SQLite (the embedded default) and the tests'
rolled-back transactions run the same statements through a SQLAlchemy
connection (:class:`ConnectionStatements`), or, for the tests on
PostgreSQL, on the driver connection underneath it.

Rows come back as named tuples either way: ``row.outcome`` reads the same.
"""

from __future__ import annotations

import contextlib
import functools
import queue
import re
import threading
import time
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

import psycopg
from sqlalchemy import Connection, bindparam, make_url
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

# What a test or a benchmark sees of each statement the driver runs:
# the connection, the SQL and its parameters, and how long it took.
StatementObserver = Callable[[psycopg.Connection[Any], str, Mapping[str, Any], float], None]

IDLE = psycopg.pq.TransactionStatus.IDLE

# The same limits as the engine's (storage.db.make_engine): fail fast when
# PostgreSQL is down, and cap any one statement.
CONNECT_TIMEOUT_SECONDS = 2
STATEMENT_TIMEOUT_MS = 5000
# How long a request waits for a connection when every one is in use.
CHECKOUT_TIMEOUT_SECONDS = 2.0


# What running a statement raises when the database fails it: the driver's
# errors (DriverStatements) or SQLAlchemy's (ConnectionStatements).
DATABASE_ERRORS: tuple[type[Exception], ...] = (psycopg.Error, SQLAlchemyError)


class Statements(Protocol):
    """Runs one Core statement on its own and returns its rows."""

    dialect: str  # "postgresql" or "sqlite": a repository may word a statement per dialect

    def execute(self, statement: ClauseElement, params: Mapping[str, Any]) -> None: ...

    def first(self, statement: ClauseElement, params: Mapping[str, Any]) -> Any | None: ...

    def all(self, statement: ClauseElement, params: Mapping[str, Any]) -> list[Any]: ...


class DriverSQL:
    """A Core statement as psycopg runs it: the SQL text with ``%(name)s``
    placeholders for the values each call gives, and the values the
    statement fixed itself (its literals: statuses, kinds) written into the
    text, so they are neither sent nor converted on every call."""

    __slots__ = ("fixed", "processors", "row", "sql")

    def __init__(self, statement: ClauseElement) -> None:
        compiled = statement.compile(dialect=_DIALECT)
        assert isinstance(compiled, SQLCompiler)
        sql = str(compiled)
        # Rows as named tuples of the statement's own columns, the class made
        # once (psycopg's namedtuple_row works the names out on every call).
        names = [column[1] for column in compiled._result_columns]
        self.row: Callable[[Any], Any] = tuple
        if names:
            self.row = namedtuple("Row", names, rename=True)._make  # type: ignore[attr-defined]
        self.fixed: dict[str, Any] = {}
        for name, value in compiled.params.items():
            if value is None:
                continue  # given by each call
            literal = _literal_sql(value, compiled.binds[name].type)
            if literal is None:
                self.fixed[name] = value  # sent as a parameter after all
            else:
                sql = sql.replace(f"%({name})s", literal)
        self.sql = sql
        # The types' own conversions of a given value (a JSON column's
        # ``json.dumps``), as SQLAlchemy would apply them.
        self.processors: dict[str, Callable[[Any], Any]] = {
            name: process for name, process in compiled._bind_processors.items() if callable(process)
        }

    def parameters(self, given: Mapping[str, Any]) -> Mapping[str, Any]:
        if not self.fixed and not self.processors:
            return given
        values = {**self.fixed, **given}
        for name, process in self.processors.items():
            if name in values:
                values[name] = process(values[name])
        return values


def _literal_sql(value: Any, type_: Any) -> str | None:
    """``value`` as a SQL literal of ``type_``, or None when it is not plain
    enough to write into the text (only the statements' own constants are
    ever written: never a value a request gave)."""
    if not isinstance(value, str | int | bool) or (isinstance(value, str) and not _PLAIN.fullmatch(value)):
        return None
    return str(
        bindparam(None, value, type_=type_).compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True})
    )


_PLAIN = re.compile(r"[A-Za-z0-9_\- ]*")  # no quote, no percent sign, no backslash


_DIALECT = PGDialect_psycopg()


@functools.cache
def driver_sql(statement: ClauseElement) -> DriverSQL:
    """Compiled once per statement: the repositories build each hot statement
    once (``functools.cache``), so this cache holds a handful of entries."""
    return DriverSQL(statement)


class DriverPool:
    """Autocommit psycopg connections, opened on first need, at most ``size``.

    LIFO, so a quiet process keeps reusing its warmest connection. A
    connection idle longer than ``idle_ping_seconds`` is pinged before use
    (as the engine's are, storage.db); one that fails, or is left in any
    state but idle, is closed and forgotten, never handed out again.

    Made per process: gunicorn builds the app in each worker after forking,
    so no connection is ever shared across a fork.
    """

    def __init__(self, conninfo: str, size: int, idle_ping_seconds: float) -> None:
        self._conninfo = conninfo
        self._size = size
        self.idle_ping_seconds = idle_ping_seconds
        self._free: queue.LifoQueue[tuple[psycopg.Connection[Any], float]] = queue.LifoQueue()
        self._opened = 0
        self._lock = threading.Lock()

    @classmethod
    def for_url(cls, url: str, size: int, idle_ping_seconds: float) -> DriverPool:
        """From a SQLAlchemy URL (``postgresql+psycopg://…``)."""
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        return cls(conninfo, size, idle_ping_seconds)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        conn = self._take()
        try:
            yield conn
        finally:
            self._give_back(conn)

    def close(self) -> None:
        """Close every idle connection (with the engine's ``dispose``)."""
        while True:
            try:
                conn, _ = self._free.get_nowait()
            except queue.Empty:
                return
            self._discard(conn)

    def _take(self) -> psycopg.Connection[Any]:
        while True:
            try:
                conn, idle_since = self._free.get_nowait()
            except queue.Empty:
                return self._open_or_wait()
            if time.monotonic() - idle_since < self.idle_ping_seconds or self._alive(conn):
                return conn
            self._discard(conn)

    def _open_or_wait(self) -> psycopg.Connection[Any]:
        with self._lock:
            may_open = self._opened < self._size
            self._opened += may_open
        if not may_open:
            try:
                conn, _ = self._free.get(timeout=CHECKOUT_TIMEOUT_SECONDS)
            except queue.Empty:
                raise psycopg.OperationalError("no database connection free") from None
            return conn
        try:
            return psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            )
        except BaseException:
            with self._lock:
                self._opened -= 1  # the slot is free again
            raise

    def _give_back(self, conn: psycopg.Connection[Any]) -> None:
        # In autocommit a failed statement leaves the connection idle and
        # usable; a lost one is closed or broken, and anything else (a
        # transaction somebody opened) is not to be trusted to the next user.
        usable = not conn.closed and conn.pgconn.transaction_status == IDLE
        if usable:
            self._free.put((conn, time.monotonic()))
        else:
            self._discard(conn)

    def _discard(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            self._opened -= 1
        with contextlib.suppress(psycopg.Error):  # already gone: nothing to release
            conn.close()

    @staticmethod
    def _alive(conn: psycopg.Connection[Any]) -> bool:
        try:
            conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True


class DriverStatements:
    """Statements on a psycopg connection from ``connection`` (the pool's,
    or in tests the driver connection under their transaction)."""

    dialect = "postgresql"

    def __init__(self, connection: Callable[[], AbstractContextManager[psycopg.Connection[Any]]]) -> None:
        self._connection = connection
        self.observers: list[StatementObserver] = []

    def execute(self, statement: ClauseElement, params: Mapping[str, Any]) -> None:
        self._run(statement, params, rows=None)

    def first(self, statement: ClauseElement, params: Mapping[str, Any]) -> Any | None:
        rows = self._run(statement, params, rows=1)
        return rows[0] if rows else None

    def all(self, statement: ClauseElement, params: Mapping[str, Any]) -> list[Any]:
        return self._run(statement, params, rows=-1)

    def _run(self, statement: ClauseElement, params: Mapping[str, Any], *, rows: int | None) -> list[Any]:
        """Run it and read ``rows`` rows (all for -1, none for None)."""
        compiled = driver_sql(statement)
        values = compiled.parameters(params)
        found: list[Any] = []
        with self._connection() as conn:
            started = time.perf_counter()
            cursor = conn.execute(compiled.sql, values)
            if rows == -1:
                found = [compiled.row(row) for row in cursor.fetchall()]
            elif rows == 1:
                row = cursor.fetchone()
                found = [compiled.row(row)] if row is not None else []
            for observe in self.observers:
                observe(conn, compiled.sql, values, time.perf_counter() - started)
        return found


class ConnectionStatements:
    """Statements through a SQLAlchemy connection from ``connection``: SQLite's
    standalone connection, or the tests' savepoint."""

    def __init__(self, connection: Callable[[], AbstractContextManager[Connection]], dialect: str) -> None:
        self._connection = connection
        self.dialect = dialect

    def execute(self, statement: ClauseElement, params: Mapping[str, Any]) -> None:
        with self._connection() as conn:
            conn.execute(statement, params)  # type: ignore[call-overload]

    def first(self, statement: ClauseElement, params: Mapping[str, Any]) -> Any | None:
        with self._connection() as conn:
            return conn.execute(statement, params).first()  # type: ignore[call-overload]

    def all(self, statement: ClauseElement, params: Mapping[str, Any]) -> list[Any]:
        with self._connection() as conn:
            return list(conn.execute(statement, params).all())  # type: ignore[call-overload]
