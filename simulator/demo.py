"""``flask --app ivr demo``: show Safety Number doing its job, offline.

On embedded defaults (SQLite in the instance folder, the in-process queue)
it resets the demo database, seeds a demo member, callers and a caseworker,
starts a local fake of Twilio's REST and media API (where the simulator
leaves recordings for the worker jobs to fetch), plays every scenario of
:mod:`simulator.scenarios` through the app and its jobs, prints the
transcripts, checks that the staff console shows the incident report with
playable audio, and then serves the app so you can sign in and look.
"""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from callflows.status import LineKind
from core.services import Services
from ivr.services import current_services, services_of
from storage import repositories as repo
from storage.migrate import upgrade
from storage.models import SafetyNumber

if TYPE_CHECKING:
    from simulator.fake_twilio import FakeTwilio

DEMO_LINE = "+442079460001"
# The members' access line: members call it, key their Safety Number and PIN.
DEMO_ACCESS_LINE = "+442079460900"
DEMO_SPARE_LINES = ("+442079460002", "+442079460003")
DEMO_MEMBER_PHONE = "+442079460123"
DEMO_MEMBER_PIN = "4821"
# A second member, whose menu the demo locks and whom it then cancels, so the
# first one is still there to try out after the demo.
DEMO_SECOND_MEMBER_PHONE = "+442079460321"
DEMO_SECOND_MEMBER_PIN = "2468"
DEMO_CALLER = "+442079460456"
# The first member's buddy, called when a check-in is missed (a London drama number).
DEMO_BUDDY = "+442079460654"
DEMO_MEMBER_DURESS_PIN = "7395"
DEMO_WARNED_CALLER = "+442079460789"
DEMO_STAFF_EMAIL = "caseworker@demo.invalid"
DEMO_STAFF_PASSWORD = "demo-password-123"  # noqa: S105 - the demo's published sign-in
# The scenario that leaves a report for the staff console check.
REPORT_SCENARIO = "incident_report"
# What the demo owns in its instance folder and removes before each run.
DEMO_STATE = ("safety.db", "safety.db-journal", "safety.db-wal", "safety.db-shm", "recordings", "mail.log")


def seed_demo(services: Services) -> None:
    """Create the demo's members, warning and caseworker unless they exist."""
    with services.db.session() as session:
        if session.scalars(select(SafetyNumber).where(SafetyNumber.e164 == DEMO_LINE)).first():
            return
        repo.add_numbers(session, [DEMO_LINE, *DEMO_SPARE_LINES])
        repo.add_numbers(session, [DEMO_ACCESS_LINE], LineKind.ACCESS)
        repo.enrol_member(
            session, services.vault, name="Ruby (demo)", phone_e164=DEMO_MEMBER_PHONE, pin=DEMO_MEMBER_PIN
        )
        repo.enrol_member(
            session,
            services.vault,
            name="Jade (demo)",
            phone_e164=DEMO_SECOND_MEMBER_PHONE,
            pin=DEMO_SECOND_MEMBER_PIN,
        )
        repo.add_warning(
            session,
            caller_index=services.vault.index(DEMO_WARNED_CALLER),
            category="threats",
            summary="Became aggressive when asked to leave.",
        )
        repo.add_staff(session, email=DEMO_STAFF_EMAIL, password=DEMO_STAFF_PASSWORD, role="caseworker")


def free_port(start: int = 5000, tries: int = 50) -> int:
    """The first port from ``start`` on that 127.0.0.1 can listen on."""
    for port in range(start, start + tries):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise click.ClickException(f"no free port between {start} and {start + tries - 1}")


def demo_folder(instance: Path) -> Path:
    """Where the demo keeps its state: never the development database itself."""
    return instance if instance.name == "demo" else instance / "demo"


def reset_demo_state(instance: Path) -> None:
    """Remove the demo database, recordings and mail log; keep the secrets."""
    for name in DEMO_STATE:
        path = instance / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def demo_app(instance: Path, port: int, twilio_api_base_url: str, token: str, account_sid: str) -> Flask:
    """The demo's own app: embedded SQLite and in-process queue, whatever the environment says."""
    from ivr import create_app

    overrides: dict[str, Any] = {
        "instance_path": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'safety.db'}",
        "REDIS_URL": None,
        "RECORDINGS_PATH": str(instance / "recordings"),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TWILIO_API_BASE_URL": twilio_api_base_url,
        "TWILIO_AUTH_TOKEN": token,
        "TWILIO_ACCOUNT_SID": account_sid,
        "SAFETY_ENV": "development",
        # The demo's fake Twilio stops with the demo: delete call records
        # there as soon as each leg completes, not five minutes later.
        "PROVIDER_RECORD_DELAY_SECONDS": 0,
    }
    return create_app(overrides)


def own_demo_numbers(fake: FakeTwilio) -> None:
    """Give the fake Twilio account the demo's numbers, as a real account owns
    the numbers it bought: Twilio places calls (check-in and buddy calls)
    only from a number of the account."""
    for e164 in (DEMO_LINE, *DEMO_SPARE_LINES, DEMO_ACCESS_LINE):
        if fake.number_by_e164(e164) is None:
            fake.add_number(e164)


