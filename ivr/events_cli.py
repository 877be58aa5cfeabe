"""``flask --app ivr events …``: the work events admins must see.

An event that failed on every attempt is not retried again by itself; it
stays in the table, marked failed, with its exception's type (never its
message, which may quote a row). These commands list such events — ids
only: the event's id, job, the ids it carries, attempts, error type — and
put one back to do once its cause is fixed (a Twilio outage, a full disk).
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ivr.services import current_services
from storage import events

events_cli = AppGroup("events", help="Work events (what webhooks and jobs leave for later).")


@events_cli.command("failed")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
def events_failed(limit: int) -> None:
    """List events given up on, newest first: id, job, ids, attempts, error type."""
    with current_services().db.session() as session:
        failed = events.failed(session, limit)
        for event in failed:
            ids = " ".join(str(arg) for arg in event.args)
            click.echo(
                f"{event.id}\t{event.job}\t{ids}\t{event.attempts} attempts\t"
                f"{event.last_error or '-'}\t{event.failed_at:%Y-%m-%d %H:%M} UTC"
            )
    if not failed:
        click.echo("No failed events.")


@events_cli.command("retry")
@click.argument("event_id", type=click.IntRange(1, 2147483647))
def events_retry(event_id: int) -> None:
    """Put failed event EVENT_ID back to do, and ring for it now."""
    services = current_services()
    with services.db.session() as session:
        if not events.retry(session, event_id):
            raise click.ClickException(f"event {event_id} is not a failed event")
    services.queue.ring(event_id)
    click.echo(f"event {event_id} queued again")
