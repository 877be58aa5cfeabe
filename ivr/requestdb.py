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


def _close(_exc: BaseException | None) -> None:
    s: Session | None = g.pop("db_session", None)
    if s is not None:
        s.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
