"""One database session per request, opened lazily, closed at teardown.

Views commit what they mean to keep; anything uncommitted is rolled back.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session


def session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["safety"].db.sessions()
    s: Session = g.db_session
    return s


def statement_session() -> Session:
    """A session whose every statement commits on its own (autocommit on
    PostgreSQL; see ``Database.statement_sessions``). Only for views that
    need no two statements to succeed or fail together."""
    if "db_statement_session" not in g:
        g.db_statement_session = current_app.extensions["safety"].db.statement_sessions()
    s: Session = g.db_statement_session
    return s


def _close(_exc: BaseException | None) -> None:
    for key in ("db_session", "db_statement_session"):
        s: Session | None = g.pop(key, None)
        if s is not None:
            s.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
