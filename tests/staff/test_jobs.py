"""Failed jobs (admin): listed with their error's type and ids only, run
again or discarded after a confirmation, every action audited."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from redis import Redis
from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from core.queue import QUEUE_NAME
from storage.db import Database
from storage.events import MAX_ATTEMPTS
from storage.models import AuditEntry, Event, utcnow
from tests.staff.helpers import People, post, sign_in_as

CALL_SID = "CA" + "7" * 32
# Lists every failed event: other tests' committed ones must not show.
pytestmark = pytest.mark.usefixtures("empty_events")


def _given_up(db: Database) -> int:
    with db.session() as s:
        entry = Event(
            job="call_event",
            args=[CALL_SID, 3, "completed", 12, None],
            due_at=utcnow(),
            attempts=MAX_ATTEMPTS,
            last_error="OperationalError",
            failed_at=utcnow(),
        )
        s.add(entry)
        s.flush()
        return entry.id


def _audited(db: Database, action: str) -> list[str]:
    with db.session() as s:
        return [e.detail or "" for e in s.scalars(select(AuditEntry).where(AuditEntry.action == action))]


def test_admins_see_the_embedded_queues_failures_with_ids_and_error_type(db: Database, admin, alice) -> None:
    entry = _given_up(db)
    html = admin.get("/staff/jobs").get_data(as_text=True)
    assert "call_event" in html and CALL_SID in html and "OperationalError" in html
    assert f'action="/staff/jobs/event/{entry}/requeue"' in html
    assert 'name="confirm" value="yes" required' in html
    assert alice.get("/staff/jobs").status_code == 403
    assert post(alice, f"/staff/jobs/event/{entry}/requeue").status_code == 403


def test_a_failed_event_is_put_back_to_do_and_run_again(db: Database, admin) -> None:
    entry = _given_up(db)
    response = post(admin, f"/staff/jobs/event/{entry}/requeue")
    assert response.status_code == 302
    with db.session() as s:
        row = s.get(Event, entry)
        # The console's app has no Redis: rung, the event ran in-process at once.
        assert row is not None and (row.attempts, row.failed_at) == (0, None) and row.done_at is not None
    assert _audited(db, "job.requeue") == [f"event call_event {entry}"]
    assert "No failed jobs" in admin.get("/staff/jobs").get_data(as_text=True)


def test_discarding_needs_a_confirmation_and_is_audited(db: Database, admin) -> None:
    entry = _given_up(db)
    post(admin, f"/staff/jobs/event/{entry}/discard")
    with db.session() as s:
        assert s.get(Event, entry) is not None
    assert _audited(db, "job.discard") == []
    post(admin, f"/staff/jobs/event/{entry}/discard", {"confirm": "yes"})
    with db.session() as s:
        assert s.get(Event, entry) is None
    assert _audited(db, "job.discard") == [f"event call_event {entry}"]


def test_unknown_or_malformed_keys_are_404(db: Database, admin) -> None:
    assert post(admin, "/staff/jobs/event/999999/requeue").status_code == 404
    assert post(admin, "/staff/jobs/event/1x/requeue").status_code == 404
    assert post(admin, "/staff/jobs/rq/a%0Ab/requeue").status_code == 404
    assert post(admin, "/staff/jobs/other/1/requeue").status_code == 404


def test_rq_failures_are_listed_requeued_and_discarded(
    make_app: Callable[..., Flask], redis: Redis, db: Database, people: People
) -> None:
    app = make_app()
    admin = sign_in_as(app.test_client(), people.admin)
    queue = Queue(QUEUE_NAME, connection=redis)
    # "ping" without its token fails at once: in RQ's failed registry, no retry.
    first = queue.enqueue("worker.jobs.ping")
    second = queue.enqueue("worker.jobs.ping")
    SimpleWorker([queue], connection=redis).work(burst=True)
    registry = FailedJobRegistry(queue=queue)
    assert sorted(registry.get_job_ids()) == sorted([first.id, second.id])
    html = admin.get("/staff/jobs").get_data(as_text=True)
    assert html.count("ping <span") == 2 and "TypeError" in html
    assert "missing 1 required positional argument" not in html  # the type, never the message

    post(admin, f"/staff/jobs/rq/{first.id}/requeue")
    assert registry.get_job_ids() == [second.id] and queue.job_ids == [first.id]
    post(admin, f"/staff/jobs/rq/{second.id}/discard", {"confirm": "yes"})
    assert registry.get_job_ids() == []
    assert _audited(db, "job.requeue") == [f"rq ping {first.id}"]
    assert _audited(db, "job.discard") == [f"rq ping {second.id}"]
