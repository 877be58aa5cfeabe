"""Inbox, report page, triage and assignment, as caseworkers and admins."""

from __future__ import annotations

import re

from sqlalchemy import select

from storage.db import Database
from storage.models import AuditEntry, Report
from tests.staff.helpers import People, make_call, make_report, post


def _report_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'href="/staff/reports/(\d+)"', html)]


def _audit(db: Database, action: str, report_id: int) -> int:
    with db.session() as s:
        return len(
            s.scalars(
                select(AuditEntry).where(AuditEntry.action == action, AuditEntry.target_id == report_id)
            ).all()
        )


def test_caseworker_sees_unassigned_and_own_reports_only(db: Database, people: People, alice, admin) -> None:
    free = make_report(db)
    mine = make_report(db, caseworker_id=people.alice, status="assigned")
    bobs = make_report(db, caseworker_id=people.bob, status="assigned")
    assert set(_report_ids(alice.get("/staff/reports").get_data(as_text=True))) == {free, mine}
    assert set(_report_ids(admin.get("/staff/reports").get_data(as_text=True))) == {free, mine, bobs}


def test_caseworker_is_refused_another_caseworkers_report(db: Database, people: People, alice) -> None:
    bobs = make_report(db, caseworker_id=people.bob, status="assigned", notes="bob's notes")
    for path in (f"/staff/reports/{bobs}", f"/staff/reports/{bobs}/audio", f"/staff/reports/{bobs}/warning"):
        response = alice.get(path)
        assert response.status_code == 404, path
        assert "bob&#39;s notes" not in response.get_data(as_text=True)
    for path in (f"/staff/reports/{bobs}/update", f"/staff/reports/{bobs}/assign"):
        assert post(alice, path, {"status": "closed"}).status_code == 404
    with db.session() as s:
        report = s.get(Report, bobs)
        assert report is not None and report.status == "assigned" and report.caseworker_id == people.bob


def test_inbox_newest_first_with_filters(db: Database, people: People, admin) -> None:
    from datetime import datetime

    old = make_report(db, created_at=datetime(2026, 1, 1), category="robbery")
    new = make_report(db, created_at=datetime(2026, 2, 1), category="threats", caseworker_id=people.bob)
    closed = make_report(db, created_at=datetime(2026, 3, 1), status="closed", category="threats")
    assert _report_ids(admin.get("/staff/reports").get_data(as_text=True)) == [closed, new, old]
    assert _report_ids(admin.get("/staff/reports?status=closed").get_data(as_text=True)) == [closed]
    assert _report_ids(admin.get("/staff/reports?category=threats").get_data(as_text=True)) == [closed, new]
    assert _report_ids(admin.get(f"/staff/reports?caseworker={people.bob}").get_data(as_text=True)) == [new]
    assert _report_ids(admin.get("/staff/reports?caseworker=none").get_data(as_text=True)) == [closed, old]
    # Unknown filter choices are ignored; a cursor that is no report id is refused.
    assert admin.get("/staff/reports?status=<x>&category=zzz").status_code == 200
    assert admin.get("/staff/reports?after=abc").status_code == 400


def test_inbox_pages_by_keyset(db: Database, admin) -> None:
    from datetime import datetime, timedelta

    ids = [make_report(db, created_at=datetime(2026, 1, 1) + timedelta(minutes=i)) for i in range(55)]
    first = admin.get("/staff/reports").get_data(as_text=True)
    assert _report_ids(first) == ids[::-1][:50]
    after = re.search(r'href="/staff/reports\?after=(\d+)"', first)
    assert after is not None
    second = admin.get(f"/staff/reports?after={after.group(1)}").get_data(as_text=True)
    assert _report_ids(second) == ids[::-1][50:]


