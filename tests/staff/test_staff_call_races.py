"""Parallel clicks on "Call the member" fired at a real server: the hourly
limit per caseworker holds (docs/architecture.md: counters that guard access or
money change atomically). Without the lock on the caseworker's row, every request counted
the calls already committed, all saw room, and all placed one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from flask import Flask
from redis import Redis
from sqlalchemy import func, select

from ivr import services_of
from storage.db import Database
from storage.models import AuditEntry, StaffCall
from tests.staff.helpers import PASSWORD, make_report, make_staff
from tests.support import people
from tests.support.live_server import migrated_database, serving
from tests.support.menu import jobs
from tests.support.staff_calls import CASEWORKER_PHONE
from tests.support.suite import PG_URL

PARALLEL = 20
LIMIT = 3


@pytest.fixture
def race_db() -> Iterator[Database]:
    with migrated_database(PG_URL, f"sn_staff_call_race_{os.getpid()}", pool_size=PARALLEL) as db:
        yield db


def _signed_in(base: str, report_id: int) -> tuple[dict[str, str], str]:
    """The caseworker's session cookies and the report page's CSRF token."""
    with requests.Session() as web:
        login = web.get(f"{base}/staff/login", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', login)
        assert token
        form = {"email": "case@example.org", "password": PASSWORD, "csrf_token": token.group(1)}
        assert (
            web.post(f"{base}/staff/login", data=form, allow_redirects=False, timeout=60).status_code == 302
        )
        page = web.get(f"{base}/staff/reports/{report_id}", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        return {name: value or "" for name, value in web.cookies.items()}, token.group(1)


def _click(base: str, report_id: int, cookies: dict[str, str], token: str) -> int:
    with requests.Session() as web:
        web.cookies.update(cookies)
        url = f"{base}/staff/reports/{report_id}/call"
        return web.post(url, data={"csrf_token": token}, allow_redirects=False, timeout=60).status_code


def test_parallel_clicks_place_no_more_calls_than_the_hourly_limit(
    make_app: Callable[..., Flask], race_db: Database, redis: Redis
) -> None:
    app = make_app(database=race_db, STAFF_CALLS_PER_HOUR=str(LIMIT))
    vault = services_of(app).vault
    member = people.enrol(race_db, vault, name="Ruby")
    people.add_access_line(race_db)
    staff = make_staff(race_db, "case@example.org", phone_encrypted=vault.protect(CASEWORKER_PHONE).token)
    report = make_report(race_db, member_id=member.id, caseworker_id=staff, status="assigned")
    with serving(app) as base:
        cookies, token = _signed_in(base, report)
        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            statuses = list(pool.map(lambda _: _click(base, report, cookies, token), range(PARALLEL)))
    assert statuses == [303] * PARALLEL
    with race_db.session() as s:
        assert s.scalar(select(func.count()).select_from(StaffCall)) == LIMIT
        refused = s.scalars(select(AuditEntry.detail).where(AuditEntry.action == "member.call_refused")).all()
    assert len(refused) == PARALLEL - LIMIT
    assert {detail.rsplit(" ", 1)[-1] for detail in refused if detail} == {"refused=rate_limited"}
    # Exactly the calls written were queued, by id only (the redis fixture scans them for numbers).
    placing = [args for name, args in jobs(redis, race_db) if name == "worker.staff_calls.place_staff_call"]
    assert len(placing) == LIMIT
