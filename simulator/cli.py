"""``flask --app ivr simulate call|sms``: place a simulated call or text.

The transcript is printed as the call happens. Numbers are masked to their
last three digits, except the service's own Safety Numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from callflows.errors import SafetyNumberError
from callflows.phone import normalise
from core.services import Services
from ivr.services import current_services
from simulator.engine import RecordingHost, Simulator
from simulator.errors import ScriptError, SimulationError
from simulator.harness import app_with, simulator_for
from simulator.keypad import Callee, Keypad, PromptingKeypad, ScriptedKeypad
from simulator.transcript import Line, Phonebook, is_address, is_withheld
from simulator.transport import OverHttp
from storage import repositories as repo
from storage.models import SafetyNumber

simulate_cli = AppGroup("simulate", help="Place simulated Twilio calls and texts against this app, offline.")

DIGITS_HELP = (
    "Keys for each Gather the caller meets, comma-separated: '4821#,1'. "
    "An empty item is silence; 'hangup' hangs up. Without it you are asked at each Gather."
)
ANSWER_HELP = (
    "What the dialled phone does: keys for its whisper ('1' accept, '2' decline), 'none' "
    "(answers, presses nothing), 'busy', 'no-answer' or 'failed'. Asked when --digits is not given either."
)
SERVER_HELP = "URL of a running server to call over HTTP (default: this app, in-process)."


def _number(raw: str, region: str) -> str:
    """A phone number as E.164; a withheld form or a SIP/Client address as typed."""
    if is_withheld(raw) or is_address(raw):
        return raw.strip() or "anonymous"
    try:
        return normalise(raw, region)
    except SafetyNumberError as exc:
        raise click.BadParameter(str(exc)) from exc


def _phonebook(services: Services, caller: str) -> Phonebook:
    """Safety Numbers shown in full; the member's phone named; the rest masked."""
    with services.db.session() as session:
        public = set(session.scalars(select(SafetyNumber.e164)))

    def lookup(number: str) -> str | None:
        if is_withheld(number) or is_address(number):
            return None
        with services.db.session() as session:
            return "member" if repo.member_by_phone(session, services.vault, number) else None

    labels = {} if lookup(caller) else {caller: "caller"}
    return Phonebook(labels=labels, public=public, lookup=lookup)


def _prompt(text: str) -> str:
    return str(click.prompt(text, default="", show_default=False))


def _warn(message: str) -> None:
    click.echo(f"  ({message})", err=True)


@contextmanager
def _simulator(server: str | None, verbose: bool, caller: str) -> Iterator[Simulator]:
    """A simulator in front of this app, with a fake Twilio holding recordings.

    In-process, a copy of the app is built with ``TWILIO_API_BASE_URL``
    pointing at the fake, so recording jobs fetch from it. Over HTTP to the
    running demo (the same instance folder), recordings and call legs go to
    the demo's own fake Twilio, where its app fetches them (simulator/remote.py).
    """
    from simulator.fake_twilio import FakeTwilio
    from simulator.remote import RemoteTwilio, published_address

    services = current_services()
    settings = services.settings
    fake = FakeTwilio(settings.twilio_account_sid, settings.twilio_auth_token).start()
    try:
        app: Flask = app_with(current_app, twilio_api_base_url=fake.base_url)
        transport = None
        host: RecordingHost = fake
        if server:
            demo_twilio = published_address(Path(current_app.instance_path))
            # The demo's public URL is the address it serves on (whatever
            # port it found free); another server's is PUBLIC_BASE_URL.
            public = server.rstrip("/") if demo_twilio else settings.public_base_url
            transport = OverHttp(server, public, settings.twilio_auth_token)
            if demo_twilio:
                host = RemoteTwilio(demo_twilio, settings.twilio_account_sid, settings.twilio_auth_token)
            else:
                click.echo(
                    f"(recordings are served by a fake Twilio at {fake.base_url}, which stops with this "
                    "command: start the server with TWILIO_API_BASE_URL pointing there, or call the demo "
                    "with the demo's SAFETY_INSTANCE_PATH)",
                    err=True,
                )
        simulator = simulator_for(
            app,
            phonebook=_phonebook(services, caller),
            recordings=host,
            transport=transport,
            run_jobs=server is None,
            strict=False,
        )
        simulator.transcript.listener = lambda line: _echo(line, verbose)
        yield simulator
    finally:
        fake.stop()


def _echo(line: Line, verbose: bool) -> None:
    if verbose or line.kind != "request":
        click.echo(line.render())


@simulate_cli.command("call")
@click.option(
    "--from",
    "from_",
    required=True,
    help="The calling phone (national or E.164), a withheld form ('anonymous', '+266696687' …) or sip:…",
)
@click.option("--to", required=True, help="The Safety Number called.")
@click.option("--digits", default=None, help=DIGITS_HELP)
@click.option("--answer", default=None, help=ANSWER_HELP)
@click.option("--talk-seconds", default=42, show_default=True, help="How long a connected call lasts.")
@click.option("--server", default=None, help=SERVER_HELP)
@click.option("--verbose", is_flag=True, help="Also show every webhook request.")
def simulate_call(
    from_: str,
    to: str,
    digits: str | None,
    answer: str | None,
    talk_seconds: int,
    server: str | None,
    verbose: bool,
) -> None:
    """Call a Safety Number and print who hears what, who presses what, how it ends."""
    region = current_services().settings.default_region
    caller, line = _number(from_, region), _number(to, region)
    interactive = digits is None
    try:
        keypad: Keypad = PromptingKeypad(_prompt, _warn) if interactive else ScriptedKeypad.of(digits)
        if answer is None and interactive:
            callee = Callee(keypad=PromptingKeypad(_prompt, _warn), talk_seconds=talk_seconds)
        else:
            callee = Callee.parse(answer, talk_seconds=talk_seconds)
    except ScriptError as exc:
        raise click.BadParameter(str(exc)) from exc
    with _simulator(server, verbose, caller) as simulator:
        try:
            result = simulator.call(caller, line, keypad, callee)
        except SimulationError as exc:  # only in strict mode; kept for safety
            raise click.ClickException(str(exc)) from exc
    if result.errors:
        raise click.ClickException(f"{len(result.errors)} problem(s): " + "; ".join(result.errors))


@simulate_cli.command("sms")
@click.option("--from", "from_", required=True, help="The texting phone.")
@click.option("--to", required=True, help="The Safety Number texted.")
@click.option("--body", required=True, help="The message (sent to the app, never printed).")
@click.option("--server", default=None, help=SERVER_HELP)
@click.option("--verbose", is_flag=True, help="Also show the webhook request.")
def simulate_sms(from_: str, to: str, body: str, server: str | None, verbose: bool) -> None:
    """Text a Safety Number and show what happens to the message."""
    region = current_services().settings.default_region
    sender, line = _number(from_, region), _number(to, region)
    with _simulator(server, verbose, sender) as simulator:
        result = simulator.sms(sender, line, body)
    if result.errors:
        raise click.ClickException(f"{len(result.errors)} problem(s): " + "; ".join(result.errors))
