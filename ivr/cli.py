"""Provisioning commands: ``flask --app ivr <group> <command>``.

Every command either succeeds completely or writes nothing and exits
non-zero with a clear message on stderr. No command prints a real number.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from callflows.checkin import check_buddy
from callflows.errors import SafetyNumberError, UnknownMember
from callflows.languages import ENGLISH, LANGUAGE_CODES
from callflows.phone import normalise
from callflows.sanitise import forbidden_characters
from callflows.status import LineKind
from core.services import recording_store
from ivr.cli_text import ONE_LINE, refusal
from ivr.services import current_services
from ivr.staff_phone import encrypted_staff_phone
from storage import checkins, staff_accounts
from storage import repositories as repo
from storage.migrate import upgrade
from storage.models import CATEGORIES, Checkin, Member, Staff

db_cli = AppGroup("db", help="Database schema.")
numbers_cli = AppGroup("numbers", help="The pool of Safety Numbers.")
members_cli = AppGroup("members", help="Members of the scheme.")
warnings_cli = AppGroup("warnings", help="Warnings about callers.")
staff_cli = AppGroup("staff", help="Caseworkers and admins.")
keys_cli = AppGroup("keys", help="Encryption keys.")
checkins_cli = AppGroup("checkins", help="Members' check-in timers.")


def _number(raw: str) -> str:
    """Normalise a number typed by an operator, or fail with a clear message."""
    try:
        return normalise(raw, current_services().settings.default_region)
    except SafetyNumberError as exc:
        raise click.ClickException(f"{exc} (check the number and try again)") from exc


Row = TypeVar("Row")


def _print_table(rows: Callable[[Session], Iterable[Row]], header: str, line: Callable[[Row], str]) -> None:
    """Print ``header``, then a ``line`` for each of the ``rows`` read in one session."""
    with current_services().db.session() as session:
        found = rows(session)
        click.echo(header)
        for row in found:
            click.echo(line(row))


@contextmanager
def _writing() -> Iterator[Session]:
    """A session committed at the end of the block; a refused input rolls it
    back and becomes a clear message and a non-zero exit (docs/reference.md)."""
    try:
        with current_services().db.session() as session:
            yield session
    except (SafetyNumberError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations up to the newest."""
    upgrade(current_services().db.engine)
    click.echo("database is up to date")


@numbers_cli.command("add")
@click.option(
    "--access",
    is_flag=True,
    help="Add members' access lines (given to members only) instead of Safety Numbers.",
)
@click.argument("numbers", nargs=-1, required=True)
def numbers_add(numbers: tuple[str, ...], access: bool) -> None:
    """Add Twilio numbers to the pool of free Safety Numbers, or with
    --access as members' access lines, through which members reach their menu."""
    normalised = [_number(n) for n in numbers]
    kind = LineKind.ACCESS if access else LineKind.SAFETY
    with _writing() as session:
        lines = repo.add_numbers(session, normalised, kind)
    for line in lines:
        click.echo(f"added {line.e164}" + (" as a members' access line" if access else ""))


@members_cli.command("enrol")
@click.option("--name", required=True, type=ONE_LINE, help="The member's working name.")
@click.option("--phone", required=True, help="The member's real phone (national or E.164).")
@click.option("--pin", required=True, help="Menu PIN, digits only.")
@click.option(
    "--language",
    type=click.Choice(LANGUAGE_CODES),
    default=ENGLISH.code,
    show_default=True,
    help="The language the member hears (whisper, menu, confirmations).",
)
@click.option(
    "--duress-pin", help="Keyed on a check-in call instead of the PIN: sounds the same, raises the alarm."
)
@click.option("--buddy", help="Phone called when a check-in is missed (UK, not premium or emergency).")
def members_enrol(
    name: str, phone: str, pin: str, language: str, duress_pin: str | None, buddy: str | None
) -> None:
    """Create a member, assign a free Safety Number and print it."""
    services = current_services()
    phone_e164 = _number(phone)
    with _writing() as session:
        buddy_e164 = (
            None if buddy is None else check_buddy(services.settings.destination_policy, buddy, phone_e164)
        )
        member, line = repo.enrol_member(
            session,
            services.vault,
            name=name,
            phone_e164=phone_e164,
            pin=pin,
            pin_min_length=services.settings.pin_min_length,
            language=language,
            duress_pin=duress_pin,
            buddy_e164=buddy_e164,
        )
        number = line.e164
        member_id = member.id
    click.echo(f"member {member_id} enrolled; Safety Number {number}")


