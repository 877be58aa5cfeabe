"""Risk signals at scale (issue 15): the periodic count (job
``compute_signals``) over 1,000,000 members and 10,000,000 calls, and
``/staff/signals`` listing 10,000 signals, keyset-paged.

A database of its own (``sn_bench_signals``, dropped at the end). The filler
calls are spread over a year (``seed.filler_calls_within``); on top of them
10,000 callers each phone three members within the last week and two of
those members decline: 10,000 signals, both rules firing. The count runs
in process, as the worker runs it, its one alert event written and rung on
the bench Redis (then flushed; no worker sends it): first when all 10,000
are new, then again when nothing has changed (the steady state every
fifteen minutes). How many alert events the two counts wrote is reported.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from sqlalchemy import create_engine, text

from benchmarks import seed
from benchmarks.config import PG_SERVER, in_process_app
from benchmarks.webhook import flush_redis

MEMBERS = int(os.environ.get("BENCH_SIGNALS_MEMBERS", "1000000"))
CALLS = int(os.environ.get("BENCH_SIGNALS_CALLS", "10000000"))
CALLS_BUDGET = float(os.environ.get("BENCH_SIGNALS_CALLS_BUDGET", "1200"))
SIGNALS = int(os.environ.get("BENCH_SIGNALS", "10000"))
DATABASE = "sn_bench_signals"
ROUNDS = 5
# Pages of the list walked in each round (50 signals a page).
PAGES_WALKED = 20
OLDER = re.compile(r'href="(/staff/signals\?[^"]*after=[^"]*)"')
PASSWORD = "bench-password-123"  # noqa: S105 - bench only

_SIGNAL_CALLS = (
    "INSERT INTO calls (call_sid, direction, member_id, other_party_index, other_party_last3, withheld,"
    " status, last_sequence, bridged, blocked, declined, warned, created_at)"
    " SELECT 'CS' || md5('s' || g), 'inbound', 1 + ((g / 3) * 7 + g % 3) % :m,"
    " md5('risk' || (g / 3)) || md5('y' || (g / 3)), lpad(((g / 3) % 1000)::text, 3, '0'), false,"
    " 'completed', 3, g % 3 = 2, false, g % 3 < 2, false,"
    " now() - ((g / 3) % 144) * interval '1 hour' - (g % 3) * interval '1 minute'"
    " FROM generate_series(0, CAST(:n AS bigint) * 3 - 1) AS g"
)


def run() -> dict[str, Any]:
    url = seed.recreate_database(PG_SERVER, DATABASE)
    engine = create_engine(url)
    try:
        seeding: dict[str, Any] = {"members_seconds": round(seed.filler_members(engine, MEMBERS), 1)}
        seeding["calls"] = seed.filler_calls_within(engine, CALLS, CALLS_BUDGET)
        with engine.begin() as conn:
            conn.execute(text(_SIGNAL_CALLS), {"n": SIGNALS, "m": MEMBERS})
        seed.settle(url)
        counts = seed.table_counts(engine)
        result = {"counts": counts, "seeding": seeding, **_count(url), **_pages(url)}
    finally:
        engine.dispose()
        flush_redis()
        seed.drop_database(PG_SERVER, DATABASE)
    return result


def _count(url: str) -> dict[str, Any]:
    from core.services import bound
    from ivr import services_of
    from worker.signals import compute_signals

    app = in_process_app(url)
    services = services_of(app)
    runs = []
    with bound(services):
        for _ in range(2):
            started = time.perf_counter()
            outcome = compute_signals()
            runs.append(
                {
                    "seconds": round(time.perf_counter() - started, 2),
                    "raised": len(outcome.raised),
                    "updated": outcome.updated,
                    "dropped": outcome.dropped,
                }
            )
        flush_redis()
    rules = services.settings.signal_rules
    with services.db.engine.connect() as conn:
        in_window = conn.execute(
            text("SELECT count(*) FROM calls WHERE created_at >= now() - make_interval(days => :d)"),
            {"d": max(rules.reached.days, rules.blocked.days)},
        ).scalar_one()
        signals = conn.execute(text("SELECT count(*) FROM risk_signals")).scalar_one()
        alert_events = conn.execute(
            text("SELECT count(*) FROM events WHERE job = 'send_signal_alerts'")
        ).scalar_one()
    services.db.engine.dispose()
    return {
        "first_count": runs[0],
        "steady_count": runs[1],
        "calls_in_windows": in_window,
        "signals": signals,
        "alert_events": alert_events,
    }


def _pages(url: str) -> dict[str, Any]:
    """The first ``PAGES_WALKED`` pages of the new signals, walked by their
    "Older" links, ``ROUNDS`` times, signed in as a caseworker."""
    from ivr import services_of
    from ivr.staff.signed_in import open_session
    from storage import repositories as repo

    app = in_process_app(url)
    services = services_of(app)
    with services.db.session() as session:
        staff = repo.add_staff(
            session, email="caseworker@bench.invalid", password=PASSWORD, role="caseworker"
        )
        client = app.test_client()
        with app.app_context(), client.session_transaction() as sess:
            open_session(sess, staff, time.time())
    timings: list[float] = []
    statuses: set[int] = set()
    for _ in range(ROUNDS):
        page: str | None = "/staff/signals"
        for _ in range(PAGES_WALKED):
            if page is None:
                break
            started = time.perf_counter()
            response = client.get(page)
            timings.append(1000 * (time.perf_counter() - started))
            statuses.add(response.status_code)
            older = OLDER.search(response.get_data(as_text=True))
            page = older.group(1).replace("&amp;", "&") if older else None
    timings.sort()
    services.db.engine.dispose()
    return {
        "page_requests": len(timings),
        "page_statuses": sorted(statuses),
        "page_p50_ms": round(timings[len(timings) // 2], 1),
        "page_p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 1),
        "page_max_ms": round(timings[-1], 1),
    }
