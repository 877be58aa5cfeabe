"""HSTS in production, and TRUSTED_PROXIES (issue 12, item 10): exactly that
many proxies' X-Forwarded-* headers are believed, so the per-address sign-in
limit and the audit log see the real client behind a load balancer, and a
header the client forged is believed by no setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from callflows.errors import ConfigurationError
from core.settings import load_settings
from storage.db import Database
from storage.models import AuditEntry
from tests.staff.helpers import PASSWORD, People, csrf_from

CLIENT = "203.0.113.9"
FORGED = "198.51.100.66"


def _login(client: FlaskClient, email: str, password: str, forwarded_for: str | None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    page = client.get("/staff/login", headers=headers).get_data(as_text=True)
    response = client.post(
        "/staff/login",
        data={"email": email, "password": password, "csrf_token": csrf_from(page)},
        headers=headers,
    )
    return response.status_code


def _failure_addresses(db: Database) -> list[str]:
    with db.session() as s:
        details = s.scalars(select(AuditEntry.detail).where(AuditEntry.action == "login.failed")).all()
    return [d or "" for d in details]


def test_without_trusted_proxies_a_forged_forwarded_for_is_ignored(
    make_app, db: Database, people: People
) -> None:
    app: Flask = make_app(REDIS_URL=None)
    assert _login(app.test_client(), "alice@example.org", "wrong", FORGED) == 401
    (detail,) = _failure_addresses(db)
    assert "127.0.0.1" in detail and FORGED not in detail


def test_with_one_trusted_proxy_the_client_behind_it_is_recorded(
    make_app, db: Database, people: People
) -> None:
    app: Flask = make_app(REDIS_URL=None, TRUSTED_PROXIES=1)
    # The client forged a first value; the load balancer appended the address it saw.
    assert _login(app.test_client(), "alice@example.org", "wrong", f"{FORGED}, {CLIENT}") == 401
    (detail,) = _failure_addresses(db)
    assert CLIENT in detail and FORGED not in detail and "127.0.0.1" not in detail


def test_behind_a_proxy_one_clients_failures_do_not_lock_out_the_others(
    make_app, db: Database, people: People
) -> None:
    """Without TRUSTED_PROXIES every client would share the balancer's address
    and one person's wrong passwords would lock all staff out."""
    app: Flask = make_app(REDIS_URL=None, TRUSTED_PROXIES=1, STAFF_IP_FAILURES_PER_15_MIN=3)
    attacker, colleague = app.test_client(), app.test_client()
    for i in range(3):
        assert _login(attacker, f"x{i}@example.org", "nope", CLIENT) == 401
    assert _login(attacker, "alice@example.org", PASSWORD, CLIENT) == 429
    assert _login(colleague, "alice@example.org", PASSWORD, "203.0.113.10") == 302


@pytest.mark.parametrize("text", ["²", "x", "-1", "1.5", "11", "\u0661"])
def test_trusted_proxies_must_be_a_small_ascii_count(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigurationError, match="TRUSTED_PROXIES"):
        load_settings({"TRUSTED_PROXIES": text}, tmp_path)


def test_trusted_proxies_defaults_to_none(tmp_path: Path) -> None:
    assert load_settings({}, tmp_path).trusted_proxies == 0
    assert load_settings({"TRUSTED_PROXIES": "2"}, tmp_path).trusted_proxies == 2


def test_production_answers_carry_hsts_and_development_none(app_config, db: Database) -> None:
    from ivr import create_app

    config = app_config(SAFETY_ENV="production")
    config.pop("REDIS_URL")
    production = create_app({**config, "database": db}).test_client()
    for path in ("/staff/login", "/healthz"):
        assert (
            production.get(path).headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        )
    development = create_app({**app_config(), "database": db, "REDIS_URL": None}).test_client()
    assert "Strict-Transport-Security" not in development.get("/staff/login").headers
