"""Voice webhooks for calls *to* a number of the pool: inbound (a Safety
Number, or a members' access line, told apart by ``To``), whisper, screen,
dial result, status callbacks and fallback. Thin views over ``callflows``.

Each view reads the verified form (:func:`twilio_form`), looks things up,
calls one call-flow function and returns its TwiML. The caller's CallSid
rides along as ``?call=`` on every URL handed to Twilio; no URL ever
carries a number.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from flask import Blueprint, Response, current_app, request
from twilio.twiml.voice_response import VoiceResponse

from callflows import inbound as flow
from callflows.languages import Language, language_or_english
from callflows.phone import Caller, caller_from
from callflows.speech import english_speaker, speaker_for
from callflows.status import CallStatus, Category, Greeting
from core.metrics import INBOUND_CALLS, SCREEN_CHOICES
from ivr import requestdb, twiml_text
from ivr.services import current_services
from ivr.twiml_text import Stencil
from ivr.webhook import (
    apology,
    external_url,
    form_count,
    never_fails,
    never_fails_with,
    require_twilio_signature,
    twilio_form,
    twiml,
    xml_answer,
)
from storage import inbound_repository as calls
from storage import repositories as repo

log = logging.getLogger(__name__)

bp = Blueprint("voice", __name__, url_prefix="/voice")
bp.before_request(require_twilio_signature)

# The Dial action URL's mark of a caller's leg answered before the Dial.
ANSWERED = "answered"

# Statuses Twilio reports for a call leg; anything else is logged as "unknown"
# rather than passed on as free text.
CALL_STATUSES = frozenset(CallStatus) - {CallStatus.UNKNOWN}


# Each outcome's counter, bound once (``labels()`` locks and builds a key per call).
_INBOUND_BY_OUTCOME = {outcome: INBOUND_CALLS.labels(outcome.value) for outcome in flow.InboundOutcome}


def _parent_sid() -> str:
    """The caller's CallSid, as put in the URL by :func:`incoming`."""
    return request.args.get("call", "")[:64]


def _caller_answered() -> bool:
    """Whether :func:`incoming` answered the caller's leg before the Dial
    (the member's greeting), as it marked the Dial's action URL. Twilio
    signs the URL, so nobody else can set it."""
    return request.args.get(ANSWERED) == "1"


def _dial_result_failed() -> VoiceResponse:
    """The safe answer when :func:`dial_result` fails inside: the apology
    would answer (and bill) a call nobody has answered yet, so that call
    gets the one rejection instead."""
    return apology() if _caller_answered() else flow.will_not_ring()


@bp.post("/incoming")
@never_fails
def incoming() -> Response:
    """A call to a Safety Number ("A call comes in"): one statement screens
    and logs it (storage decides by callflows' rule), one flow answers it."""
    form = twilio_form()
    services = current_services()
    call_sid = form.get("CallSid", "")[:64]
    caller = caller_from(form.get("From"), services.settings.default_region)
    # The statement stands alone, so it commits on its own (no BEGIN/COMMIT).
    screening = calls.screen_and_log(
        services.db.statements,
        services.vault,
        line_e164=form.get("To", "").strip(),
        caller=caller,
        call_sid=call_sid,
    )
    # Ids and the decision only: never a number, not even the line's.
    log.info("inbound call %s: %s", call_sid, screening.outcome)
    _INBOUND_BY_OUTCOME[screening.outcome].inc()
    if screening.outcome is flow.InboundOutcome.RING:
        return xml_answer(_ring_member(screening, caller, call_sid, services.settings.dial_timeout_seconds))
    urls = flow.InboundUrls(
        access_number=external_url("access.number"),
        dial_action=external_url("voice.dial_result", call=call_sid),
        whisper=external_url("voice.whisper", call=call_sid),
        status_callback=external_url("voice.status"),
    )
    answer = flow.answer_inbound(
        screening,
        caller,
        urls,
        timeout_seconds=services.settings.dial_timeout_seconds,
        access_timeout_seconds=services.settings.gather_timeout_seconds,
    )
    return twiml(answer)


def _ring_member(screening: flow.Screening, caller: Caller, call_sid: str, timeout_seconds: int) -> str:
    """:func:`_ring_document` as text, from the stencil of its shape
    (:class:`ivr.twiml_text.Stencil`): the same bytes, without building and
    writing the document on every call."""
    key = (request.script_root, screening.greeting, screening.caller_language.code, timeout_seconds)
    stencils: dict[tuple[str, Greeting, str, int], Stencil] = current_app.extensions.setdefault(
        "ring_stencils", {}
    )
    stencil = stencils.get(key)
    if stencil is None:
        stencil = stencils[key] = _ring_stencil(
            screening.greeting, screening.caller_language, timeout_seconds
        )
    filled = stencil.fill(
        call=quote(call_sid, safe=""),
        shown_caller_id=flow.shown_caller_id(screening, caller),
        member_phone=screening.member_phone,
    )
    if filled is None:  # a value the stencil's shape cannot hold: the document itself
        return twiml_text.render(_ring_document(screening, caller, call_sid, timeout_seconds))
    return filled