@members_cli.command("list")
def members_list() -> None:
    """Id, working name, Safety Number and status of each member."""

    def line(row: tuple[Member, str | None]) -> str:
        member, number = row
        name = member.working_name or "(erased)"
        return f"{member.id:>5}  {name:<24} {number or '-':<16} {member.status}"

    _print_table(repo.list_members, f"{'id':>5}  {'name':<24} {'safety number':<16} status", line)


@members_cli.command("cancel")
@click.argument("member")
def members_cancel(member: str) -> None:
    """Cancel MEMBER (id or registered phone): erase their data, quarantine the number."""
    services = current_services()
    with _writing() as session:
        found: Member | None
        if member.isdigit() and len(member) < 10:
            found = repo.active_member(session, int(member))
        else:
            found = repo.member_by_phone(session, services.vault, _number(member))
        if found is None:
            raise UnknownMember("no active member with that phone")
        member_id = found.id
        repo.cancel_member(session, found, recording_store(services))
    # Their calls, blocks and reports no longer count towards risk signals.
    services.queue.enqueue("compute_signals")
    click.echo(f"member {member_id} cancelled; personal data erased, number quarantined")


@checkins_cli.command("list")
def checkins_list() -> None:
    """Open check-in timers: id, member id, due time (UTC), state — never a number."""

    def line(row: Checkin) -> str:
        due = row.due_at.strftime("%Y-%m-%d %H:%M")
        return f"{row.id:>5}  {row.member_id:>6}  {due:<16}  {row.attempts:>5}  {row.state}"

    header = f"{'id':>5}  {'member':>6}  {'due (UTC)':<16}  {'calls':>5}  state"
    _print_table(checkins.open_checkins, header, line)


@warnings_cli.command("add")
@click.option("--number", required=True, help="The caller's number.")
@click.option("--category", required=True, type=click.Choice(CATEGORIES))
@click.option(
    "--summary", required=True, type=ONE_LINE, help="Short text read to members; numbers are removed."
)
def warnings_add(number: str, category: str, summary: str) -> None:
    """Add a warning about a caller."""
    services = current_services()
    index = services.vault.index(_number(number))
    with _writing() as session:
        warning = repo.add_warning(session, caller_index=index, category=category, summary=summary)
        warning_id = warning.id
    click.echo(f"warning {warning_id} added ({category})")


