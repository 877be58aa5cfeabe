"""The inbox over 100,000 reports renders in a bounded number of SQL statements."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, text

from storage.db import Database
from tests.staff.helpers import People

# One statement makes the rows inside PostgreSQL: about a second for 100,000.
BULK_INSERT = text(
    "INSERT INTO reports"
    " (status, recording_state, category, caseworker_id, police_consent, created_at)"
    " SELECT (ARRAY['new','assigned','in_review','closed'])[1 + g % 4], 'stored',"
    " (ARRAY['physical-assault','sexual-assault','robbery','threats','stalking','nuisance','other'])"
    "[1 + g % 7],"
    " CASE WHEN g % 3 = 0 THEN :cw END, g % 2 = 0,"
    " TIMESTAMP '2026-01-01' + g * INTERVAL '1 minute'"
    " FROM generate_series(1, :n) AS g"
)


def _bulk_reports(db: Database, count: int, caseworker: int) -> None:
    """Rows made by PostgreSQL itself (generate_series)."""
    with db.session() as s:
        s.execute(BULK_INSERT, {"n": count, "cw": caseworker})


@contextmanager
def _counting(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn, _cursor, statement, _params, _context, _many) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_inbox_with_100000_reports_uses_a_bounded_number_of_queries(
    db: Database, people: People, admin, alice
) -> None:
    _bulk_reports(db, 100_000, people.alice)
    with _counting(db) as statements:
        first = admin.get("/staff/reports")
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert "100000 reports" in html
    assert len(re.findall(r'href="/staff/reports/\d+"', html)) == 50
    first_count = len(statements)
    assert first_count <= 8, statements

    after = re.search(r"after=(\d+)", html)
    assert after is not None
    with _counting(db) as statements:
        deep = admin.get(f"/staff/reports?after={after.group(1)}&status=closed&category=robbery")
    assert deep.status_code == 200
    assert len(statements) <= first_count + 1, statements

    with _counting(db) as statements:
        mine = alice.get("/staff/reports?caseworker=none")
    assert mine.status_code == 200
    assert len(statements) <= first_count, statements
