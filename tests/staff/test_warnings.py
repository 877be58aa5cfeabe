"""Warnings from reports, editing, expiring, and the all-or-nothing CSV import."""

from __future__ import annotations

import io

from sqlalchemy import select

from storage import repositories as repo
from storage.db import Database
from storage.models import AuditEntry, CallerWarning, utcnow
from tests.staff.helpers import People, make_call, make_report, post


def _warnings(db: Database) -> list[CallerWarning]:
    with db.session() as s:
        return list(s.scalars(select(CallerWarning).order_by(CallerWarning.id)))


def test_warning_from_report_uses_the_callers_index(db: Database, vault, people: People, alice) -> None:
    call_id, index = make_call(db, vault, "+447700900456")
    report = make_report(db, call_id=call_id, caller_index=index, category="threats")
    form = alice.get(f"/staff/reports/{report}/warning").get_data(as_text=True)
    assert "…456" in form and "900456" not in form
    response = post(
        alice,
        f"/staff/reports/{report}/warning",
        {
            "category": "threats",
            "summary": "<i>Aggressive</i> when refused, rang from 07700 900456",
            "expires": "",
        },
    )
    assert response.status_code == 302
    [warning] = _warnings(db)
    assert warning.caller_index == index
    assert warning.source_report_id == report and warning.created_by_staff_id == people.alice
    assert "<i>" not in warning.summary and "900456" not in warning.summary
    with db.session() as s:
        assert repo.warnings_for(s, vault.index("+447700900456"))
    listing = alice.get("/staff/warnings").get_data(as_text=True)
    assert "Aggressive" in listing


def test_warning_needs_a_linked_caller(db: Database, alice) -> None:
    report = make_report(db)
    response = post(alice, f"/staff/reports/{report}/warning", {"category": "threats", "summary": "x"})
    assert response.status_code == 302
    assert _warnings(db) == []


def test_bad_warning_input_is_explained_and_nothing_written(db: Database, vault, alice) -> None:
    _, index = make_call(db, vault)
    report = make_report(db, caller_index=index)
    bad_cat = post(alice, f"/staff/reports/{report}/warning", {"category": "murder", "summary": "x"})
    assert bad_cat.status_code == 400 and "category must be one of" in bad_cat.get_data(as_text=True)
    empty = post(alice, f"/staff/reports/{report}/warning", {"category": "other", "summary": "<b></b>"})
    assert empty.status_code == 400 and "empty" in empty.get_data(as_text=True)
    bad_date = post(
        alice, f"/staff/reports/{report}/warning", {"category": "other", "summary": "ok", "expires": "soon"}
    )
    assert bad_date.status_code == 400
    assert _warnings(db) == []


def test_each_refused_field_points_at_its_own_message(db: Database, vault, alice) -> None:
    _, index = make_call(db, vault)
    report = make_report(db, caller_index=index)
    form = {"category": "other", "summary": "<b></b>", "expires": "soon"}
    html = post(alice, f"/staff/reports/{report}/warning", form).get_data(as_text=True)
    assert 'aria-describedby="summary-error"' in html and 'id="summary-error">the summary is empty' in html
    assert 'aria-describedby="expires-error"' in html and "pick a day with the date field" in html
    assert "2026-12-31" not in html
    assert "category-error" not in html and 'role="alert"' in html


def test_admin_edits_and_expires_a_warning(db: Database, vault, admin) -> None:
    with db.session() as s:
        wid = repo.add_warning(
            s, caller_index=vault.index("+447700900789"), category="other", summary="old"
        ).id
    assert admin.get(f"/staff/warnings/{wid}/edit").status_code == 200
    post(
        admin,
        f"/staff/warnings/{wid}/edit",
        {"category": "nuisance", "summary": "new text", "expires": "2099-01-31"},
    )
    [w] = _warnings(db)
    assert w.expires_at is not None
    assert (w.category, w.summary, w.expires_at.date().isoformat()) == ("nuisance", "new text", "2099-01-31")
    post(admin, f"/staff/warnings/{wid}/expire")  # no confirmation: nothing changes
    [w] = _warnings(db)
    assert w.expires_at is not None and w.expires_at.date().isoformat() == "2099-01-31"
    assert 'name="confirm" value="yes" required' in admin.get("/staff/warnings").get_data(as_text=True)
    post(admin, f"/staff/warnings/{wid}/expire", {"confirm": "yes"})
    [w] = _warnings(db)
    assert w.expires_at is not None and w.expires_at <= utcnow()
    assert "new text" not in admin.get("/staff/warnings").get_data(as_text=True)
    assert "new text" in admin.get("/staff/warnings?show=expired").get_data(as_text=True)


def test_caseworker_cannot_edit_expire_or_import(db: Database, vault, alice) -> None:
    with db.session() as s:
        wid = repo.add_warning(s, caller_index=vault.index("+447700900789"), category="other", summary="x").id
    assert alice.get(f"/staff/warnings/{wid}/edit").status_code == 403
    assert post(alice, f"/staff/warnings/{wid}/expire").status_code == 403
    assert alice.get("/staff/warnings/import").status_code == 403
    assert _warnings(db)[0].expires_at is None


def _upload(client, text: str, **kw):
    data = {"file": (io.BytesIO(text.encode()), "warnings.csv")}
    return post(client, "/staff/warnings/import", data, content_type="multipart/form-data", **kw)


def test_csv_import_with_one_bad_row_imports_nothing(db: Database, admin) -> None:
    text = (
        "number,category,summary\n"
        "07911 123111,threats,Threatened a member\n"
        "not a number,robbery,Took money\n"
        "+447911123222,murder,Unknown category\n"
        "07911123333,other,\n"
    )
    response = _upload(admin, text)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Nothing was imported" in html
    assert "<td>3</td><td>the number is not a valid phone number</td>" in html
    assert "<td>4</td><td>unknown category" in html
    assert "<td>5</td><td>the summary is empty</td>" in html
    assert "<td>2</td>" not in html
    assert "123111" not in html and "123222" not in html
    assert _warnings(db) == []


def test_csv_import_writes_every_row(db: Database, vault, admin) -> None:
    response = _upload(admin, "07911 123111,threats,Threatened a member\n+447911123222,robbery,Took money\n")
    assert response.status_code == 302
    rows = _warnings(db)
    assert [(w.category, w.summary) for w in rows] == [
        ("threats", "Threatened a member"),
        ("robbery", "Took money"),
    ]
    assert rows[0].caller_index == vault.index("+447911123111")
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "warnings.import")).one()
    assert entry.detail == "2 warnings"


def test_csv_import_refuses_junk_files(db: Database, admin) -> None:
    assert _upload(admin, "").status_code == 400
    data = {"file": (io.BytesIO(b"\xff\xfe\x00bad"), "w.csv")}
    assert post(admin, "/staff/warnings/import", data, content_type="multipart/form-data").status_code == 400
    assert _warnings(db) == []


def test_csv_import_without_csrf_is_refused(db: Database, admin) -> None:
    data = {"file": (io.BytesIO(b"07911 123111,threats,x\n"), "w.csv")}
    assert (
        admin.post("/staff/warnings/import", data=data, content_type="multipart/form-data").status_code == 400
    )
    assert _warnings(db) == []