def _ring_stencil(greeting: Greeting, language: Language, timeout_seconds: int) -> Stencil:
    slot = Stencil.slot
    shape = flow.Screening(
        flow.InboundOutcome.RING,
        safety_number=slot("shown_caller_id"),  # shown, as the caller is withheld here
        member_phone=slot("member_phone"),
        greeting=greeting,
        caller_language=language,
    )
    return Stencil(_ring_document(shape, Caller(None), slot("call"), timeout_seconds))


def _ring_document(
    screening: flow.Screening, caller: Caller, call_sid: str, timeout_seconds: int
) -> VoiceResponse:
    """flow.ring_member for this call, with its URLs."""
    # Whether the caller's leg is already answered when the Dial ends decides
    # what may follow it (flow.after_dial); the URL says what was served.
    answered = {ANSWERED: "1"} if flow.answered_before_ringing(screening) else {}
    urls = flow.InboundUrls(
        access_number="",  # not in a ringing answer
        dial_action=external_url("voice.dial_result", call=call_sid, **answered),
        whisper=external_url("voice.whisper", call=call_sid),
        status_callback=external_url("voice.status"),
    )
    return flow.ring_member(screening, caller, urls, timeout_seconds)


@bp.post("/whisper")
@never_fails
def whisper() -> Response:
    """The member's leg, before bridging: who is calling, warnings, 1 or 2."""
    parent = _parent_sid()
    # Reads only: a statement on its own, no transaction to open or end.
    facts = calls.whisper_facts(current_services().db.statements, parent)
    if facts is None:
        # Not a call we rang the member for: end their leg, never bridge.
        return twiml(
            flow.screened(flow.ScreenChoice.DECLINE, caller_withheld=True, speaker=english_speaker())
        )
    return twiml(
        flow.whisper(
            flow.WhisperFacts(
                caller_last3=None if facts.withheld else facts.caller_last3,
                warning_categories=[Category(category) for category in facts.warning_categories],
            ),
            # The member's own phone: their own language.
            speaker=speaker_for(facts.language),
            screen_url=external_url("voice.screen", call=parent),
            timeout_seconds=current_services().settings.gather_timeout_seconds,
        )
    )


@bp.post("/screen")
@never_fails
def screen() -> Response:
    """The member's key on the whisper: 1 bridge, 2 decline and block, else decline."""
    choice = flow.screen_choice(twilio_form().get("Digits"))
    SCREEN_CHOICES.labels(choice.value).inc()
    session = requestdb.session()
    call = calls.inbound_call(session, _parent_sid())
    if call is None:
        return twiml(
            flow.screened(flow.ScreenChoice.DECLINE, caller_withheld=True, speaker=english_speaker())
        )
    if choice is flow.ScreenChoice.ACCEPT:
        call.bridged = True
    else:
        call.declined = True
    if choice is flow.ScreenChoice.BLOCK and call.other_party_index and call.member_id is not None:
        repo.block_caller(session, call.member_id, call.other_party_index, call.other_party_last3)
        call.blocked = True
    if call.declined and call.other_party_index:
        # Counted by the worker, not here: the member's leg is waiting.
        current_services().queue.enqueue_with(
            session, "refresh_signals", "call", call.id, key=f"signals:call:{call.id}"
        )
    session.commit()
    own = calls.member_languages(session, call.member_id).own
    return twiml(
        flow.screened(choice, caller_withheld=call.other_party_index is None, speaker=speaker_for(own))
    )


@bp.post("/dial_result")
@never_fails_with(_dial_result_failed)
def dial_result() -> Response:
    """The caller's leg after the Dial: hang up if bridged; otherwise the
    one rejection, or "not available" if the greeting already answered it."""
    form = twilio_form()
    bridged = flow.was_bridged(form.get("DialCallStatus"), form.get("DialBridged"))
    answered = _caller_answered()
    call = None
    if bridged is None or (answered and not bridged):
        call = calls.inbound_call(requestdb.session(), _parent_sid())
    if bridged is None:
        # Twilio left DialBridged out: trust what the member's key recorded.
        bridged = call is not None and call.bridged
    # Spoken only on a call the member's greeting answered: in the language
    # the member chose for their callers, like the greeting.
    callers = language_or_english(
        calls.member_languages(requestdb.session(), call.member_id).callers if call is not None else None
    )
    return twiml(flow.after_dial(bridged, caller_answered=answered, caller_language=callers))


@bp.post("/status")
@never_fails
def status() -> Response:
    """Status callback of a call or a leg: written as an event (one INSERT,
    keyed by CallSid and SequenceNumber, so a replay writes nothing) before
    Twilio is answered; the worker turns it into the call log."""
    form = twilio_form()
    call_sid = form.get("CallSid", "")[:64]
    if call_sid:
        reported = form.get("CallStatus", "").strip().lower()
        status = reported if reported in CALL_STATUSES else CallStatus.UNKNOWN.value
        sequence = form_count(form.get("SequenceNumber"))
        current_services().queue.enqueue(
            "call_event",
            call_sid,
            sequence or 0,
            status,
            form_count(form.get("CallDuration")),
            form.get("ParentCallSid", "")[:64] or None,
            # A number's own callback may carry no SequenceNumber: its status
            # tells its callbacks apart instead.
            key=f"call:{call_sid}:{status if sequence is None else sequence}",
        )
    return twiml(VoiceResponse())


@bp.post("/fallback")
@never_fails
def fallback() -> Response:
    """Twilio's "primary handler fails" URL: apologise, touch nothing."""
    return twiml(apology())
