"""Two statements many repositories write the same way: a read that locks its
rows, and an UPDATE that says how many rows it changed. Nothing here commits.
"""

from __future__ import annotations

from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, update
from sqlalchemy.orm import Session

from storage.models import Base

Ts = TypeVarTuple("Ts")


def for_update(query: Select[*Ts], *, skip_locked: bool = False) -> Select[*Ts]:
    """``query`` locking the rows it reads (``FOR UPDATE``), and re-reading them
    under the lock: an object the session already holds may be stale."""
    return query.with_for_update(skip_locked=skip_locked).execution_options(populate_existing=True)


def update_rows(session: Session, model: type[Base], *where: ColumnElement[bool], **values: Any) -> int:
    """``UPDATE model SET values WHERE where``; how many rows it changed.

    Objects the session already holds are left as they are
    (``synchronize_session=False``): callers re-read what they go on to use."""
    result = session.execute(
        update(model).where(*where).values(**values).execution_options(synchronize_session=False)
    )
    return rowcount(result)


def rowcount(result: object) -> int:
    """The rows a DELETE or UPDATE result changed (0 where the driver does not say)."""
    return int(getattr(result, "rowcount", 0) or 0)