def _read_password() -> str:
    """A password from a prompt (typed twice) or the first line of stdin."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    found = forbidden_characters(password, multiline=False)
    if found:
        raise click.ClickException(f"the password {refusal(found)}")
    return str(password)


@staff_cli.command("add")
@click.option("--email", required=True, type=ONE_LINE)
@click.option("--role", required=True, type=click.Choice(["caseworker", "admin"]))
@click.option(
    "--phone",
    default=None,
    help="The staff member's own phone (UK mobile or landline), rung first by masked calls to members.",
)
def staff_add(email: str, role: str, phone: str | None) -> None:
    """Create a staff account; the password comes from a prompt or stdin."""
    try:
        phone_encrypted = encrypted_staff_phone(phone) if phone is not None else None
    except ValueError as exc:
        raise click.ClickException(f"--phone: {exc}") from exc
    password = _read_password()
    with _writing() as session:
        staff = repo.add_staff(
            session, email=email, password=password, role=role, phone_encrypted=phone_encrypted
        )
        staff_id = staff.id
    click.echo(f"staff {staff_id} added ({role})" + (", with a phone for calls to members" if phone else ""))


def _staff_id(email: str) -> int:
    """The id of the staff account with this email, or fail with a clear message."""
    with current_services().db.session() as session:
        staff_id = session.scalar(select(Staff.id).where(Staff.email == email.strip().lower()))
    if staff_id is None:
        raise click.ClickException("no staff account with that email")
    return staff_id


@contextmanager
def _last_admin_kept() -> Iterator[None]:
    """The last active admin's role or account is not taken away: a clear
    refusal (exit 1) rather than a traceback; nothing was changed."""
    try:
        yield
    except staff_accounts.LastActiveAdmin as exc:
        raise click.ClickException(str(exc)) from exc


@staff_cli.command("password")
@click.option("--email", required=True, type=ONE_LINE)
def staff_password(email: str) -> None:
    """Set a new password (from a prompt or stdin); every session of the account ends."""
    staff_id = _staff_id(email)
    password = _read_password()
    with _writing() as session:
        staff_accounts.change_password(session, staff_id, password)
        repo.audit(session, "password.reset", target_type="staff", target_id=staff_id)
    click.echo(f"staff {staff_id}: password changed, signed out everywhere")


@staff_cli.command("role")
@click.option("--email", required=True, type=ONE_LINE)
@click.option("--role", required=True, type=click.Choice(["caseworker", "admin"]))
def staff_role(email: str, role: str) -> None:
    """Give a staff account another role; every session of the account ends."""
    staff_id = _staff_id(email)
    with _last_admin_kept(), current_services().db.session() as session:
        staff_accounts.change_role(session, staff_id, role)
        repo.audit(session, "staff.role", target_type="staff", target_id=staff_id, detail=role)
    click.echo(f"staff {staff_id}: now {role}, signed out everywhere")


@staff_cli.command("disable")
@click.option("--email", required=True, type=ONE_LINE)
def staff_disable(email: str) -> None:
    """Disable a staff account: it cannot sign in, and every session of it ends at once."""
    staff_id = _staff_id(email)
    with _last_admin_kept(), current_services().db.session() as session:
        staff_accounts.set_active(session, staff_id, False)
        repo.audit(session, "staff.disable", target_type="staff", target_id=staff_id)
    click.echo(f"staff {staff_id}: disabled, signed out everywhere")


@staff_cli.command("on-call")
@click.option("--email", required=True, type=ONE_LINE)
@click.option("--off", is_flag=True, help="Take the account off call.")
def staff_on_call(email: str, off: bool) -> None:
    """Put a staff account on call for check-in alarms and risk signals (each emailed), or --off."""
    staff_id = _staff_id(email)
    with current_services().db.session() as session:
        staff = session.get_one(Staff, staff_id)
        staff.on_call = not off
        repo.audit(session, "staff.on_call", target_type="staff", target_id=staff_id, detail=str(not off))
    click.echo(f"staff {staff_id}: {'off call' if off else 'on call for check-in alarms and risk signals'}")


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored number and recording under the newest of SAFETY_DATA_KEYS."""
    from core.services import recording_store
    from storage.models import RecordingState, Report

    services = current_services()
    with services.db.session() as session:
        result = repo.rotate_encrypted_fields(session, services.vault.cipher)
        keys = session.scalars(
            select(Report.recording_path).where(
                Report.recording_state == RecordingState.STORED, Report.recording_path.is_not(None)
            )
        ).all()
    store = recording_store(services)
    files = sum(store.rotate(key) for key in keys if key and store.exists(key))
    click.echo(f"re-encrypted {result.rotated} field(s); {result.already_current} already current")
    click.echo(f"re-encrypted {files} recording(s) of {len(keys)}")


@click.command("fallback-twiml")
def fallback_twiml() -> None:
    """Print the static fallback TwiML document to host at FALLBACK_URL.

    A calm apology, then hang up: the same words as the app's own
    /voice/fallback, and nothing that depends on the call (no number, no
    state), so it can be served as a plain file from hosting that stays up
    when the app is down (docs/operations.md, "The fallback document").
    """
    from ivr.twiml_text import render
    from ivr.webhook import apology

    click.echo(render(apology()))


def register(app: Flask) -> None:
    from ivr import numbers_cli as _numbers_at_twilio  # noqa: F401  (adds numbers sync/buy)
    from ivr.events_cli import events_cli

    # `simulate` and `demo` reach `flask --app ivr` through Flask's
    # `flask.commands` entry points (setup.cfg), not from here.
    for group in (db_cli, numbers_cli, members_cli, warnings_cli, staff_cli, keys_cli, checkins_cli):
        app.cli.add_command(group)
    app.cli.add_command(events_cli)
    app.cli.add_command(fallback_twiml)
