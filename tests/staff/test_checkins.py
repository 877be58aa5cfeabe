"""Check-ins and alarms in the console: the banner, the lists, an alarm's
page (last caller's last digits and warnings), closing it, an admin's
audited reveal, and the member page's duress PIN and buddy."""

from __future__ import annotations

from datetime import datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from callflows.status import AlarmKind
from storage import checkins
from storage import repositories as repo
from storage.db import Database
from storage.hashing import verify_secret
from storage.models import AuditEntry, CheckinAlarm, Member, Staff
from storage.vault import NumberVault
from tests.staff.helpers import make_call, post
from tests.support.people import EnrolledMember

CALLER = "+447700900987"
NOW = datetime(2026, 12, 3, 20, 0)


def raise_alarm(
    db: Database, vault: NumberVault, member: EnrolledMember, kind: AlarmKind = AlarmKind.MISSED
) -> int:
    """A member whose last caller has a warning, and a check-in of theirs that raised ``kind``."""
    _, index = make_call(db, vault, CALLER, member_id=member.id)
    with db.session() as s:
        repo.add_warning(s, caller_index=index, category="robbery", summary="Took cash at knifepoint")
        checkin = checkins.start_checkin(s, s.get_one(Member, member.id), 60, NOW)
        alarm = checkins.raise_alarm(s, checkin, kind, NOW)
        assert alarm is not None
        return alarm.id


def test_an_open_alarm_is_a_banner_on_every_page_and_listed_with_running_timers(
    db: Database, vault: NumberVault, alice: FlaskClient, enrol
) -> None:
    ruby = enrol(name="Ruby")
    jade = enrol(name="Jade", phone="+442079460124", line="+442079460002")
    alarm_id = raise_alarm(db, vault, ruby)
    with db.session() as s:
        checkins.start_checkin(s, s.get_one(Member, jade.id), 45, NOW)
    inbox = alice.get("/staff/reports").get_data(as_text=True)
    assert "1 check-in alarm open." in inbox and 'aria-label="Check-in alarms"' in inbox
    page = alice.get("/staff/checkins").get_data(as_text=True)
    assert f"/staff/alarms/{alarm_id}" in page and "Ruby" in page and "Jade" in page
    assert "03 Dec 20:45 UTC" in page  # Jade's timer is due
    assert "7946" not in page.replace("+442079460001", "")  # no member's own phone


def test_the_alarm_page_shows_what_staff_act_on_and_never_the_callers_number(
    db: Database, vault: NumberVault, alice: FlaskClient, member: EnrolledMember
) -> None:
    alarm_id = raise_alarm(db, vault, member, AlarmKind.DURESS)
    html = alice.get(f"/staff/alarms/{alarm_id}").get_data(as_text=True)
    assert "Test member" in html and "duress PIN keyed" in html
    assert "03 Dec 2026 20:00 UTC" in html and "03 Dec 2026 21:00 UTC" in html  # set, due
    assert "ending …987" in html and "robbery: Took cash at knifepoint" in html
    assert "7700900987" not in html and "Reveal" not in html  # caseworkers cannot reveal
    with db.session() as s:
        assert s.scalars(select(AuditEntry.action).where(AuditEntry.target_id == alarm_id)).all() == [
            "alarm.view"
        ]


def test_only_an_admin_with_a_reason_reveals_the_last_caller_and_it_is_audited(
    db: Database, vault: NumberVault, alice: FlaskClient, admin: FlaskClient, member: EnrolledMember
) -> None:
    alarm_id = raise_alarm(db, vault, member)
    assert post(alice, f"/staff/alarms/{alarm_id}/reveal", {"reason": "police"}).status_code == 403
    no_reason = post(admin, f"/staff/alarms/{alarm_id}/reveal", {"reason": "  "}, follow_redirects=True)
    assert "7700900987" not in no_reason.get_data(as_text=True)
    shown = post(admin, f"/staff/alarms/{alarm_id}/reveal", {"reason": "Met Police request ref 123/26"})
    assert shown.status_code == 200 and "+447700900987" in shown.get_data(as_text=True)
    assert shown.headers["Cache-Control"] == "no-store"
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "alarm.reveal_caller")).one()
        assert (entry.target_id, entry.detail) == (alarm_id, "Met Police request ref 123/26")
    assert "7700900987" not in admin.get(f"/staff/alarms/{alarm_id}").get_data(as_text=True)


