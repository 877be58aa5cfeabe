"""Staff management by admins (issue 17, item 4): who may, what each action
changes, that it is audited and confirmed, and that the last active admin
keeps both the role and the account, even against a parallel change."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask

from ivr.staff_phone import encrypted_staff_phone
from storage import staff_accounts
from storage.db import Database
from storage.models import Staff
from tests.staff.helpers import People, make_staff, post
from tests.staff.staff_admin_helpers import audit_rows, sign_in, signed_out
from tests.support.live_server import migrated_database
from tests.support.suite import PG_URL

PAGES = ["/staff/staff", "/staff/staff/new", "/staff/staff/{alice}"]
ACTIONS = [
    "/staff/staff/new",
    "/staff/staff/{alice}/role",
    "/staff/staff/{alice}/on-call",
    "/staff/staff/{alice}/disable",
    "/staff/staff/{alice}/enable",
    "/staff/staff/{alice}/password-link",
    "/staff/staff/{alice}/totp-link",
]


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_for_admins_only(path: str, people: People, anon, alice, admin) -> None:
    url = path.format(alice=people.alice)
    assert admin.get(url).status_code == 200
    assert alice.get(url).status_code == 403
    anonymous = anon.get(url)
    assert anonymous.status_code == 302 and "/staff/login" in anonymous.headers["Location"]


@pytest.mark.parametrize("path", ACTIONS)
def test_actions_are_refused_to_caseworkers_and_without_csrf(
    path: str, people: People, db: Database, anon, alice, admin
) -> None:
    url = path.format(alice=people.alice)
    form = {"confirm": "yes", "role": "admin", "on_call": "yes", "email": "new@example.org"}
    assert post(alice, url, form).status_code == 403
    assert admin.post(url, data=form).status_code == 400  # no CSRF token
    anonymous = anon.post(url, data=form)
    assert anonymous.status_code == 302 and "/staff/login" in anonymous.headers["Location"]
    with db.session() as s:
        me = s.get_one(Staff, people.alice)
        assert (me.role, me.active, me.on_call) == ("caseworker", True, False)
        assert s.query(Staff).filter_by(email="new@example.org").count() == 0


def test_the_list_shows_every_account_and_phones_by_their_last_digits_only(
    inline_app: Flask, people: People, db: Database, admin
) -> None:
    with inline_app.app_context(), db.session() as s:
        s.get_one(Staff, people.bob).phone_encrypted = encrypted_staff_phone("07911 123456")
        s.get_one(Staff, people.bob).on_call = True
    listing = admin.get("/staff/staff").get_data(as_text=True)
    for email in ("admin@example.org", "alice@example.org", "bob@example.org"):
        assert email in listing
    assert "…456" in listing
    page = admin.get(f"/staff/staff/{people.bob}").get_data(as_text=True)
    assert "ending …456" in page
    for shown in (listing, page):
        assert "123456" not in shown and "7911" not in shown


def test_a_role_change_is_confirmed_audited_and_signs_the_account_out(
    inline_app: Flask, people: People, db: Database, admin
) -> None:
    alice = sign_in(inline_app, "alice@example.org")
    unconfirmed = post(admin, f"/staff/staff/{people.alice}/role", {"role": "admin"}, follow_redirects=True)
    assert "tick the box to confirm" in unconfirmed.get_data(as_text=True)
    with db.session() as s:
        assert s.get_one(Staff, people.alice).role == "caseworker"
    assert not signed_out(alice)
    done = post(
        admin, f"/staff/staff/{people.alice}/role", {"role": "admin", "confirm": "yes"}, follow_redirects=True
    )
    assert "alice@example.org is now admin" in done.get_data(as_text=True)
    with db.session() as s:
        assert s.get_one(Staff, people.alice).role == "admin"
    assert signed_out(alice)
    assert audit_rows(db, "staff.role") == [(people.admin, people.alice, "admin")]


def test_a_role_that_does_not_exist_is_refused(people: People, db: Database, admin) -> None:
    response = post(admin, f"/staff/staff/{people.alice}/role", {"role": "owner", "confirm": "yes"})
    assert response.status_code == 400
    assert audit_rows(db, "staff.role") == []


def test_on_call_is_set_and_cleared_and_audited(people: People, db: Database, admin) -> None:
    post(admin, f"/staff/staff/{people.bob}/on-call", {"on_call": "yes"})
    with db.session() as s:
        assert s.get_one(Staff, people.bob).on_call is True
    post(admin, f"/staff/staff/{people.bob}/on-call", {"on_call": ""})
    with db.session() as s:
        assert s.get_one(Staff, people.bob).on_call is False
    assert audit_rows(db, "staff.on_call") == [
        (people.admin, people.bob, "on"),
        (people.admin, people.bob, "off"),
    ]


def test_disable_is_confirmed_ends_sessions_and_enable_lets_them_back(
    inline_app: Flask, people: People, db: Database, admin
) -> None:
    bob = sign_in(inline_app, "bob@example.org")
    post(admin, f"/staff/staff/{people.bob}/disable")
    with db.session() as s:
        assert s.get_one(Staff, people.bob).active is True
    assert not signed_out(bob)
    post(admin, f"/staff/staff/{people.bob}/disable", {"confirm": "yes"})
    with db.session() as s:
        assert s.get_one(Staff, people.bob).active is False
    assert signed_out(bob)
    listing = admin.get("/staff/staff").get_data(as_text=True)
    assert "disabled" in listing
    post(admin, f"/staff/staff/{people.bob}/enable")
    sign_in(inline_app, "bob@example.org")  # the password he had
    assert audit_rows(db, "staff.disable") == [(people.admin, people.bob, None)]
    assert audit_rows(db, "staff.enable") == [(people.admin, people.bob, None)]


def test_the_last_active_admin_can_be_neither_demoted_nor_disabled(
    people: People, db: Database, admin
) -> None:
    demote = post(
        admin,
        f"/staff/staff/{people.admin}/role",
        {"role": "caseworker", "confirm": "yes"},
        follow_redirects=True,
    )
    assert "Not changed: this is the last active admin" in demote.get_data(as_text=True)
    disable = post(admin, f"/staff/staff/{people.admin}/disable", {"confirm": "yes"}, follow_redirects=True)
    assert "Not disabled: this is the last active admin" in disable.get_data(as_text=True)
    with db.session() as s:
        me = s.get_one(Staff, people.admin)
        assert (me.role, me.active) == ("admin", True)
    assert audit_rows(db, "staff.role") == audit_rows(db, "staff.disable") == []
    # A disabled admin does not count: with a second admin disabled, still the last.
    other = make_staff(db, "other-admin@example.org", "admin", active=False)
    assert "last active admin" in post(
        admin, f"/staff/staff/{people.admin}/disable", {"confirm": "yes"}, follow_redirects=True
    ).get_data(as_text=True)
    # Once another admin is active, either may go.
    post(admin, f"/staff/staff/{other}/enable")
    post(admin, f"/staff/staff/{people.admin}/role", {"role": "caseworker", "confirm": "yes"})
    with db.session() as s:
        assert s.get_one(Staff, people.admin).role == "caseworker"


def test_the_cli_keeps_the_last_active_admin_too(inline_app: Flask, people: People, db: Database) -> None:
    runner = inline_app.test_cli_runner()
    demote = runner.invoke(args=["staff", "role", "--email", "admin@example.org", "--role", "caseworker"])
    disable = runner.invoke(args=["staff", "disable", "--email", "admin@example.org"])
    for result in (demote, disable):
        assert result.exit_code == 1 and "last active admin" in result.output, result.output
        assert "Traceback" not in result.output
    with db.session() as s:
        me = s.get_one(Staff, people.admin)
        assert (me.role, me.active) == ("admin", True)


@pytest.fixture
def two_admins_db() -> Iterator[tuple[Database, int, int]]:
    """A database of its own whose commits are real, with two active admins only."""
    with migrated_database(PG_URL, f"sn_last_admin_{os.getpid()}", pool_size=3) as db:
        ids = [make_staff(db, f"admin{n}@example.org", "admin") for n in (1, 2)]
        yield db, ids[0], ids[1]


def test_two_admins_taken_away_at_once_leave_one(two_admins_db: tuple[Database, int, int]) -> None:
    """One transaction demotes admin 1 and holds its commit; meanwhile another
    disables admin 2. Without the row lock the second would still count two
    admins and both would succeed, leaving none; with it, the second waits,
    then sees admin 1 gone and is refused."""
    db, first, second = two_admins_db
    locked, outcome = threading.Event(), {}

    def demote_first() -> None:
        with db.session() as s:
            staff_accounts.change_role(s, first, "caseworker")
            locked.set()
            time.sleep(0.5)  # hold the lock while the other transaction runs

    def disable_second() -> None:
        locked.wait(5)
        try:
            with db.session() as s:
                staff_accounts.set_active(s, second, False)
            outcome["second"] = "disabled"
        except staff_accounts.LastActiveAdmin:
            outcome["second"] = "refused"

    threads = [threading.Thread(target=demote_first), threading.Thread(target=disable_second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert outcome == {"second": "refused"}
    with db.session() as s:
        admins = s.query(Staff).filter_by(role="admin", active=True).all()
        assert [a.id for a in admins] == [second]


@pytest.mark.parametrize("staff_id", ["2147483648", "99999999999999999999", "\u0663"])
def test_an_id_past_the_columns_range_or_not_ascii_is_not_found(staff_id: str, admin) -> None:
    assert admin.get(f"/staff/staff/{staff_id}").status_code == 404
    assert post(admin, f"/staff/staff/{staff_id}/disable", {"confirm": "yes"}).status_code == 404
