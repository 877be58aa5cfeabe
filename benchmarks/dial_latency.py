"""Item 4 of issue 20: how long a lone caller waits from the first webhook
to the ``<Dial>`` that rings the member, and how much of that is the
database.

The wait itself is the webhook section's unloaded run (one connection, over
HTTP through gunicorn). Its database share is measured here, in-process,
with SQLAlchemy's cursor hooks around every statement of the app's engine
and the bare driver's own timing of the statements it runs (the statement
sent, PostgreSQL's work, the answer read): the same
``POST /voice/incoming`` served one at a time through Flask's test client,
each request timed whole and its statements' time summed.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from sqlalchemy import event

from benchmarks import seed, signed
from benchmarks.config import in_process_app
from ivr import services_of

CALLS = 400
WARM_UP = 50


def measure(url: str, seeded: seed.Seeded, calls: int = CALLS) -> dict[str, Any]:
    app = in_process_app(url)
    engine = services_of(app).db.engine
    in_statements = [0.0]

    @event.listens_for(engine, "before_cursor_execute")
    def _started(conn: Any, _cursor: Any, _sql: Any, _params: Any, _context: Any, _many: Any) -> None:
        conn.info["statement_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _ended(conn: Any, _cursor: Any, _sql: Any, _params: Any, _context: Any, _many: Any) -> None:
        in_statements[0] += time.perf_counter() - conn.info.pop("statement_started")

    # The inbound call's statement runs on the bare driver (storage.statements),
    # which reports each statement's time from sending it to its rows read.
    def _driver(_conn: Any, _sql: str, _params: Any, seconds: float) -> None:
        in_statements[0] += seconds

    services_of(app).db.statements.observers.append(_driver)  # type: ignore[attr-defined]
    client = app.test_client()
    requests = signed.incoming_calls(seeded.lines, seeded.callers, calls + WARM_UP, seed=31)
    walls, databases, dials = [], [], 0
    for i, r in enumerate(requests):
        in_statements[0] = 0.0
        started = time.perf_counter()
        response = client.post(
            r.path,
            data=r.body,
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": r.signature},
        )
        wall = time.perf_counter() - started
        if i < WARM_UP:
            continue
        dials += b"<Dial" in response.data
        walls.append(1000 * wall)
        databases.append(1000 * in_statements[0])
    engine.dispose()
    return {
        "calls": calls,
        "dials": dials,
        "wall_ms_p50": statistics.median(walls),
        "database_ms_p50": statistics.median(databases),
        "database_share_p50": statistics.median(d / w for d, w in zip(databases, walls, strict=True)),
    }
