"""One-time staff links (issue 17, item 4): an invitation, a password reset
and a TOTP reset. Only the link's hash is stored; it works once, for 72
hours, only for an active account, and a newer one replaces it; using it
ends the account's sessions and is audited as its holder's."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from datetime import timedelta

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from ivr import services_of
from storage import staff_links
from storage.db import Database
from storage.models import Staff, StaffLink, utcnow
from storage.staff_links import LinkPurpose
from tests.staff.helpers import PASSWORD, People, csrf_from, make_staff, post
from tests.staff.staff_admin_helpers import audit_rows, shown_link, sign_in, sign_in_fails, signed_out
from tests.support.live_server import migrated_database
from tests.support.suite import PG_URL

NEW_PASSWORD = "a brand new passphrase"
DEAD = "This link does not work"


def _set_password(client: FlaskClient, link: str, new: str = NEW_PASSWORD, again: str | None = None):
    page = client.get(link)
    assert page.status_code == 200, page.get_data(as_text=True)
    form = {"new": new, "again": again if again is not None else new}
    return client.post(link, data={**form, "csrf_token": csrf_from(page.get_data(as_text=True))})


def test_an_invitation_makes_an_account_whose_holder_sets_the_password(
    inline_app: Flask, people: People, db: Database, admin, anon
) -> None:
    shown = post(admin, "/staff/staff/new", {"email": " New@Example.org ", "role": "caseworker"})
    link = shown_link(shown)
    token = link.rsplit("/", 1)[1]
    with db.session() as s:
        new = s.scalars(select(Staff).where(Staff.email == "new@example.org")).one()
        stored = s.scalars(select(StaffLink).where(StaffLink.staff_id == new.id)).one()
        assert (new.role, new.password_hash, new.active) == ("caseworker", "", True)
        # Only the hash is kept; the link lasts 72 hours.
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
        assert stored.expires_at - stored.created_at == timedelta(hours=72)
        assert stored.purpose == "invite" and stored.created_by == people.admin
    assert token not in admin.get(f"/staff/staff/{new.id}").get_data(as_text=True)
    assert "invited" in admin.get("/staff/staff").get_data(as_text=True)
    assert sign_in_fails(inline_app, "new@example.org", "")  # no password yet: nothing opens it

    done = _set_password(anon, link)
    assert done.status_code == 302 and done.headers["Location"] == "/staff/login"
    sign_in(inline_app, "new@example.org", NEW_PASSWORD)
    assert audit_rows(db, "staff.invite") == [(people.admin, new.id, "caseworker")]
    assert audit_rows(db, "staff.invite_accepted") == [(new.id, new.id, None)]
    # Used once: the same link now opens nothing, to anyone.
    again = inline_app.test_client().get(link)
    assert again.status_code == 404 and DEAD in again.get_data(as_text=True)


def test_an_invitation_for_an_existing_email_or_a_non_email_is_refused(
    people: People, db: Database, admin
) -> None:
    for email, message in (("alice@example.org", "already exist"), ("nobody", "not an email address")):
        response = post(admin, "/staff/staff/new", {"email": email, "role": "admin"})
        assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert audit_rows(db, "staff.invite") == []


def test_a_short_or_mistyped_password_leaves_the_link_usable(inline_app: Flask, admin, anon) -> None:
    link = shown_link(post(admin, "/staff/staff/new", {"email": "n@example.org", "role": "caseworker"}))
    short = _set_password(anon, link, "short", "short")
    assert short.status_code == 400 and "at least 10 characters" in short.get_data(as_text=True)
    differ = _set_password(anon, link, NEW_PASSWORD, NEW_PASSWORD + "!")
    assert differ.status_code == 400 and "differ" in differ.get_data(as_text=True)
    assert _set_password(anon, link).status_code == 302


def _issue(db: Database, staff_id: int, purpose: LinkPurpose, age: timedelta = timedelta(0)) -> str:
    with db.session() as s:
        return staff_links.issue(s, staff_id, purpose, by=None, now=utcnow() - age)


def test_an_expired_link_does_not_work(people: People, db: Database, anon) -> None:
    old = _issue(db, people.alice, LinkPurpose.PASSWORD, age=timedelta(hours=72, seconds=1))
    young = _issue(db, people.bob, LinkPurpose.PASSWORD, age=timedelta(hours=71, minutes=59))
    page = anon.get(f"/staff/link/{old}")
    assert page.status_code == 404 and DEAD in page.get_data(as_text=True)
    assert anon.get(f"/staff/link/{young}").status_code == 200


def test_a_newer_link_replaces_the_older_and_unknown_links_show_the_same_page(
    people: People, db: Database, admin, anon
) -> None:
    first = shown_link(post(admin, f"/staff/staff/{people.alice}/password-link"))
    second = shown_link(post(admin, f"/staff/staff/{people.alice}/password-link"))
    assert first != second
    assert anon.get(first).status_code == 404
    assert anon.get(second).status_code == 200
    for bogus in ("/staff/link/nonsense", "/staff/link/" + "A" * 43, "/staff/link/%C3%A9t%C3%A9"):
        response = anon.get(bogus)
        assert response.status_code == 404 and DEAD in response.get_data(as_text=True)
    assert audit_rows(db, "staff.password_link") == [(people.admin, people.alice, None)] * 2


def test_a_disabled_accounts_link_does_not_work(people: People, db: Database, admin, anon) -> None:
    link = shown_link(post(admin, f"/staff/staff/{people.bob}/password-link"))
    post(admin, f"/staff/staff/{people.bob}/disable", {"confirm": "yes"})
    assert anon.get(link).status_code == 404
    refused = post(admin, f"/staff/staff/{people.bob}/password-link", follow_redirects=True)
    assert "Enable the account first" in refused.get_data(as_text=True)


def test_a_password_reset_keeps_the_old_password_until_used_then_ends_sessions(
    inline_app: Flask, people: People, db: Database, admin, anon
) -> None:
    link = shown_link(post(admin, f"/staff/staff/{people.alice}/password-link"))
    alice = sign_in(inline_app, "alice@example.org")  # the old password still works
    with db.session() as s:  # and then she forgot it, and locked the account
        s.get_one(Staff, people.alice).failed_logins = 5
        s.get_one(Staff, people.alice).locked_until = utcnow() + timedelta(minutes=15)
    assert _set_password(anon, link).status_code == 302
    assert signed_out(alice)
    assert sign_in_fails(inline_app, "alice@example.org", PASSWORD)
    sign_in(inline_app, "alice@example.org", NEW_PASSWORD)
    assert audit_rows(db, "password.reset") == [(people.alice, people.alice, None)]
    assert inline_app.test_client().get(link).status_code == 404


@pytest.fixture
def alice_with_totp(inline_app: Flask, people: People, db: Database) -> str:
    key = pyotp.random_base32()
    with db.session() as s:
        s.get_one(Staff, people.alice).totp_secret_encrypted = services_of(inline_app).vault.cipher.encrypt(
            key
        )
    return key


def _key_on(page: str) -> str:
    start = page.index('<code class="secret">') + len('<code class="secret">')
    return page[start : page.index("</code>", start)]


def test_a_totp_reset_needs_the_password_and_a_code_of_the_new_key(
    inline_app: Flask, people: People, db: Database, admin, alice_with_totp: str
) -> None:
    link = shown_link(post(admin, f"/staff/staff/{people.alice}/totp-link"))
    holder = inline_app.test_client()
    page = holder.get(link).get_data(as_text=True)
    key = _key_on(page)
    assert key != alice_with_totp
    assert "otpauth://totp/" in page
    wrong = holder.post(
        link,
        data={"password": "not her password", "code": pyotp.TOTP(key).now(), "csrf_token": csrf_from(page)},
    )
    assert wrong.status_code == 400 and "That password did not match" in wrong.get_data(as_text=True)
    with db.session() as s:
        assert s.get_one(Staff, people.alice).failed_logins == 1  # counted as a failed sign-in
    bad_code = holder.post(link, data={"password": PASSWORD, "code": "000000", "csrf_token": csrf_from(page)})
    assert bad_code.status_code == 400
    # The same key is shown again until it is confirmed.
    assert _key_on(holder.get(link).get_data(as_text=True)) == key
    done = holder.post(
        link, data={"password": PASSWORD, "code": pyotp.TOTP(key).now(), "csrf_token": csrf_from(page)}
    )
    assert done.status_code == 302 and done.headers["Location"] == "/staff/login"
    with db.session() as s:
        stored = s.get_one(Staff, people.alice).totp_secret_encrypted
        assert stored is not None and services_of(inline_app).vault.cipher.decrypt(stored) == key
    assert audit_rows(db, "staff.totp_link") == [(people.admin, people.alice, None)]
    assert audit_rows(db, "totp.reset") == [(people.alice, people.alice, None)]
    assert holder.get(link).status_code == 404


def test_a_totp_link_needs_two_step_sign_in_on(people: People, db: Database, admin) -> None:
    refused = post(admin, f"/staff/staff/{people.bob}/totp-link", follow_redirects=True)
    assert "two-step sign-in on can have its key reset" in refused.get_data(as_text=True)
    with db.session() as s:
        assert s.scalars(select(StaffLink)).all() == []


def test_a_link_spent_by_two_requests_at_once_is_spent_once() -> None:
    """One transaction spends the link and holds its commit; another tries
    meanwhile. The second waits for the row, then finds it used: False."""
    with migrated_database(PG_URL, f"sn_link_race_{os.getpid()}", pool_size=3) as db:
        staff_id = make_staff(db, "racer@example.org")
        token = _issue(db, staff_id, LinkPurpose.PASSWORD)
        with db.session() as s:
            found = staff_links.live(s, token, utcnow())
            assert found is not None
            link_id = found[0].id
        spent, outcome = threading.Event(), {}

        def first() -> None:
            with db.session() as s:
                outcome["first"] = staff_links.use(s, link_id, utcnow())
                spent.set()
                time.sleep(0.5)

        def second() -> None:
            spent.wait(5)
            with db.session() as s:
                outcome["second"] = staff_links.use(s, link_id, utcnow())

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert outcome == {"first": True, "second": False}
