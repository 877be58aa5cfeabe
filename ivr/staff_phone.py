"""A staff member's own phone, as typed on the account page or to
``staff add --phone``: checked like a masked call's destination and kept
only encrypted.

It is the phone "Call the member" rings first, on the scheme's bill, so it
must be a number the service may ring at all: a UK mobile or landline (or
a region in ``MASKED_CALL_REGIONS``), never a premium, personal, service or
emergency number — a staff account must not turn into a premium-rate dialler.
"""

from __future__ import annotations

from ivr.services import current_services

REFUSED = (
    "that phone cannot be rung by the service: give a UK mobile or landline "
    "(premium, personal, service, emergency and foreign numbers are refused)"
)


def encrypted_staff_phone(typed: str) -> str:
    """The typed phone, normalised and encrypted; ``ValueError`` (with a
    sentence that never repeats the number) when it cannot be used."""
    services = current_services()
    verdict = services.settings.destination_policy.check(typed)
    if verdict.e164 is None:
        raise ValueError(REFUSED)
    return services.vault.protect(verdict.e164).token
