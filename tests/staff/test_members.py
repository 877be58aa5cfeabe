"""Members and the number pool, for admins only; never a real number shown."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage import repositories as repo
from storage.db import Database
from storage.hashing import verify_secret
from storage.models import LineStatus, Member, SafetyNumber, utcnow
from tests.staff.helpers import post


def _pool(db: Database, *numbers: str) -> None:
    with db.session() as s:
        repo.add_numbers(s, numbers)


def test_enrol_shows_safety_number_and_pin_once_never_the_phone(db: Database, admin) -> None:
    _pool(db, "+442079460001")
    response = post(admin, "/staff/members/new", {"name": "Ruby", "phone": "07911 123456", "pin": ""})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    pin = re.search(r'class="big secret">(\d+)<', html)
    assert pin is not None and len(pin.group(1)) == 6  # pin_min_length 4 + 2
    assert "+442079460001" in html
    assert "911123456" not in html
    with db.session() as s:
        member = s.scalars(select(Member)).one()
        assert verify_secret(member.pin_hash, pin.group(1))
        assert member.phone_encrypted and "911123456" not in member.phone_encrypted
    page = admin.get(f"/staff/members/{member.id}").get_data(as_text=True)
    assert "…456" in page and "911123456" not in page and pin.group(1) not in page
    listing = admin.get("/staff/members").get_data(as_text=True)
    assert "Ruby" in listing and "911123456" not in listing


def test_enrol_errors_are_clear_and_write_nothing(db: Database, admin) -> None:
    bad = post(admin, "/staff/members/new", {"name": "Ruby", "phone": "12", "pin": "4821"})
    assert bad.status_code == 400 and "not a valid phone number" in bad.get_data(as_text=True)
    empty_pool = post(admin, "/staff/members/new", {"name": "Ruby", "phone": "07911 123456", "pin": "4821"})
    assert (
        empty_pool.status_code == 400 and "no free safety number" in empty_pool.get_data(as_text=True).lower()
    )
    _pool(db, "+442079460001")
    short = post(admin, "/staff/members/new", {"name": "Ruby", "phone": "07911 123456", "pin": "12"})
    assert short.status_code == 400 and "at least 4 digits" in short.get_data(as_text=True)
    with db.session() as s:
        assert s.scalars(select(Member)).all() == []


def _enrolled(db: Database, vault) -> int:
    _pool(db, "+442079460001")
    with db.session() as s:
        member, _ = repo.enrol_member(s, vault, name="Ruby", phone_e164="+447911123456", pin="4821")
        return member.id


def test_reset_pin_and_preferences(db: Database, vault, admin) -> None:
    member_id = _enrolled(db, vault)
    response = post(admin, f"/staff/members/{member_id}/pin", {"pin": "998877"})
    assert response.status_code == 200 and "998877" in response.get_data(as_text=True)
    post(
        admin,
        f"/staff/members/{member_id}/preferences",
        {"greeting": "logged", "caller_id_shown": "caller"},
    )
    with db.session() as s:
        m = s.get(Member, member_id)
        assert m is not None and verify_secret(m.pin_hash, "998877")
        assert (m.greeting, m.caller_id_shown, m.accept_withheld) == ("logged", "caller", False)
    assert post(admin, f"/staff/members/{member_id}/preferences", {"greeting": "loud"}).status_code == 400


def test_a_new_member_has_no_greeting_and_the_page_says_who_pays_for_one(db: Database, vault, admin) -> None:
    member_id = _enrolled(db, vault)
    with db.session() as s:
        member = s.get(Member, member_id)
        assert member is not None and member.greeting == "none"
    page = admin.get(f"/staff/members/{member_id}").get_data(as_text=True)
    assert re.search(r'<option value="none" selected>none: the caller hears ringing</option>', page)
    assert "(the caller pays)" in page
    assert "A spoken greeting answers the call, so the caller pays for it from then on" in page


def test_cancel_erases_and_quarantines(db: Database, vault, admin) -> None:
    member_id = _enrolled(db, vault)
    post(admin, f"/staff/members/{member_id}/cancel", {})  # unconfirmed: nothing happens
    with db.session() as s:
        assert s.get(Member, member_id).status == "active"  # type: ignore[union-attr]
    post(admin, f"/staff/members/{member_id}/cancel", {"confirm": "yes"})
    with db.session() as s:
        m = s.get(Member, member_id)
        assert (
            m is not None and m.status == "cancelled" and m.phone_encrypted is None and m.working_name is None
        )
        line = s.scalars(select(SafetyNumber)).one()
        assert line.status == LineStatus.QUARANTINED and line.member_id is None
    assert post(admin, f"/staff/members/{member_id}/pin", {"pin": "4821"}).status_code == 409


@pytest.mark.parametrize(
    ("pin", "why"),
    [
        ("0000", "one digit repeated"),
        ("1234", "counts straight"),
        ("9876", "counts straight"),
        ("1123456", "own phone"),
    ],
)
def test_guessable_pins_are_refused_at_enrolment_and_reset(
    db: Database, vault, admin, pin: str, why: str
) -> None:
    _pool(db, "+442079460002")
    enrol = post(admin, "/staff/members/new", {"name": "Jade", "phone": "07911 123456", "pin": pin})
    assert enrol.status_code == 400 and why in enrol.get_data(as_text=True)
    with db.session() as s:
        assert s.scalars(select(Member)).all() == []
    member_id = _enrolled(db, vault)  # Ruby's phone also ends in 1123456
    reset = post(admin, f"/staff/members/{member_id}/pin", {"pin": pin}, follow_redirects=True)
    assert why in reset.get_data(as_text=True)
    with db.session() as s:
        m = s.get(Member, member_id)
        assert m is not None and verify_secret(m.pin_hash, "4821") and not verify_secret(m.pin_hash, pin)


def test_members_are_admin_only(db: Database, vault, alice) -> None:
    member_id = _enrolled(db, vault)
    for path in ("/staff/members", "/staff/members/new", f"/staff/members/{member_id}", "/staff/numbers"):
        assert alice.get(path).status_code == 403, path
    for path in (
        f"/staff/members/{member_id}/cancel",
        f"/staff/members/{member_id}/pin",
        "/staff/numbers/add",
    ):
        assert post(alice, path, {"confirm": "yes", "numbers": "+442079460009"}).status_code == 403
    with db.session() as s:
        assert s.get(Member, member_id).status == "active"  # type: ignore[union-attr]


def test_number_pool_add_quarantine_release(db: Database, admin) -> None:
    assert post(admin, "/staff/numbers/add", {"numbers": "020 7946 0002\n+442079460003\n"}).status_code == 302
    with db.session() as s:
        lines = {n.e164: n for n in s.scalars(select(SafetyNumber))}
    assert set(lines) == {"+442079460002", "+442079460003"}
    # all or nothing: one bad or duplicate line adds none
    post(admin, "/staff/numbers/add", {"numbers": "+442079460004\nrubbish"})
    post(admin, "/staff/numbers/add", {"numbers": "+442079460005\n+442079460002"})
    with db.session() as s:
        assert len(s.scalars(select(SafetyNumber)).all()) == 2
    line_id = lines["+442079460002"].id
    post(admin, f"/staff/numbers/{line_id}/quarantine")
    post(admin, f"/staff/numbers/{line_id}/release")  # too soon
    with db.session() as s:
        assert s.get(SafetyNumber, line_id).status == "quarantined"  # type: ignore[union-attr]
        s.get(SafetyNumber, line_id).quarantined_at = utcnow() - timedelta(days=31)  # type: ignore[union-attr]
    assert "Release" in admin.get("/staff/numbers").get_data(as_text=True)
    post(admin, f"/staff/numbers/{line_id}/release")
    with db.session() as s:
        line = s.get(SafetyNumber, line_id)
        assert line is not None and line.status == "available" and line.quarantined_at is None


def test_assigned_number_cannot_be_quarantined_directly(db: Database, vault, admin) -> None:
    _enrolled(db, vault)
    with db.session() as s:
        line_id = s.scalars(select(SafetyNumber.id)).one()
    post(admin, f"/staff/numbers/{line_id}/quarantine")
    with db.session() as s:
        assert s.get(SafetyNumber, line_id).status == "assigned"  # type: ignore[union-attr]


def test_member_page_views_are_audited(db: Database, vault, admin) -> None:
    from storage.models import AuditEntry

    member_id = _enrolled(db, vault)
    admin.get(f"/staff/members/{member_id}")
    with db.session() as s:
        assert s.scalars(
            select(AuditEntry).where(AuditEntry.action == "member.view", AuditEntry.target_id == member_id)
        ).one()
