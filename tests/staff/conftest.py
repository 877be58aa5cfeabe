"""Fixtures of the staff console tests: an app on the rolled-back test
database, an admin, two caseworkers, and signed-in clients for each."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ivr import services_of
from storage.db import Database
from tests.staff.helpers import Clock, People, make_staff, sign_in_as


@pytest.fixture
def people(db: Database) -> People:
    return People(
        admin=make_staff(db, "admin@example.org", "admin"),
        alice=make_staff(db, "alice@example.org"),
        bob=make_staff(db, "bob@example.org"),
    )


@pytest.fixture
def admin(inline_app: Flask, people: People) -> FlaskClient:
    return sign_in_as(inline_app.test_client(), people.admin)


@pytest.fixture
def alice(inline_app: Flask, people: People) -> FlaskClient:
    return sign_in_as(inline_app.test_client(), people.alice)


@pytest.fixture
def bob(inline_app: Flask, people: People) -> FlaskClient:
    return sign_in_as(inline_app.test_client(), people.bob)


@pytest.fixture
def anon(inline_app: Flask) -> FlaskClient:
    return inline_app.test_client()


@pytest.fixture
def vault(inline_app: Flask):
    return services_of(inline_app).vault


@pytest.fixture
def clock() -> Clock:
    # The start of a TOTP step, so "the next step" is exactly 30 s on.
    return Clock(1_800_000_000.0)


@pytest.fixture
def clocked_app(make_app: Callable[..., Flask], clock: Clock) -> Flask:
    """The console on the embedded queue, reading the time from ``clock``."""
    return make_app(REDIS_URL=None, clock=clock)
