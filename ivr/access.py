"""Voice webhooks of the members' access line: the Safety Number keyed, then
its PIN. Thin views over ``callflows.access``.

A call to an access line is answered by ``/voice/incoming`` with the first
prompt; the keyed digits come here. Nothing about them travels in a URL:
the keyed Safety Number is kept against the call's CallSid, and every
caller gets the same prompts, the same URLs and the same single Argon2
check, whichever part of their attempt was wrong (docs/members-and-callers.md, the member menu: getting in).
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime, timedelta

from flask import Blueprint, Response, request
from sqlalchemy.orm import Session

from callflows import access as flow
from callflows import menu as menu_flow
from callflows.errors import SafetyNumberError
from callflows.languages import ENGLISH, LANGUAGE_CODES, Language, language, language_of_key
from callflows.lockout import LockoutPolicy
from callflows.phone import caller_from, normalise
from callflows.speech import speaker_for
from ivr import requestdb
from ivr.services import current_services
from ivr.webhook import external_url, never_fails, require_twilio_signature, twilio_form, twiml
from storage import access_repository as attempts
from storage import menu_repository as menus
from storage import repositories as repo
from storage.hashing import verify_secret
from storage.models import Member, utcnow

log = logging.getLogger(__name__)

bp = Blueprint("access", __name__, url_prefix="/voice/access")
bp.before_request(require_twilio_signature)

# Digits beyond this are no Safety Number; kept short of any column.
MAX_KEYED = 20


def _timeout() -> int:
    return current_services().settings.gather_timeout_seconds


def _pin_policy() -> LockoutPolicy:
    settings = current_services().settings
    return LockoutPolicy(settings.pin_max_attempts, timedelta(minutes=settings.pin_lockout_minutes))


def _keyed_line(digits: str) -> str | None:
    """The E.164 form of a keyed national number, or None for anything else."""
    if not digits.isascii() or not digits.isdigit():
        return None
    try:
        return normalise(digits, current_services().settings.default_region)
    except SafetyNumberError:
        return None


def _chosen_language() -> Language:
    """The language the caller picked on the first prompt (``lang`` in the
    signed action URL: a choice anyone can make, so it reveals nothing)."""
    code = request.args.get("lang", "")
    return language(code) if code in LANGUAGE_CODES else ENGLISH


def _action(endpoint: str, chosen: Language, **values: int) -> str:
    """An access-line step's URL, carrying the chosen language if not English."""
    if chosen is ENGLISH:
        return external_url(endpoint, **values)
    return external_url(endpoint, **values, lang=chosen.code)


@bp.post("/number")
@never_fails
def number() -> Response:
    """The first prompt's digits: a Safety Number goes on to the PIN prompt,
    whether or not it is one; a short key asks again, in the language it
    picks if it picks one; asked often enough, the call ends."""
    form = twilio_form()
    digits = form.get("Digits", "").strip()[:MAX_KEYED]
    asked = request.args.get("asked", "1")
    asked_times = int(asked) if asked in ("1", "2", "3") else flow.MAX_ASKS
    chosen = _chosen_language()
    key = flow.first_key(digits, asked_times)
    if key is flow.FirstKey.REASK:
        chosen = language_of_key(digits) or chosen
        action = _action("access.number", chosen, asked=asked_times + 1)
        return twiml(flow.ask_safety_number(action, _timeout(), chosen))
    if key is flow.FirstKey.GOODBYE:
        return twiml(flow.goodbye(chosen))
    call_sid = form.get("CallSid", "")[:64]
    if call_sid:
        session = requestdb.session()
        attempts.keep_keyed_number(session, call_sid, _keyed_line(digits), utcnow())
        session.commit()
    return twiml(flow.ask_pin(_action("access.pin", chosen), _timeout(), chosen))


@bp.post("/pin")
@never_fails
def pin() -> Response:
    """The PIN: the menu opens only for the keyed Safety Number's PIN from
    that member's registered phone; every other attempt hears the same
    "did not match" and counts where :func:`callflows.access.judge_access` says."""
    form = twilio_form()
    call_sid = form.get("CallSid", "")[:64]
    session = requestdb.session()
    now = utcnow()
    attempt = attempts.claim_attempt(session, call_sid, now) if call_sid else None
    caller = caller_from(form.get("From"), current_services().settings.default_region)
    caller_index = current_services().vault.index(caller.e164) if caller.e164 is not None else None
    member = attempt.member if attempt is not None else None
    from_member = (
        member is not None
        and member.phone_index is not None
        and caller_index is not None
        and hmac.compare_digest(caller_index, member.phone_index)
    )
    if from_member and member is not None:
        # Locked, and re-read, only for the member's own phone: strangers
        # keying a public Safety Number must not queue behind its lock.
        member = menus.member_for_update(session, member.id)
    policy = _pin_policy()
    facts = flow.AccessFacts(
        line_live=member is not None,
        from_member_phone=from_member,
        menu_locked=member is not None and policy.is_locked(menus.pin_attempts(member), now),
        caller_limited=caller_index is not None and attempts.caller_limited(session, caller_index, now),
        # One Argon2 check on every attempt, against a member's hash or none,
        # so no answer comes faster for a number that is not a member's.
        pin_matches=verify_secret(member.pin_hash if member is not None else None, form.get("Digits", "")),
    )
    outcome = flow.judge_access(facts)
    locked_now = _count(session, outcome, member, caller_index, now)
    if outcome is flow.AccessOutcome.OPEN and member is not None and attempt is not None:
        assert attempt.line is not None
        menus.keep_pin_attempts(member, policy.after_success())
        menus.open_menu_call(session, call_sid, member.id, attempt.line.id)
    if locked_now is not None:
        log.warning("member menu locked after too many wrong PINs (member %d)", locked_now)
        current_services().queue.enqueue_with(session, "pin_lockout_alert", locked_now)
    session.commit()
    log.info("access line call %s: %s", call_sid, outcome.value)
    if outcome is flow.AccessOutcome.OPEN and member is not None:
        # Past the PIN: from here on, the member's own language.
        return twiml(
            menu_flow.main_menu(speaker_for(member.language), external_url("menu.options"), _timeout())
        )
    return twiml(flow.no_match(_chosen_language()))


def _count(
    session: Session,
    outcome: flow.AccessOutcome,
    member: Member | None,
    caller_index: str | None,
    now: datetime,
) -> int | None:
    """Count a failure where it belongs; the member's id when their own
    phone's failure locked their menu (audited here, staff alerted once
    this is committed)."""
    if outcome is flow.AccessOutcome.CALLER_FAILURE and caller_index is not None:
        attempts.count_caller_failure(
            session, caller_index, now, max_failures=flow.CALLER_MAX_FAILURES, lockout=flow.CALLER_LOCKOUT
        )
    if outcome is not flow.AccessOutcome.MEMBER_FAILURE or member is None:
        return None
    failure = _pin_policy().after_failure(menus.pin_attempts(member), now)
    menus.keep_pin_attempts(member, failure.attempts)
    if not failure.locked_now:
        return None
    repo.audit(session, "member_menu_locked", target_type="member", target_id=member.id)
    return member.id
