"""One database session per request, opened lazily, closed at teardown.

Views commit what they mean to keep; anything uncommitted is rolled back.
"""

from __future__ import annotations

from contextlib import ExitStack

from flask import Flask, g
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from ivr.services import current_services


def session() -> Session:
    if "db_session" not in g:
        g.db_session = current_services().db.sessions()
    s: Session = g.db_session
    return s


def standalone_connection() -> Connection:
    """A connection whose every statement commits on its own (see
    ``Database.standalone_connection``). Only for views that need no two
    statements to succeed or fail together."""
    if "db_standalone" not in g:
        stack = ExitStack()
        g.db_standalone = stack.enter_context(current_services().db.standalone_connection())
        g.db_standalone_exit = stack
    connection: Connection = g.db_standalone
    return connection


def _close(_exc: BaseException | None) -> None:
    s: Session | None = g.pop("db_session", None)
    if s is not None:
        s.close()
    stack: ExitStack | None = g.pop("db_standalone_exit", None)
    if stack is not None:
        g.pop("db_standalone", None)
        stack.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
