"""``flask --app ivr numbers sync`` and ``numbers buy``: the pool at Twilio.

These talk to Twilio through worker/twilio_adapter.py only. Safety Numbers
are the service's own public numbers, so printing them is fine; no member's
number is involved here.
"""

from __future__ import annotations

import click
from sqlalchemy import select

from callflows.errors import SafetyNumberError, TwilioResourceGone
from ivr.cli import numbers_cli
from ivr.services import current_services
from storage import repositories as repo
from storage.models import SafetyNumber
from worker.twilio_adapter import TwilioAdapter


def _adapter() -> TwilioAdapter:
    return TwilioAdapter.from_settings(current_services().settings)


@numbers_cli.command("sync")
def numbers_sync() -> None:
    """Set the four webhooks of docs/reference.md on every number in the pool: the
    app's under PUBLIC_BASE_URL, and FALLBACK_URL as "primary handler fails"."""
    services = current_services()
    with services.db.session() as session:
        pool = list(session.scalars(select(SafetyNumber.e164).order_by(SafetyNumber.id)))
    adapter = _adapter()
    base = services.settings.public_base_url
    fallback = services.settings.voice_fallback_url
    configured, missing = 0, []
    for e164 in pool:
        try:
            adapter.configure_number(e164, base, fallback)
        except TwilioResourceGone:
            missing.append(e164)
            continue
        except SafetyNumberError as exc:
            click.echo(f"{configured} number(s) configured before Twilio failed", err=False)
            raise click.ClickException(str(exc)) from exc
        configured += 1
    click.echo(f"{configured} number(s) configured with webhooks under {base}, fallback {fallback}")
    if missing:
        raise click.ClickException("not on this Twilio account: " + ", ".join(missing))


@numbers_cli.command("buy")
@click.option("--area-code", required=True, help="UK area code without the leading 0, e.g. 20 for London.")
def numbers_buy(area_code: str) -> None:
    """Buy a local number in AREA_CODE at Twilio, webhooks set, and add it to the pool."""
    # Accept "020" as well as "20": Twilio wants it without the trunk 0.
    area_code = area_code.strip().removeprefix("0")
    if not area_code.isdigit():
        raise click.ClickException("the area code is digits only, e.g. 20 for London")
    services = current_services()
    try:
        settings = services.settings
        bought = _adapter().buy_number(area_code, settings.public_base_url, settings.voice_fallback_url)
    except SafetyNumberError as exc:
        raise click.ClickException(str(exc)) from exc
    with services.db.session() as session:
        repo.add_numbers(session, [bought.e164])
    click.echo(f"bought {bought.e164} and added it to the pool")
