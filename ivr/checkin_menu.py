"""The member menu's check-in options (5, 6 and 7): start a check-in timer,
end it, and set the duress PIN and buddy. Thin views over ``callflows.checkin``.

Every step is a :func:`ivr.menu.menu_step`: it needs the call to have passed
the access line, and gets the neutral "not available" otherwise. Nothing
keyed here travels in a URL; a duress PIN is kept only as its hash. Said in
the member's own language (the prompt catalogue).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Blueprint, Response
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.datastructures import MultiDict

from callflows import checkin as flow
from callflows import prompts
from callflows.errors import BadBuddy, BadPin, DuressSameAsPin, PinTooShort
from callflows.prompts import Message, Phrase
from callflows.status import CheckinState
from ivr.menu import OPTIONS, member_speaker, menu_reply, menu_step
from ivr.services import current_services
from ivr.webhook import external_url, require_twilio_signature
from storage import checkin_setup, checkins
from storage import menu_repository as menus
from storage.models import Member

bp = Blueprint("checkin_menu", __name__, url_prefix="/voice/menu/checkin")
bp.before_request(require_twilio_signature)


def _timeout() -> int:
    return current_services().settings.gather_timeout_seconds


def _own_phone(member: Member) -> str | None:
    """The member's phone, decrypted only to keep it out of a PIN or the buddy slot."""
    return current_services().vault.reveal(member.phone_encrypted) if member.phone_encrypted else None


# --- the options -------------------------------------------------------------------


def _start(session: Session, auth: menus.MenuCall) -> VoiceResponse:
    """Option 5: ask for the minutes (saying when a running one is due: it is replaced)."""
    running = checkins.open_checkin(session, auth.member.id)
    before = [flow.checkin_running(running.due_at)] if running is not None else []
    return flow.ask_minutes(member_speaker(auth), external_url("checkin_menu.minutes"), _timeout(), before)


def _end(session: Session, auth: menus.MenuCall) -> VoiceResponse:
    """Option 6: end the running check-in early."""
    now = current_services().settings.now()
    ended = checkins.end_checkins(session, auth.member.id, now, CheckinState.ENDED)
    session.commit()
    return menu_reply(auth, [prompts.CHECKIN_ENDED if ended else prompts.NO_CHECKIN])


def _settings(session: Session, auth: menus.MenuCall) -> VoiceResponse:
    """Option 7: the duress PIN and the buddy."""
    return flow.ask_settings(member_speaker(auth), external_url("checkin_menu.settings"), _timeout())


OPTIONS.update({"5": _start, "6": _end, "7": _settings})


# --- the steps ---------------------------------------------------------------------

KeyedStep = Callable[[Session, menus.MenuCall, str], VoiceResponse]


def keyed_step(view: KeyedStep) -> Callable[[], Response]:
    """A :func:`menu_step` given the digits keyed; nothing keyed goes back to the menu."""

    @functools.wraps(view)
    def with_keys(session: Session, auth: menus.MenuCall, form: MultiDict[str, str]) -> VoiceResponse:
        keyed = form.get("Digits", "")
        return view(session, auth, keyed) if keyed else menu_reply(auth, [prompts.CHECKIN_NOTHING_KEYED])

    return menu_step(with_keys)


@bp.post("/minutes")
@keyed_step
def minutes(session: Session, auth: menus.MenuCall, keyed: str) -> VoiceResponse:
    """Minutes keyed for a new check-in: 15 to 480 starts it (replacing a running one)."""
    wanted = flow.parse_minutes(keyed)
    if wanted is None:
        return flow.ask_minutes(
            member_speaker(auth),
            external_url("checkin_menu.minutes"),
            _timeout(),
            [prompts.CHECKIN_BAD_MINUTES],
        )
    checkin = checkins.start_checkin(session, auth.member, wanted, current_services().settings.now())
    due = checkin.due_at
    session.commit()
    return menu_reply(auth, [flow.checkin_set(wanted, due)])


# Option 7's keys: what to ask for next, or what to remove.
ASKS: dict[str, tuple[str, Message]] = {
    "1": ("checkin_menu.duress", prompts.ASK_DURESS_PIN),
    "3": ("checkin_menu.buddy", prompts.ASK_BUDDY),
}


@bp.post("/settings")
@menu_step
def settings(session: Session, auth: menus.MenuCall, form: MultiDict[str, str]) -> VoiceResponse:
    """The key chosen among the duress PIN and buddy options."""
    digits = form.get("Digits", "")
    if digits in ASKS:
        endpoint, prompt = ASKS[digits]
        return flow.ask_keyed(member_speaker(auth), external_url(endpoint), _timeout(), prompt)
    if digits in ("2", "4"):
        if digits == "2":
            checkin_setup.remove_duress_pin(auth.member)
        else:
            checkin_setup.remove_buddy(auth.member)
        session.commit()
        return menu_reply(auth, [prompts.DURESS_REMOVED if digits == "2" else prompts.BUDDY_REMOVED])
    return menu_reply(auth)


def _pin_refusal(exc: BadPin) -> Message:
    """What the member hears when a duress PIN is refused."""
    if isinstance(exc, DuressSameAsPin):
        return prompts.DURESS_SAME_AS_PIN
    return prompts.DURESS_TOO_SHORT if isinstance(exc, PinTooShort) else prompts.DURESS_TOO_EASY


@bp.post("/duress")
@keyed_step
def duress(session: Session, auth: menus.MenuCall, keyed: str) -> VoiceResponse:
    """The duress PIN keyed: same quality rules as the PIN, and not the PIN."""
    try:
        checkin_setup.set_duress_pin(
            auth.member, keyed, current_services().settings.pin_min_length, _own_phone(auth.member)
        )
    except BadPin as exc:
        return menu_reply(auth, [_pin_refusal(exc)])
    session.commit()
    return menu_reply(auth, [prompts.DURESS_SET])


@bp.post("/buddy")
@keyed_step
def buddy(session: Session, auth: menus.MenuCall, keyed: str) -> VoiceResponse:
    """The buddy's number keyed: judged like a masked call's destination."""
    svc = current_services()
    try:
        e164 = flow.check_buddy(svc.settings.destination_policy, keyed, _own_phone(auth.member))
    except BadBuddy as exc:
        assert isinstance(exc.spoken, Phrase)
        return menu_reply(auth, [exc.spoken])
    last3 = checkin_setup.set_buddy(auth.member, svc.vault, e164)
    session.commit()
    return menu_reply(auth, [flow.buddy_saved(last3)])
