"""Databases of a test run's own on the shared test PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url, text

from storage.db import Database, make_engine


@contextmanager
def scratch_database(server_url: str, name: str) -> Iterator[str]:
    """A fresh, empty database ``name`` beside ``server_url``'s; its URL.

    Several runs (developers, CI, benchmarks) may share one server, so each
    names its own; it is dropped (even with connections left open) at the end.
    """
    server = make_url(server_url)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def committing_database(url: str, pool_size: int = 5) -> Database:
    """A Database whose commits are real (for concurrency and subprocess tests)."""
    return Database(url, engine=make_engine(url, pool_size=pool_size, max_overflow=0))
