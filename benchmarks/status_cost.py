"""What durable events cost the status callback (issue 19, item 5).

``POST /voice/status`` of the current code (signature check, one
autocommitted ``INSERT … ON CONFLICT (key) DO NOTHING RETURNING id`` into
``events``, the RQ doorbell with the id) against the same webhook as of
the commit before durable events (signature check, the RQ enqueue of the
whole job), in one run: both servers on the same database and Redis,
rounds interleaved (benchmarks/paired.py). The issue's bound: one more
indexed insert, no more.
"""

from __future__ import annotations

import subprocess
from typing import Any

from benchmarks import checkout, paired, webhook
from benchmarks.config import LOAD_CONNECTIONS, REDIS_URL, ROOT, app_environ

# The first commit of durable events (issue 19): "before" is its parent.
DURABLE_EVENTS = "4f1c93f"
PER_RUN = 2500 * paired.SECONDS  # more than a run can send: no callback is a replay


def before_durable_events() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", f"{DURABLE_EVENTS}^"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def run(before: str | None = None) -> dict[str, Any]:
    rev = before or before_durable_events()
    url, seeded = webhook.prepare(small=False)
    env = app_environ(url)

    def callbacks(count: int, seed: int) -> list[Any]:
        return webhook.status_callbacks(seeded, count, seed)

    with checkout.worktree(rev) as tree:
        old_env = checkout.environ(tree, env)
        checkout.check_imports_from(tree, old_env)
        after = paired.Contender("status-after", webhook.APP, env)
        old = paired.Contender("status-before", webhook.APP, old_env, cwd=tree)
        webhook.flush_redis()
        paired.compare([after, old], callbacks, PER_RUN)
        webhook.flush_redis(REDIS_URL)
    now, then = after.summary(), old.summary()
    sent = sum(run["requests"] for run in now["runs"]) + paired.WARM_UP
    return {
        "statements_per_callback": statements_per_callback(url, seeded),
        # Every callback the current code answered wrote its row (a slow
        # answer wrk gave up on may still have written one: at least).
        "events_rows": _events_rows(url),
        "after_requests": sent,
        "before_commit": rev,
        "rounds": paired.ROUNDS,
        "seconds": paired.SECONDS,
        "connections": LOAD_CONNECTIONS,
        "after": now,
        "before": then,
        "after_over_before": paired.ratio(now, then),
        "insert_us": {
            group: now["cpu_us_per_request"][group] - then["cpu_us_per_request"][group]
            for group in now["cpu_us_per_request"]
        },
    }


def statements_per_callback(url: str, seeded: Any, count: int = 50) -> dict[str, float]:
    """The SQL statements one status callback of the current code sends, by
    their first words (counted in-process over ``count`` callbacks, through
    SQLAlchemy's engine and the bare driver both)."""
    from collections import Counter

    from sqlalchemy import event

    from benchmarks.config import in_process_app
    from ivr.services import services_of

    app = in_process_app(url)
    engine = services_of(app).db.engine
    seen: Counter[str] = Counter()

    def count_statement(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen[" ".join(statement.split()[:3])] += 1

    client = app.test_client()
    callbacks = webhook.status_callbacks(seeded, count, 29)
    event.listen(engine, "before_cursor_execute", count_statement)
    # Statements that stand alone go through the bare driver (storage.statements).
    driver = services_of(app).db.statements.observers  # type: ignore[attr-defined]
    driver.append(lambda _conn, statement, _params, _seconds: count_statement(None, None, statement))
    try:
        for r in callbacks:
            headers = {"X-Twilio-Signature": r.signature, "Content-Type": "application/x-www-form-urlencoded"}
            assert client.post(r.path, data=r.body, headers=headers).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count_statement)
        engine.dispose()
    return {statement: n / count for statement, n in seen.items()}


def _events_rows(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        rows = int(connection.execute(text("SELECT count(*) FROM events")).scalar_one())
    engine.dispose()
    return rows
