"""One database session per request, opened lazily, closed at teardown.

Views commit what they mean to keep; anything uncommitted is rolled back.
Statements that stand alone run through ``Database.statements`` instead
(storage/statements.py), with no session at all.
"""

from __future__ import annotations

from flask import Flask, g
from sqlalchemy.orm import Session

from ivr.services import current_services


def session() -> Session:
    if "db_session" not in g:
        g.db_session = current_services().db.sessions()
    s: Session = g.db_session
    return s


def _close(_exc: BaseException | None) -> None:
    s: Session | None = g.pop("db_session", None)
    if s is not None:
        s.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