@dataclass
class DemoRun:
    """What the demo played and whether everything came out as expected."""

    played: int
    failed: list[str]  # scenarios that did not come out as expected
    report_url: str | None  # the console page of the demo report, if it showed with audio
    console_problem: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed and self.console_problem is None


def run_scenarios(app: Flask, recordings: Any, verbose: bool = False, only: tuple[str, ...] = ()) -> DemoRun:
    """Play the scenarios (all, or ``only`` these) against ``app``, printing transcripts."""
    from simulator import scenarios
    from simulator.console import newest_report_with_audio
    from simulator.errors import ConsoleCheckFailed
    from simulator.harness import simulator_for

    services = services_of(app)
    cast = scenarios.Cast()
    simulator = simulator_for(app, phonebook=cast.phonebook(), recordings=recordings, strict=False)
    failed: list[str] = []
    names = scenarios.names()
    unknown = set(only) - set(names)
    if unknown:
        raise click.BadParameter(f"no scenario {', '.join(sorted(unknown))}; there are: {', '.join(names)}")
    names = [name for name in names if not only or name in only]
    for name in names:
        outcome = scenarios.play(scenarios.load(name), simulator, services, cast, app=app)
        click.echo(outcome.render(verbose))
        click.echo("")
        if not outcome.passed:
            failed.append(name)
    report_url = problem = None
    if REPORT_SCENARIO not in names:
        return DemoRun(played=len(names), failed=failed, report_url=None)
    try:
        seen = newest_report_with_audio(app, DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD)
        report_url = seen.url
        click.echo(
            f"staff console: report {seen.report_id} is in the caseworker's inbox with "
            f"{seen.audio_seconds:.0f} s of playable audio ({seen.audio_type})"
        )
    except ConsoleCheckFailed as exc:
        problem = str(exc)
        click.echo(f"staff console: {problem}", err=True)
    return DemoRun(played=len(names), failed=failed, report_url=report_url, console_problem=problem)


@click.command("demo")
@click.option("--no-serve", is_flag=True, help="Stop after the scenarios instead of serving the console.")
@click.option("--port", type=int, default=None, help="Web app port (default: 5000 or the next free one).")
@click.option("--verbose", is_flag=True, help="Also show every webhook request in the transcripts.")
@click.option("--only", multiple=True, metavar="SCENARIO", help="Play only this scenario (repeatable).")
@with_appcontext
def demo(no_serve: bool, port: int | None, verbose: bool, only: tuple[str, ...]) -> None:
    """Play the canonical call journeys offline, then serve the staff console.

    Runs on embedded defaults (SQLite, in-process queue) in a folder named
    ``demo`` (the instance folder itself if it is so named, as
    ``scripts/demo.sh`` sets it, else a ``demo`` folder inside it) and
    resets the demo's database there first, so it can be run again without
    touching any other database.
    """
    from simulator.fake_twilio import FakeTwilio
    from simulator.remote import publish_address

    launcher = current_services()
    launcher.db.engine.dispose()
    instance = demo_folder(Path(current_app.instance_path))
    instance.mkdir(parents=True, exist_ok=True)
    reset_demo_state(instance)
    port = port or free_port()
    settings = launcher.settings
    fake = FakeTwilio(settings.twilio_account_sid, settings.twilio_auth_token).start()
    try:
        app = demo_app(instance, port, fake.base_url, settings.twilio_auth_token, settings.twilio_account_sid)
        services = services_of(app)
        upgrade(services.db.engine)
        seed_demo(services)
        own_demo_numbers(fake)
        click.echo(f"demo database: {instance / 'safety.db'} (reset); jobs run in-process")
        click.echo(f"fake Twilio REST and media API: {fake.base_url}")
        click.echo(f"members' access line: {DEMO_ACCESS_LINE} (members key their Safety Number, then PIN)\n")
        run = run_scenarios(app, fake, verbose, only)
        click.echo(f"\n{run.played - len(run.failed)} of {run.played} scenarios came out as expected.")
        if run.failed:
            click.echo("NOT as expected: " + ", ".join(run.failed), err=True)
        if no_serve:
            if not run.ok:
                raise SystemExit(1)
            return
        # ``simulate --server`` from the same instance folder leaves its
        # recordings in this fake Twilio, where the demo's app fetches them.
        address = publish_address(instance, fake.base_url)
        try:
            _serve(app, port, run.report_url)
        finally:
            address.unlink(missing_ok=True)
    finally:
        fake.stop()


def _serve(app: Flask, port: int, report_url: str | None) -> None:
    from werkzeug.serving import make_server

    from ivr.schedule import start_schedule

    server = make_server("127.0.0.1", port, app, threaded=True)
    # Served, the demo is an embedded deployment: its periodic jobs run.
    start_schedule(app)
    base = f"http://127.0.0.1:{port}"
    click.echo(f"\nStaff console: {base}/staff/login")
    click.echo(f"  sign in as {DEMO_STAFF_EMAIL} / {DEMO_STAFF_PASSWORD}")
    if report_url:
        click.echo(f"  the demo report: {base}{report_url}")
    click.echo("Press Ctrl+C to stop.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.server_close()
