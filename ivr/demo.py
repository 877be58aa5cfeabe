"""``flask --app ivr demo``: show Safety Number working on embedded defaults.

Sets up the database, seeds a demo member, caller and caseworker (once), and
shows what was set up. The local call simulator (issue 6) extends this to run
the canonical call journeys end to end.
"""

from __future__ import annotations

import click
from flask import current_app
from sqlalchemy import select

from storage import repositories as repo
from storage.migrate import upgrade
from storage.models import SafetyNumber
from worker.services import Services

DEMO_LINE = "+442079460001"
DEMO_SPARE_LINES = ("+442079460002", "+442079460003")
DEMO_MEMBER_PHONE = "+442079460123"
DEMO_MEMBER_PIN = "4821"
DEMO_CALLER = "+442079460456"
DEMO_WARNED_CALLER = "+442079460789"
DEMO_STAFF_EMAIL = "caseworker@demo.invalid"
DEMO_STAFF_PASSWORD = "demo-password-123"  # noqa: S105 - the demo's published sign-in


def seed_demo(services: Services) -> None:
    """Create the demo's member, warning and caseworker unless they exist."""
    with services.db.session() as session:
        if session.scalars(select(SafetyNumber).where(SafetyNumber.e164 == DEMO_LINE)).first():
            return
        repo.add_numbers(session, [DEMO_LINE, *DEMO_SPARE_LINES])
        repo.enrol_member(
            session, services.vault, name="Ruby (demo)", phone_e164=DEMO_MEMBER_PHONE, pin=DEMO_MEMBER_PIN
        )
        repo.add_warning(
            session,
            caller_index=services.vault.index(DEMO_WARNED_CALLER),
            category="threats",
            summary="Became aggressive when asked to leave.",
        )
        repo.add_staff(session, email=DEMO_STAFF_EMAIL, password=DEMO_STAFF_PASSWORD, role="caseworker")


@click.command("demo")
def demo() -> None:
    """Set up the demo on embedded defaults and show it."""
    services: Services = current_app.extensions["safety"]
    upgrade(services.db.engine)
    seed_demo(services)
    click.echo(f"database: {services.db.engine.url.render_as_string(hide_password=True)}")
    click.echo(f"queue: {type(services.queue).__name__}")
    with services.db.session() as session:
        for member, number in repo.list_members(session):
            click.echo(f"member {member.id}: {member.working_name}, Safety Number {number}, {member.status}")
