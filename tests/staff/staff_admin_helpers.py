"""Helpers of the staff-management tests: signing in through the real form,
the audit rows of an action, and the one-time link an admin is shown."""

from __future__ import annotations

import html
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from storage.db import Database
from storage.models import AuditEntry
from tests.staff.helpers import PASSWORD, csrf_from


def sign_in(app: Flask, email: str, password: str = PASSWORD) -> FlaskClient:
    """A browser signing in through the real form (no TOTP)."""
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    response = client.post(
        "/staff/login", data={"email": email, "password": password, "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/staff/reports", response
    assert client.get("/staff/reports").status_code == 200  # the page gives the session its CSRF secret
    return client


def sign_in_fails(app: Flask, email: str, password: str) -> bool:
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    response = client.post(
        "/staff/login", data={"email": email, "password": password, "csrf_token": csrf_from(page)}
    )
    return response.status_code == 401


def signed_out(client: FlaskClient) -> bool:
    response = client.get("/staff/reports")
    return response.status_code == 302 and response.headers["Location"].startswith("/staff/login")


def audit_rows(db: Database, action: str) -> list[tuple[int | None, int | None, str | None]]:
    """(by whom, about whom, detail) of every audit entry of ``action``, oldest first."""
    with db.session() as s:
        rows = s.execute(
            select(AuditEntry.staff_id, AuditEntry.target_id, AuditEntry.detail)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def shown_link(response: TestResponse) -> str:
    """The path of the one-time link on the page an admin is shown once."""
    assert response.status_code == 200, response.get_data(as_text=True)
    match = re.search(r'id="one-time-link">([^<]+)</code>', response.get_data(as_text=True))
    assert match, "no one-time link on the page"
    link = html.unescape(match.group(1))
    return link[link.index("/staff/link/") :]
