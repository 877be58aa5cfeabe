"""Police export, stats charts and the audit log view."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime

from sqlalchemy import select

from storage.db import Database
from storage.models import AuditEntry, Call, CallDirection, utcnow
from tests.staff.helpers import People, make_call, make_report, post


def _seed_for_export(db: Database, vault) -> tuple[int, int]:
    from storage import repositories as repo

    with db.session() as s:
        repo.add_numbers(s, ["+442079460001"])
        member, _ = repo.enrol_member(
            s, vault, name="Ruby Secretname", phone_e164="+447911123456", pin="4821"
        )
    call_id, index = make_call(db, vault, "+447911654321")
    yes = make_report(
        db,
        member_id=member.id,
        call_id=call_id,
        caller_index=index,
        police_consent=True,
        category="robbery",
        notes="Met at 12 Acacia Avenue",
        created_at=datetime(2026, 3, 14, 23, 15),
    )
    no = make_report(db, member_id=member.id, police_consent=False, category="threats")
    make_report(db, member_id=member.id, police_consent=None, category="stalking")
    return yes, no


def test_export_holds_consented_reports_only_and_nothing_identifying(db: Database, vault, admin) -> None:
    yes, _no = _seed_for_export(db, vault)
    response = post(admin, "/staff/export/download", {"format": "csv"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows == [{"reference": f"SN-{yes}", "month": "2026-03", "category": "robbery", "status": "new"}]
    for secret in ("Secretname", "Ruby", "911123456", "7911", "654321", "Acacia", "+44207946", "14", "23:15"):
        assert secret not in body, secret

    as_json = post(admin, "/staff/export/download", {"format": "json"})
    assert as_json.mimetype == "application/json"
    data = json.loads(as_json.get_data())
    assert [r["reference"] for r in data["reports"]] == [f"SN-{yes}"]
    assert set(data["reports"][0]) == {"reference", "month", "category", "status"}

    with db.session() as s:
        audited = s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("export.%"))).all()
    assert sorted(audited) == ["export.csv", "export.json"]


def test_export_is_admin_only_and_needs_csrf(db: Database, vault, alice, admin) -> None:
    _seed_for_export(db, vault)
    assert alice.get("/staff/export").status_code == 403
    assert post(alice, "/staff/export/download", {"format": "csv"}).status_code == 403
    assert admin.post("/staff/export/download", data={"format": "csv"}).status_code == 400
    assert post(admin, "/staff/export/download", {"format": "xml"}).status_code == 400
    with db.session() as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.action.like("export.%"))).all() == []
    page = admin.get("/staff/export").get_data(as_text=True)
    assert "1 report " in page


def test_stats_draw_svg_charts_from_the_call_log(db: Database, vault, alice) -> None:
    now = utcnow()
    make_call(db, vault, "+447911000001", bridged=True, warned=True, created_at=now)
    make_call(db, vault, "+447911000002", declined=True, created_at=now)
    # Declined with 2: the caller was blocked then. One call, one outcome.
    make_call(db, vault, "+447911000005", declined=True, blocked=True, created_at=now)
    make_call(db, vault, "+447911000003", blocked=True, created_at=now)
    make_call(db, vault, "+447911000006", created_at=now)
    make_call(db, vault, "+447911000004", direction=CallDirection.MEMBER_LEG, created_at=now)
    make_report(db, category="robbery")
    make_report(db, category="robbery")
    make_report(db)
    response = alice.get("/staff/stats")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("<svg") == 3
    assert "5 inbound calls" in html
    outcomes = {"accepted": 1, "declined": 2, "not answered": 1, "turned away": 1}
    for label, n in outcomes.items():
        assert f'<th scope="row">{label}</th><td>{n}</td>' in html
    assert sum(outcomes.values()) == 5
    assert '<th scope="row">all inbound calls</th><td>5</td>' in html
    assert "(4 screened)" in html and "blocked the caller on 1." in html and "on 1 call." in html
    assert '<th scope="row">robbery</th><td>2</td>' in html
    # One vocabulary: the chart names the uncategorised report as the table does.
    assert '<th scope="row">uncategorised</th><td>1</td>' in html
    assert "<title>uncategorised: 1</title>" in html and ">none<" not in html
    assert "<title>physical assault: 0</title>" in html
    # The calls-per-day chart has its data as a table too.
    assert "<summary>Calls per day as a table</summary>" in html
    assert f'<th scope="row">{now.strftime("%d %b")}</th><td>5</td>' in html
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    with db.session() as s:
        assert s.scalar(select(Call.id).where(Call.direction == CallDirection.MEMBER_LEG))
    assert alice.get("/staff/stats?days=7").status_code == 200


def test_stats_charts_are_drawn_phone_wide_with_readable_labels(db: Database, vault, alice) -> None:
    """Drawn 420 units wide (a 390 px phone shrinks them by ~7 %), labels 12
    units: 11 px or more on the phone, where a 960-wide chart gave 4-5 px."""
    html = alice.get("/staff/stats?days=90").get_data(as_text=True)
    widths = re.findall(r'<svg class="chart" viewBox="0 0 (\d+) ', html)
    assert widths and all(int(w) <= 420 for w in widths)
    sizes = {int(size) for size in re.findall(r'font-size="(\d+)"', html)}
    assert sizes and min(sizes) * 390 / 420 >= 11


def test_audit_log_lists_actions_for_admins(db: Database, people: People, admin, alice) -> None:
    report = make_report(db)
    alice.get(f"/staff/reports/{report}")
    html = admin.get("/staff/audit").get_data(as_text=True)
    assert "report.view" in html and "alice@example.org" in html
    assert admin.get("/staff/audit?action=report.view").status_code == 200
    assert alice.get("/staff/audit").status_code == 403


def test_audit_log_pages(db: Database, people: People, admin) -> None:
    from storage import repositories as repo

    with db.session() as s:
        for i in range(60):
            repo.audit(s, "test.entry", staff_id=people.admin, detail=f"entry {i}")
    first = admin.get("/staff/audit?action=test.entry").get_data(as_text=True)
    assert "entry 59<" in first and "entry 9<" not in first
    import re

    before = re.search(r"before=(\d+)", first)
    assert before is not None
    second = admin.get(f"/staff/audit?action=test.entry&before={before.group(1)}").get_data(as_text=True)
    assert "entry 9<" in second and "entry 59<" not in second
