"""Hand-off: least-busy caseworker, unassigned queue for admins, notices without personal data."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.db import Database
from storage.models import AuditEntry, Report, ReportStatus
from tests.support.people import Enrol
from tests.worker_helpers import add_report, add_staff, job_services, mail_log
from worker.handoff import alert_pin_lockout, assign_report

NAME, PHONE = "Scarlett", "+447700900456"


def _body(mail) -> str:
    return mail.get_payload(decode=True).decode()


def _report(db: Database, report_id: int) -> Report:
    with db.session() as s:
        report = s.get(Report, report_id)
        assert report is not None
        return report


@pytest.fixture
def svc(db: Database, tmp_path: Path):
    with job_services(tmp_path, db, REDIS_URL=None) as services:
        yield services


def test_assigns_to_the_active_caseworker_with_fewest_open_reports(enrol: Enrol, svc, db: Database) -> None:
    member_id = enrol(name=NAME, phone=PHONE).id
    busy = add_staff(db, "busy@example.org")
    light = add_staff(db, "light@example.org")
    add_staff(db, "away@example.org", active=False)
    add_staff(db, "boss@example.org", role="admin")
    for _ in range(2):
        add_report(db, member_id, caseworker_id=busy, status=ReportStatus.ASSIGNED)
    add_report(db, member_id, caseworker_id=light, status=ReportStatus.IN_REVIEW)
    for _ in range(3):  # closed reports do not count
        add_report(db, member_id, caseworker_id=light, status=ReportStatus.CLOSED)

    first, second, third = (add_report(db, member_id) for _ in range(3))
    assign_report(first)
    assert (_report(db, first).caseworker_id, _report(db, first).status) == (light, ReportStatus.ASSIGNED)
    assign_report(second)  # now 2 each: the tie goes to the lower id
    assert _report(db, second).caseworker_id == busy
    assign_report(third)
    assert _report(db, third).caseworker_id == light

    mails = mail_log(svc.settings.mail_log_path)
    assert [m["To"] for m in mails] == ["light@example.org", "busy@example.org", "light@example.org"]
    assert mails[0]["Subject"] == "Safety Number: a report is waiting"
    assert f"https://safety.example.org/staff/reports/{first}" in _body(mails[0])
    with db.session() as s:
        audit = s.query(AuditEntry).filter_by(action="report.assigned", target_id=first).one()
        assert audit.target_type == "report"


def test_notices_carry_no_personal_data(enrol: Enrol, svc, db: Database) -> None:
    member_id = enrol(name=NAME, phone=PHONE).id
    add_staff(db, "case@example.org")
    add_staff(db, "boss@example.org", role="admin")
    report_id = add_report(db, member_id, notes="He said his name was Dave", category="threats")
    assign_report(report_id)
    alert_pin_lockout(member_id)
    text = Path(svc.settings.mail_log_path).read_text()
    for secret in (NAME, PHONE, PHONE[-10:], PHONE[-3:], "Dave", "threats"):
        assert secret not in text


def test_assigning_twice_changes_nothing(enrol: Enrol, svc, db: Database) -> None:
    member_id = enrol(name=NAME, phone=PHONE).id
    first = add_staff(db, "a@example.org")
    report_id = add_report(db, member_id)
    assign_report(report_id)
    add_staff(db, "b@example.org")  # now b has fewer open reports
    assign_report(report_id)
    assert _report(db, report_id).caseworker_id == first
    assert len(mail_log(svc.settings.mail_log_path)) == 1


def test_with_no_active_caseworker_the_report_waits_for_admins(enrol: Enrol, svc, db: Database) -> None:
    member_id = enrol(name=NAME, phone=PHONE).id
    add_staff(db, "gone@example.org", active=False)
    add_staff(db, "boss@example.org", role="admin")
    add_staff(db, "boss2@example.org", role="admin")
    report_id = add_report(db, member_id)
    assign_report(report_id)
    report = _report(db, report_id)
    assert (report.caseworker_id, report.status) == (None, ReportStatus.NEW)
    [mail] = mail_log(svc.settings.mail_log_path)
    assert mail["To"] == "boss@example.org, boss2@example.org"
    assert "unassigned" in mail["Subject"]
    assert f"/staff/reports/{report_id}" in _body(mail)


def test_pin_lockout_alerts_every_active_admin(enrol: Enrol, svc, db: Database) -> None:
    member_id = enrol(name=NAME, phone=PHONE).id
    add_staff(db, "boss@example.org", role="admin")
    add_staff(db, "old@example.org", role="admin", active=False)
    add_staff(db, "case@example.org")
    alert_pin_lockout(member_id)
    [mail] = mail_log(svc.settings.mail_log_path)
    assert mail["To"] == "boss@example.org"
    assert "locked after repeated wrong PINs" in _body(mail)
    assert f"https://safety.example.org/staff/members/{member_id}" in _body(mail)
