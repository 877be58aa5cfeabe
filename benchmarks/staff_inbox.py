"""Staff inbox with 100,000 reports: page render time, in-process through
Flask's test client (no HTTP server), signed in as an admin (sees all) and
as a caseworker (unassigned + their own)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, text

from benchmarks import seed
from benchmarks.config import in_process_app
from ivr import services_of

PAGES = ("/staff/reports", "/staff/reports?status=new", "/staff/reports?category=threats")
ROUNDS = 40


def measure(url: str, engine: Engine, reports: int) -> dict[str, Any]:
    from storage.hashing import hash_secret

    seconds = seed.filler_reports(engine, reports)
    with engine.begin() as conn:
        pw = hash_secret("bench-password-123")
        ids = {}
        for role in ("admin", "caseworker"):
            ids[role] = conn.execute(
                text(
                    "INSERT INTO staff (email, password_hash, role, active, failed_logins, created_at)"
                    " VALUES (:e, :p, :r, true, 0, now()) RETURNING id"
                ),
                {"e": f"{role}@bench.invalid", "p": pw, "r": role},
            ).scalar_one()
        # a quarter of the reports assigned to the caseworker
        conn.execute(text("UPDATE reports SET caseworker_id = :c WHERE id % 4 = 1"), {"c": ids["caseworker"]})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE reports"))
        count = conn.execute(text("SELECT count(*) FROM reports")).scalar_one()

    app = in_process_app(url)
    results: dict[str, Any] = {"reports": count, "seed_seconds": round(seconds, 1)}
    for role, staff_id in ids.items():
        client = app.test_client()
        with client.session_transaction() as sess:
            sess["staff_id"] = staff_id
            sess["seen"] = time.time()
        timings = []
        statuses = set()
        for _ in range(ROUNDS):
            for page in PAGES:
                started = time.perf_counter()
                response = client.get(page)
                timings.append(1000 * (time.perf_counter() - started))
                statuses.add(response.status_code)
        timings.sort()
        results[role] = {
            "requests": len(timings),
            "statuses": sorted(statuses),
            "p50_ms": round(timings[len(timings) // 2], 1),
            "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 1),
            "max_ms": round(timings[-1], 1),
        }
    services_of(app).db.engine.dispose()
    results["pages"] = list(PAGES)
    return results