def test_report_page_shows_facts_plainly_and_is_audited(db: Database, vault, people: People, alice) -> None:
    call_id, index = make_call(db, vault, "+447700900123")
    report = make_report(
        db, call_id=call_id, caller_index=index, police_consent=True, category="threats", notes="Seen twice"
    )
    html = alice.get(f"/staff/reports/{report}").get_data(as_text=True)
    assert "yes — may go to police" in html
    assert "threats" in html and "Seen twice" in html
    assert "…123" in html
    assert "7700900123" not in html and "900123" not in html
    assert "recording awaited" in html
    assert f"<title>Report #{report} · Safety Number staff</title>" in html
    assert _audit(db, "report.view", report) == 1


def test_recording_failed_is_shown_clearly(db: Database, alice) -> None:
    report = make_report(
        db, recording_state="failed", recording_error="download failed", police_consent=False
    )
    html = alice.get(f"/staff/reports/{report}").get_data(as_text=True)
    assert "recording failed" in html
    assert "could not be stored" in html
    assert "no — must not go to police" in html


def test_caseworker_takes_then_triages_a_report(db: Database, people: People, alice, bob) -> None:
    report = make_report(db)
    assert post(alice, f"/staff/reports/{report}/assign").status_code == 302
    response = post(
        alice,
        f"/staff/reports/{report}/update",
        {"status": "in_review", "category": "stalking", "notes": "Called back; <b>bold</b> 07700 900123"},
    )
    assert response.status_code == 302
    with db.session() as s:
        r = s.get(Report, report)
        assert r is not None
        assert (r.caseworker_id, r.status, r.category) == (people.alice, "in_review", "stalking")
        assert r.notes is not None and "<b>" not in r.notes and "900123" not in r.notes
    html = alice.get(f"/staff/reports/{report}").get_data(as_text=True)
    assert "status assigned -&gt; in_review" in html
    # Now Bob can no longer see it or take it.
    assert bob.get(f"/staff/reports/{report}").status_code == 404
    assert post(bob, f"/staff/reports/{report}/assign").status_code == 404


def test_caseworker_cannot_triage_an_unassigned_report_without_taking_it(db: Database, alice) -> None:
    report = make_report(db)
    assert post(alice, f"/staff/reports/{report}/update", {"status": "closed"}).status_code == 403
    with db.session() as s:
        assert s.get(Report, report).status == "new"  # type: ignore[union-attr]


def test_closing_sets_closed_at(db: Database, people: People, admin) -> None:
    report = make_report(db, caseworker_id=people.alice, status="assigned")
    post(admin, f"/staff/reports/{report}/update", {"status": "closed", "category": ""})
    with db.session() as s:
        assert s.get(Report, report).closed_at is not None  # type: ignore[union-attr]


def test_admin_reassigns_and_unassigns(db: Database, people: People, admin) -> None:
    report = make_report(db, caseworker_id=people.alice, status="assigned")
    post(admin, f"/staff/reports/{report}/assign", {"caseworker_id": str(people.bob)})
    with db.session() as s:
        assert s.get(Report, report).caseworker_id == people.bob  # type: ignore[union-attr]
    post(admin, f"/staff/reports/{report}/assign", {"caseworker_id": ""})
    with db.session() as s:
        r = s.get(Report, report)
        assert r is not None and r.caseworker_id is None and r.status == "new"
    assert _audit(db, "report.assign", report) == 2
    assert post(admin, f"/staff/reports/{report}/assign", {"caseworker_id": "99999"}).status_code == 400


def test_triage_without_csrf_token_changes_nothing(db: Database, people: People, alice) -> None:
    report = make_report(db, caseworker_id=people.alice, status="assigned")
    response = alice.post(f"/staff/reports/{report}/update", data={"status": "closed"})
    assert response.status_code == 400
    wrong = alice.post(f"/staff/reports/{report}/update", data={"status": "closed", "csrf_token": "guess"})
    assert wrong.status_code == 400
    with db.session() as s:
        assert s.get(Report, report).status == "assigned"  # type: ignore[union-attr]


def test_bad_status_or_category_is_refused(db: Database, people: People, alice) -> None:
    report = make_report(db, caseworker_id=people.alice, status="assigned")
    assert post(alice, f"/staff/reports/{report}/update", {"status": "deleted"}).status_code == 400
    assert post(alice, f"/staff/reports/{report}/update", {"category": "murder"}).status_code == 400
