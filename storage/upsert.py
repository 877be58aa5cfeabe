"""Dialect-specific ``INSERT … ON CONFLICT`` with bound parameters.

Idempotent jobs and webhooks rely on unique constraints plus ON CONFLICT;
PostgreSQL and SQLite spell it the same way through their own ``insert``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, bindparam

from callflows.errors import ConfigurationError


def conflict_insert(dialect: str, table: Table, columns: Iterable[str]) -> Any:
    """An ``INSERT`` of ``columns`` as bound parameters that supports ON CONFLICT."""
    return dialect_insert(dialect, table).values({name: bindparam(name) for name in columns})


def dialect_insert(dialect: str, table: Table) -> Any:
    """The dialect's own ``insert(table)``, which has ``on_conflict_*``."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    else:
        raise ConfigurationError(f"unsupported database {dialect!r}: use PostgreSQL or SQLite")
    return insert(table)