@pytest.mark.parametrize("outcome", ["safe", "unreachable", "police_informed"])
def test_closing_an_alarm_with_its_outcome_ends_the_banner(
    db: Database, vault: NumberVault, alice: FlaskClient, member: EnrolledMember, outcome: str
) -> None:
    alarm_id = raise_alarm(db, vault, member)
    closed = post(alice, f"/staff/alarms/{alarm_id}/close", {"outcome": outcome}, follow_redirects=True)
    assert "Alarm closed" in closed.get_data(as_text=True)
    assert "check-in alarm open" not in closed.get_data(as_text=True)
    with db.session() as s:
        alarm = s.get_one(CheckinAlarm, alarm_id)
        assert alarm.outcome == outcome and alarm.closed_at is not None and alarm.closed_by_staff_id
    assert post(alice, f"/staff/alarms/{alarm_id}/close", {"outcome": "nonsense"}).status_code == 400


def test_an_admin_sets_and_removes_a_members_duress_pin_and_buddy(
    db: Database, vault: NumberVault, admin: FlaskClient, member: EnrolledMember
) -> None:
    base = f"/staff/members/{member.id}"
    same = post(admin, f"{base}/duress", {"pin": member.pin}, follow_redirects=True)
    assert "must be different from the PIN" in same.get_data(as_text=True)
    premium = post(admin, f"{base}/buddy", {"phone": "0906 123 4567"}, follow_redirects=True)
    assert "Premium rate numbers" in premium.get_data(as_text=True)
    post(admin, f"{base}/duress", {"pin": "7395"})
    page = post(admin, f"{base}/buddy", {"phone": "07911 123456"}, follow_redirects=True).get_data(
        as_text=True
    )
    assert "Duress PIN: set" in page and "Buddy: ending …456" in page and "7911123456" not in page
    with db.session() as s:
        row = s.get_one(Member, member.id)
        assert (
            verify_secret(row.duress_pin_hash, "7395")
            and vault.reveal(row.buddy_encrypted or "") == "+447911123456"
        )
    post(admin, f"{base}/duress", {"remove": "yes"})
    post(admin, f"{base}/buddy", {"remove": "yes"})
    with db.session() as s:
        row = s.get_one(Member, member.id)
        assert (row.duress_pin_hash, row.buddy_encrypted, row.buddy_index) == (None, None, None)


def test_a_caseworker_cannot_change_a_members_duress_pin_or_buddy(
    alice: FlaskClient, member: EnrolledMember
) -> None:
    assert post(alice, f"/staff/members/{member.id}/duress", {"pin": "7395"}).status_code == 403
    assert post(alice, f"/staff/members/{member.id}/buddy", {"phone": "07911 123456"}).status_code == 403


def test_staff_go_on_and_off_call_from_their_account(db: Database, alice: FlaskClient, people) -> None:
    page = alice.get("/staff/account").get_data(as_text=True)
    assert "You are not on call." in page and "Go on call" in page
    on = post(alice, "/staff/account/on-call", {"on_call": "yes"}, follow_redirects=True)
    assert "every check-in alarm and new risk signal is emailed to you" in on.get_data(as_text=True)
    with db.session() as s:
        assert s.get_one(Staff, people.alice).on_call is True
    post(alice, "/staff/account/on-call", {"on_call": ""})
    with db.session() as s:
        assert s.get_one(Staff, people.alice).on_call is False
        actions = s.scalars(select(AuditEntry.detail).where(AuditEntry.action == "staff.on_call")).all()
    assert actions == ["on", "off"]
