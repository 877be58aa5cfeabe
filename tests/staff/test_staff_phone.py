"""A staff member's own phone (issue 16): set with ``staff add --phone`` or
on the account page, kept only encrypted, shown by its last three digits,
refused when the service may not ring it (premium, foreign, emergency)."""

from __future__ import annotations

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from storage.db import Database
from storage.models import AuditEntry, Staff
from storage.vault import NumberVault
from tests.leak_scan import number_forms
from tests.staff.helpers import People, post

PHONE = "07911 123456"
E164 = "+447911123456"


def _staff_add(app: Flask, phone: str) -> Result:
    """``flask --app ivr staff add … --phone PHONE``, the password on stdin."""
    runner: FlaskCliRunner = app.test_cli_runner()
    return runner.invoke(
        args=["staff", "add", "--email", "case@example.org", "--role", "caseworker", "--phone", phone],
        input="correct horse battery\n",
    )


def _staff(db: Database, staff_id: int) -> Staff:
    with db.session() as s:
        return s.get_one(Staff, staff_id)


def test_staff_add_with_a_phone_keeps_it_encrypted(
    inline_app: Flask, db: Database, vault: NumberVault
) -> None:
    result = _staff_add(inline_app, PHONE)
    assert result.exit_code == 0, result.output
    assert "with a phone for calls to members" in result.output
    for form in number_forms(E164):
        assert form not in result.output
    with db.session() as s:
        staff = s.scalars(select(Staff).where(Staff.email == "case@example.org")).one()
        assert staff.phone_encrypted is not None and E164 not in staff.phone_encrypted
        assert vault.reveal(staff.phone_encrypted) == E164


@pytest.mark.parametrize("phone", ["09065 123456", "999", "+1 212 555 0100", "not a number", "07700 900123"])
def test_staff_add_refuses_a_phone_the_service_may_not_ring(
    inline_app: Flask, db: Database, phone: str
) -> None:
    result = _staff_add(inline_app, phone)
    assert result.exit_code != 0
    assert "--phone: that phone cannot be rung by the service" in result.output
    with db.session() as s:
        assert s.scalars(select(Staff).where(Staff.email == "case@example.org")).first() is None


def test_the_account_page_sets_and_removes_ones_phone(
    alice: FlaskClient, people: People, db: Database, vault: NumberVault
) -> None:
    assert "not set" in alice.get("/staff/account").get_data(as_text=True)
    response = post(alice, "/staff/account/phone", {"phone": PHONE})
    assert response.status_code == 302
    token = _staff(db, people.alice).phone_encrypted
    assert token is not None and vault.reveal(token) == E164
    page = alice.get("/staff/account").get_data(as_text=True)
    assert "ending …456" in page
    for form in number_forms(E164):
        assert form not in page

    assert post(alice, "/staff/account/phone", {"phone": ""}).status_code == 302
    assert _staff(db, people.alice).phone_encrypted is None
    with db.session() as s:
        details = [e.detail for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "staff.phone"))]
    assert details == ["set", "removed"]


def test_the_account_page_refuses_a_premium_number(alice: FlaskClient, people: People, db: Database) -> None:
    response = post(alice, "/staff/account/phone", {"phone": "09065 123456"})
    assert response.status_code == 400
    assert "Not changed: that phone cannot be rung by the service" in response.get_data(as_text=True)
    assert _staff(db, people.alice).phone_encrypted is None
