"""The simulator proper: plays Twilio's part in calls and texts to the app.

It requests the app's webhooks as Twilio would (signed, with Twilio's form
fields), interprets the TwiML answered (see :mod:`simulator.twiml_schema`
for what it accepts), follows action URLs and redirects, rings dialled
numbers (running a ``<Number url>`` whisper on the callee's leg before
bridging), produces recordings and fires status and recording callbacks.

It follows Twilio's real behaviour (``docs/reference.md, How Twilio behaves``), not the app: each leg knows
whether and why it was answered (and so billed); ``<Record>`` ends on its
silence timeout and may record nothing (see :mod:`simulator.speech`);
status callbacks carry Twilio's fields and may arrive out of order and
repeated (see :mod:`simulator.callbacks`); a webhook that fails or takes
longer than 15 s sends Twilio to the number's fallback URL, which may live
on another origin (static hosting) and is reached even when the app is down.

Time is simulated: a clock advances by what each verb would take, so
durations are deterministic and nothing sleeps.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urljoin, urlsplit

from simulator.audio import recording_wav
from simulator.callbacks import Callback, Delivery
from simulator.errors import OutsideTheApp, SimulationError, TwimlRejected, WebhookUnreachable
from simulator.fake_twilio import PlacedCall, twilio_recording_url
from simulator.keypad import HANGUP, Callee, Keypad, ScriptedKeypad
from simulator.speech import Recorded, RecordSettings, Segment, Speech, record
from simulator.transcript import Phonebook, Transcript
from simulator.transport import SMS_FORM_TYPE, Answer, Transport
from simulator.twiml_schema import CALL_EVENTS, Context, Verb, parse_twiml

API_VERSION = "2010-04-01"
XML_TYPES = frozenset({"text/xml", "application/xml"})
# What Twilio says when the app and its fallback both fail.
TWILIO_APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."
# Twilio gives up on a webhook after 15 s and treats it as failed.
WEBHOOK_TIMEOUT_SECONDS = 15.0
# Twilio's error codes for a webhook that failed: an HTTP error answer, no
# connection (refused, timed out) and a document it could not parse.
HTTP_RETRIEVAL_FAILURE = "11200"
HTTP_CONNECTION_FAILURE = "11205"
DOCUMENT_PARSE_FAILURE = "12100"
# What a recording status callback carries when nothing was recorded.
RECORDING_ABSENT_ERROR = "16101"
# SIP answers Twilio reports with a leg's final status (not every time).
SIP_RESPONSE_CODES = {
    "completed": "200",
    "busy": "486",
    "no-answer": "487",
    "canceled": "487",
    "failed": "404",
}
# How a call that was never answered ends, after its <Dial> ended so.
UNANSWERED_END = {"busy": "busy", "failed": "failed", "canceled": "canceled"}
# The simulated clock's zero: status callbacks' Timestamps count from it.
EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class RecordingHost(Protocol):
    """The fake Twilio: holds recordings where the app will fetch them, and
    keeps a record of every call leg, as Twilio does, until the app deletes it."""

    def add_call(self, sid: str, from_: str, to: str, parent_sid: str | None = None) -> None:
        """Keep the record of a call leg placed now."""
        ...

    def add_recording(
        self, sid: str, audio: bytes, *, call_sid: str | None = None, duration: int | None = None
    ) -> str:
        """Make ``audio`` downloadable; return its media URL as Twilio posts it."""
        ...


# What a phone a placed call rings does when an answering machine picks up
# (``Simulator.play_placed``): answered, no key pressed, and, with machine
# detection on, reported as ``AnsweredBy=machine_start``.
VOICEMAIL = "voicemail"


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + uuid.uuid4().hex


@dataclass
class Leg:
    """One call leg: the caller's call, or a leg a ``<Dial>`` placed."""

    sid: str
    from_: str
    to: str
    direction: str  # "inbound" | "outbound-dial"
    who: str
    keypad: Keypad
    parent_sid: str | None = None
    status: str = "ringing"
    answered_at: float | None = None
    answered_why: str = ""  # shown in the transcript: what answered (and so billed) the leg
    verbs_run: int = 0
    sequence: int = 0
    status_callback: str | None = None
    status_events: frozenset[str] = frozenset({"completed"})
    status_method: str = "POST"
    # The phone number's own status callback: Twilio may leave SequenceNumber out.
    number_level: bool = False

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def billed(self) -> bool:
        """A leg is billed from the moment it is answered, and only then."""
        return self.answered


@dataclass
class Document:
    """A TwiML document the app answered with, and where it ran."""

    url: str
    xml: str
    verbs: list[Verb]
    context: Context
    leg_sid: str

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def names(self) -> list[str]:
        """The top-level verb names, in order."""
        return [verb.name for verb in self.verbs]


@dataclass
class Exchange:
    """What any simulated call or text leaves: who heard what, the TwiML answered, problems."""

    sid: str  # the CallSid of the caller's leg, or the MessageSid
    transcript: Transcript
    documents: list[Document] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class CallResult(Exchange):
    """What happened on a simulated call (tests assert on it)."""

    status: str = "ringing"
    answered: bool = False
    answered_why: str = ""  # what answered the caller's call, if anything did
    rejected: bool = False
    bridged: bool = False
    dial_status: str | None = None
    recorded: list[Recorded] = field(default_factory=list)  # one per <Record> met
    fallback_used: bool = False  # Twilio requested the number's fallback URL
    dialled: list[str] = field(default_factory=list)  # raw numbers: for assertions, never printed
    displayed: list[str] = field(default_factory=list)  # caller IDs the dialled phones showed (raw)
    child_sids: list[str] = field(default_factory=list)
    recording_sids: list[str] = field(default_factory=list)

    @property
    def call_sid(self) -> str:
        return self.sid

    @property
    def billed(self) -> bool:
        """Whether the caller pays for this call: their leg was answered."""
        return self.answered

    def spoken_to(self, who: str) -> str:
        return self.transcript.heard(who)


@dataclass
class SmsResult(Exchange):
    """What happened to a simulated text message."""

    replies: list[str] = field(default_factory=list)


@dataclass
class _Goto:
    url: str
    method: str = "POST"
    extra: dict[str, str] = field(default_factory=dict)
    after: Callable[[], None] | None = None
    caller_gone: bool = False  # request the URL, but the leg has ended: play nothing


@dataclass
class _End:
    status: str  # the leg's final CallStatus
    reason: str  # "hangup" | "reject" | "document-end" | "error"


@dataclass
class Simulator:
    """Acts as Twilio towards the app reached through ``transport``."""

    transport: Transport
    account_sid: str
    api_base_url: str = "https://api.twilio.com"
    phonebook: Phonebook = field(default_factory=Phonebook)
    recordings: RecordingHost | None = None
    # Called after every webhook: runs queued jobs, as a worker would.
    after_webhook: Callable[[], None] | None = None
    # Raise SimulationError at the first problem instead of behaving as Twilio does.
    strict: bool = True
    record_seconds: int = 4
    max_documents: int = 60
    transcript: Transcript = field(default_factory=Transcript)
    clock: float = 0.0
    # A webhook that takes longer than this has failed, as far as Twilio is concerned.
    webhook_timeout: float = WEBHOOK_TIMEOUT_SECONDS
    # The number's "primary handler fails" URL; None: the app's own /voice/fallback.
    fallback: str | None = None
    # Documents served from other origins (static hosting), by URL: reached
    # whether or not the app is up.
    static_documents: dict[str, bytes] = field(default_factory=dict)
    # In order, or shuffled and repeated (see simulator.callbacks).
    delivery: Delivery = field(default_factory=Delivery)
    # Set per call: what dialled phones do, what the caller says at a Record,
    # whether the app is down.
    _callee: Callee = field(default_factory=Callee, init=False, repr=False)
    _speech: Speech = field(default_factory=Speech, init=False, repr=False)
    _app_down: bool = field(default=False, init=False, repr=False)
    _app_delay: float = field(default=0.0, init=False, repr=False)
    _error_code: str = field(default=HTTP_RETRIEVAL_FAILURE, init=False, repr=False)
    _recording_urls: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    @property
    def base(self) -> str:
        return self.transport.public_base_url

    @property
    def fallback_url(self) -> str:
        """The number's "primary handler fails" URL (docs/reference.md's ``FALLBACK_URL``)."""
        return self.fallback or self.base + "/voice/fallback"

    # -- calls ---------------------------------------------------------

    def call(
        self,
        from_: str,
        to: str,
        keypad: Keypad | None = None,
        callee: Callee | None = None,
        *,
        speech: Speech | None = None,
        app_down: bool = False,
        app_delay: float = 0.0,
    ) -> CallResult:
        """Place a call from ``from_`` to ``to`` (a Safety Number) and play it out.

        ``keypad`` presses keys for the caller; ``callee`` is what any dialled
        phone does; ``speech`` is what the caller says at each ``<Record>``.
        ``app_down``: no request reaches the app (connection refused), as in
        an outage; only documents on other origins can answer. ``app_delay``:
        every request to the app takes that many more (simulated) seconds to
        be answered; the app does its work, but an answer later than Twilio
        waits is no answer. The number's webhooks are docs/reference.md's paths.
        """
        leg = Leg(
            sid=new_sid("CA"),
            from_=from_,
            to=to,
            direction="inbound",
            who=self.phonebook.name(from_),
            keypad=keypad or ScriptedKeypad(),
            status_callback=self.base + "/voice/status",
            number_level=True,
        )
        self._keep_record(leg)
        result = CallResult(leg.sid, Transcript())
        self._callee = callee or Callee()
        self._speech = speech or Speech(default_seconds=self.record_seconds)
        self._app_down = app_down
        self._app_delay = app_delay
        start = len(self.transcript.lines)
        self._say(leg.who, "dials", f"dials {self.phonebook.show(to)} from {self.phonebook.show(from_)}")
        if app_down:
            self._say("twilio", "note", "the app is down: no request reaches it")
        if app_delay:
            self._say("twilio", "note", f"the app is slow: it takes {app_delay:g} s to answer each request")
        try:
            end = self._run(leg, self.base + "/voice/incoming", Context.CALL, result)
            leg.status = end.status
            result.status = end.status
            result.answered = leg.answered
            result.answered_why = leg.answered_why
            result.rejected = end.reason == "reject"
            self._say(leg.who, "ends", self._ending(leg, end))
            self._status_event(leg, "completed", result)
            self._flush_callbacks(result)
        finally:
            self._app_down = False
            self._app_delay = 0.0
        result.transcript.extend(self.transcript.lines[start:])
        return result

    def play_placed(self, placed: PlacedCall, phone: Callee, callee: Callee | None = None) -> CallResult:
        """Play a call the app placed through the REST API (``outbound-api``).

        ``phone`` is what the rung phone does: ``answer`` (then its keypad
        presses keys at each ``<Gather>``), ``busy``, ``no-answer`` or
        ``failed`` — then Twilio never requests the call's ``Url``, only the
        status callback says how it ended — or ``VOICEMAIL`` (an answering
        machine picks up and presses nothing). With machine detection on
        (``MachineDetection=Enable``) the first request for the call's TwiML
        carries ``AnsweredBy`` (``human`` or ``machine_start``), as Twilio's
        synchronous detection does. ``callee`` is what any phone the
        answered call's ``<Dial>`` rings does. The leg is answered (and
        billed to the account) when the phone picks up, whatever its
        TwiML's first verb.
        """
        leg = Leg(
            sid=placed.sid,
            from_=placed.from_,
            to=placed.to,
            direction="outbound-api",
            who=self.phonebook.name(placed.to),
            keypad=phone.keypad,
            status="queued",
            status_callback=placed.status_callback,
            status_events=frozenset(placed.status_events),
            status_method=placed.status_method,
        )
        result = CallResult(leg.sid, Transcript())
        self._callee = callee or Callee()
        self._speech = Speech(default_seconds=self.record_seconds)
        start = len(self.transcript.lines)
        result.displayed.append(placed.from_)
        self._say("twilio", "dials", f"places a call to {_the(leg.who)} ({self.phonebook.show(placed.to)})")
        leg.status = "initiated"
        self._status_event(leg, "initiated", result)
        leg.status = "ringing"
        self._status_event(leg, "ringing", result)
        self._say(leg.who, "rings", f"phone rings; the display shows {self.phonebook.show(placed.from_)}")
        if phone.answers not in ("answer", VOICEMAIL):
            self.clock += placed.timeout if phone.answers == "no-answer" else 1
            # An API call nobody answered ends "no-answer" even when the
            # caller side gave up: there is no caller to hang up here.
            leg.status = "no-answer" if phone.answers == "canceled" else phone.answers
            self._say(leg.who, "ends", f"call ends: {leg.status}, never answered")
        else:
            leg.answered_at, leg.status = self.clock, "in-progress"
            leg.answered_why = result.answered_why = "the phone it rang picked up"
            result.answered = True
            machine = phone.answers == VOICEMAIL
            picks_up = "an answering machine picks up" if machine else "answers"
            self._say(leg.who, "answers", f"{picks_up} (the scheme's account is billed from now)")
            self._status_event(leg, "answered", result)
            detected = {}
            if placed.machine_detection:
                detected["AnsweredBy"] = "machine_start" if machine else "human"
            end = self._run(leg, placed.url, Context.CALL, result, detected)
            leg.status = end.status
            self._say(leg.who, "ends", self._ending(leg, end))
        result.status = leg.status
        self._status_event(leg, "completed", result)
        self._flush_callbacks(result)
        result.transcript.extend(self.transcript.lines[start:])
        return result

    def sms(self, from_: str, to: str, body: str, media: tuple[str, ...] = ()) -> SmsResult:
        """Send a text message to ``to`` and show what the app does with it.

        Sent as Twilio sends it: form-encoded with ``charset=UTF-8`` in the
        content type, any text (accents, emoji) in ``Body``, and ``NumMedia``
        with ``MediaUrl0…``/``MediaContentType0…`` for each of ``media``
        (content types of pictures and the like the sender attached). The
        body is sent to the app but never written to the transcript: only
        its length.
        """
        sid = new_sid("MM" if media else "SM")
        result = SmsResult(sid, Transcript())
        start = len(self.transcript.lines)
        who = self.phonebook.name(from_)
        attached = f", {len(media)} attachment(s)" if media else ""
        self._say(who, "texts", f"texts {self.phonebook.show(to)} ({len(body)} characters{attached})")
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": str(len(media)),
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": API_VERSION,
        }
        for index, content_type in enumerate(media):
            params[f"MediaContentType{index}"] = content_type
            params[f"MediaUrl{index}"] = (
                f"{self.api_base_url}/{API_VERSION}/Accounts/{self.account_sid}"
                f"/Messages/{sid}/Media/{new_sid('ME')}"
            )
        url = self.base + "/sms/incoming"
        for _ in range(self.max_documents):
            answer = self._request("POST", url, params, result.errors, content_type=SMS_FORM_TYPE)
            document = self._document(answer, url, Context.MESSAGING, sid, result.errors)
            if document is None:
                break
            result.documents.append(document)
            redirect = None
            for verb in document.verbs:
                if verb.name == "Message":
                    result.replies.append(verb.text)
                    self._say("app", "replies", f"replies with a text message ({len(verb.text)} characters)")
                elif verb.name == "Redirect":
                    redirect = urljoin(url, verb.text)
                    break
            if redirect is None:
                if not document.verbs:
                    self._say("app", "drops", "answers with an empty <Response/>: the message is dropped")
                break
            url = redirect
        result.transcript.extend(self.transcript.lines[start:])
        return result

    # -- running documents ----------------------------------------------

    def _run(
        self, leg: Leg, url: str, context: Context, result: CallResult, first: dict[str, str] | None = None
    ) -> _End:
        """Run TwiML on ``leg`` from ``url`` until the leg ends or the whisper is done;
        ``first`` adds fields to the first request only."""
        goto = _Goto(url, extra=dict(first or {}))
        for _ in range(self.max_documents):
            params = {**self._leg_params(leg), **goto.extra}
            answer = self._request(goto.method, goto.url, params, result.errors)
            if goto.after is not None:
                goto.after()
            if goto.caller_gone:
                self._say("twilio", "note", "the caller has hung up: nothing the action answers is played")
                return _End("completed" if leg.answered else "canceled", "hangup")
            document = self._document(answer, goto.url, context, leg.sid, result.errors)
            if document is None:
                return self._application_error(leg, goto.url, context, result)
            result.documents.append(document)
            step = self._execute(leg, document, context, result)
            if isinstance(step, _End):
                return step
            goto = step
        self._problem(f"more than {self.max_documents} documents on one call leg: a loop?", result.errors)
        return _End("completed" if leg.answered else "failed", "error")

    def _execute(self, leg: Leg, document: Document, context: Context, result: CallResult) -> _Goto | _End:
        for verb in document.verbs:
            if context is Context.CALL and not leg.answered:
                if verb.name == "Reject":
                    return self._reject(leg, verb)
                if not (verb.name == "Dial" and verb.flag("answerOnBridge")):
                    # Only <Reject> and <Dial answerOnBridge> leave a call unanswered.
                    first = "its first verb" if leg.verbs_run == 0 else "a verb on the unanswered call,"
                    self._answer(leg, result, f"{first} <{verb.name}> answers it")
            leg.verbs_run += 1
            step = self._verb(leg, verb, document, context, result)
            if step is not None:
                return step
        if context is Context.WHISPER:
            return _End("in-progress", "document-end")
        if not leg.answered and leg.verbs_run == 0:
            # A call's first document with no verb at all is no <Reject>: it answers.
            self._answer(leg, result, "a first document with no verb answers it")
        if not leg.answered:
            # After an unbridged <Dial answerOnBridge>: Twilio hangs up, still unanswered.
            self._say("twilio", "note", "the TwiML ends, so Twilio hangs up the unanswered call")
            return _End(UNANSWERED_END.get(result.dial_status or "", "no-answer"), "document-end")
        self._say("twilio", "note", "the TwiML ends, so Twilio hangs up")
        return _End("completed", "document-end")

    def _verb(
        self, leg: Leg, verb: Verb, document: Document, context: Context, result: CallResult
    ) -> _Goto | _End | None:
        if verb.name in ("Say", "Play", "Pause"):
            self._play_prompt(leg, verb)
            return None
        if verb.name == "Gather":
            return self._gather(leg, verb, document, result)
        if verb.name == "Record":
            return self._record(leg, verb, document, result)
        if verb.name == "Dial":
            return self._dial(leg, verb, document, result)
        if verb.name == "Hangup":
            self._say("app", "ends", f"hangs up on {_the(leg.who)}")
            return _End("completed", "hangup")
        if verb.name == "Reject":
            # Reject after the call was answered: Twilio just ends the (billed) call.
            self._say("twilio", "note", "<Reject> after the call was answered: Twilio ends the call")
            return _End("completed", "hangup")
        if verb.name == "Redirect":
            return _Goto(urljoin(document.url, verb.text), verb.get("method", "POST"))
        raise TwimlRejected(f"<{verb.name}> cannot be played here")  # the schema keeps this unreachable

    def _answer(self, leg: Leg, result: CallResult, why: str) -> None:
        """Answer the caller's leg: from now on the call is billed."""
        leg.answered_at = self.clock
        leg.answered_why = why
        leg.status = "in-progress"
        result.answered = True
        result.answered_why = why
        self._say("twilio", "answers", f"answers the call from {_the(leg.who)}: {why} (billed from now)")

    def _reject(self, leg: Leg, verb: Verb) -> _End:
        reason = verb.get("reason", "rejected")
        sound = "a busy tone" if reason == "busy" else "a not-in-service message"
        self._say("twilio", "rejects", "rejects the call without answering it (not billed)")
        self._say(leg.who, "hears", f"[{sound} from their own network]")
        return _End("busy" if reason == "busy" else "no-answer", "reject")

    def _play_prompt(self, leg: Leg, verb: Verb) -> None:
        if verb.name == "Say":
            loops = verb.number("loop", 1) or 1
            self._say(leg.who, "hears", f'hears "{verb.text}"' + (f" ({loops} times)" if loops > 1 else ""))
            self.clock += loops * max(1.0, len(verb.text.split()) / 2.5)
        elif verb.name == "Play":
            if verb.text:
                self._say(leg.who, "hears", f"hears the audio at {verb.text}")
            if verb.get("digits"):
                self._say(leg.who, "hears", f"hears the tones {verb.get('digits')}")
            self.clock += 3
        else:
            seconds = verb.number("length", 1)
            self._say(leg.who, "hears", f"hears {seconds} s of silence")
            self.clock += seconds

    def _gather(self, leg: Leg, verb: Verb, document: Document, result: CallResult) -> _Goto | _End | None:
        heard = []
        for prompt in verb.children:
            self._play_prompt(leg, prompt)
            heard.append(prompt.text)
        action = urljoin(document.url, verb.get("action")) if verb.get("action") else document.url
        method = verb.get("method", "POST")
        if "dtmf" not in verb.get("input", "dtmf").split():
            self._problem("<Gather input> without dtmf: speech input is not simulated", result.errors)
            return None
        keys = leg.keypad.press(leg.who, " ".join(heard))
        if keys == HANGUP:
            self._say(leg.who, "ends", "hangs up")
            return _End("completed", "hangup")
        digits = ""
        if keys is not None:
            self._say(leg.who, "presses", f"presses {self.phonebook.keys(keys)}")
            digits = _collect(keys, verb.get("finishOnKey", "#"), verb.number("numDigits", 0))
        if not digits:
            timeout = verb.number("timeout", 5)
            if keys is None:
                self._say(leg.who, "silent", f"presses nothing; the Gather times out after {timeout} s")
            self.clock += timeout
            if verb.flag("actionOnEmptyResult"):
                return _Goto(action, method, {"Digits": ""})
            return None
        self.clock += len(digits) * 0.5
        return _Goto(action, method, {"Digits": digits})

    def _record(self, leg: Leg, verb: Verb, document: Document, result: CallResult) -> _Goto | _End | None:
        """Record what the person says until silence, a key, maxLength or a hangup.

        Nothing recorded: no action request, the next verb runs, and the
        recording status callback says ``absent`` (docs/reference.md, How Twilio behaves).
        """
        settings = RecordSettings(
            timeout=verb.number("timeout", 5),
            max_length=verb.number("maxLength", 3600),
            finish_on_key=verb.get("finishOnKey", "1234567890*#"),
            trim=verb.get("trim", "trim-silence") == "trim-silence",
        )
        if verb.flag("playBeep", default=True):
            self._say(leg.who, "hears", "hears a beep")
        segments = self._speech.next(settings.finish_on_key)
        recorded = record(segments, settings)
        result.recorded.append(recorded)
        sid = new_sid("RE")
        started = _http_date(self.clock)
        self._say(leg.who, "speaks", _what_was_said(segments, recorded) or "says nothing")
        self.clock += recorded.elapsed
        self._say("twilio", "note", _why_recording_ended(recorded, settings))
        if recorded.lost:
            lost = ", ".join(segment.describe() for segment in recorded.lost)
            self._say(leg.who, "speaks", f"goes on ({lost}) after the recording ended: all of it lost")
        action = urljoin(document.url, verb.get("action")) if verb.get("action") else document.url
        if recorded.absent:
            self._say("twilio", "note", "nothing was recorded: no request to the action URL")
            self._recording_event(leg, verb, document, sid, "absent", 0, started, result)
            if recorded.ended_by == HANGUP:
                return _End("completed", "hangup")
            return None
        result.recording_sids.append(sid)
        self._recording_event(leg, verb, document, sid, "in-progress", 0, started, result)
        url = self.recording_url(sid)
        if self.recordings is None:
            self._problem("no fake Twilio holds recordings: the app cannot fetch this one", result.errors)
        else:
            url = self.recordings.add_recording(
                sid, recording_wav(recorded.seconds), call_sid=leg.sid, duration=recorded.seconds
            )
        self._recording_urls[sid] = url
        params = {"RecordingUrl": url, "RecordingSid": sid, "RecordingDuration": str(recorded.seconds)}
        if recorded.ended_by == HANGUP:
            params["Digits"] = HANGUP
        elif recorded.key:
            params["Digits"] = recorded.key
        return _Goto(
            action,
            verb.get("method", "POST"),
            params,
            after=lambda: self._recording_event(
                leg, verb, document, sid, "completed", recorded.seconds, started, result
            ),
            # A caller who hung up hears nothing more: Twilio fetches the action, plays none of it.
            caller_gone=recorded.ended_by == HANGUP,
        )

    def recording_url(self, sid: str) -> str:
        """Where Twilio says a recording is: no extension, under the REST API origin."""
        return twilio_recording_url(self.api_base_url, self.account_sid, sid)

    def _recording_event(
        self,
        leg: Leg,
        verb: Verb,
        document: Document,
        sid: str,
        status: str,
        seconds: int,
        started: str,
        result: CallResult,
    ) -> None:
        url = _absolute(document.url, verb.get("recordingStatusCallback"))
        if not url or status not in verb.get("recordingStatusCallbackEvent", "completed").split():
            return
        params = {
            "AccountSid": self.account_sid,
            "CallSid": leg.sid,
            "RecordingSid": sid,
            "RecordingUrl": self._recording_urls.get(sid) or self.recording_url(sid),
            "RecordingStatus": status,
            "RecordingDuration": {"completed": str(seconds), "absent": "0"}.get(status, "-1"),
            "RecordingChannels": "1",
            "RecordingSource": "RecordVerb",
            "RecordingStartTime": started,
            # An absent recording comes with an error code (16101/16102 per the reference).
            "ErrorCode": RECORDING_ABSENT_ERROR if status == "absent" else "0",
        }
        self._callback(verb.get("recordingStatusCallbackMethod", "POST"), url, params, result.errors)

    def _dial(self, parent: Leg, verb: Verb, document: Document, result: CallResult) -> _Goto | _End | None:
        numbers = verb.children or [Verb("Number", {}, verb.text)]
        if len(numbers) > 1:
            self._problem("<Dial> with several <Number>s is not simulated", result.errors)
        number = numbers[0]
        caller_id = verb.get("callerId") or parent.from_
        on_bridge = verb.flag("answerOnBridge")
        timeout = verb.number("timeout", 30)
        callee = self._callee
        leg = Leg(
            sid=new_sid("CA"),
            from_=caller_id,
            to=number.text,
            direction="outbound-dial",
            who=self.phonebook.name(number.text),
            keypad=callee.keypad,
            parent_sid=parent.sid,
            status="queued",
            status_callback=_absolute(document.url, number.get("statusCallback")),
            status_events=frozenset(number.get("statusCallbackEvent", "completed").split()),
            status_method=number.get("statusCallbackMethod", "POST"),
        )
        self._keep_record(leg)
        result.child_sids.append(leg.sid)
        result.dialled.append(number.text)
        result.displayed.append(caller_id)
        shown = self.phonebook.show(caller_id)
        owner = self.phonebook.labels.get(caller_id)
        self._say(
            "twilio",
            "dials",
            f"dials {_the(leg.who)} ({self.phonebook.show(number.text)}), timeout {timeout} s"
            + (", answerOnBridge" if on_bridge else ""),
        )
        leg.status = "initiated"
        self._status_event(leg, "initiated", result)
        leg.status = "ringing"
        self._status_event(leg, "ringing", result)
        self._say(
            leg.who, "rings", f"phone rings; the display shows {shown}" + (f" ({owner})" if owner else "")
        )
        self._ringback(parent, verb)
        bridged = False
        if callee.answers == "canceled":
            # The caller gives up while the member's phone is still ringing.
            self.clock += min(timeout, 8)
            leg.status = dial_status = "canceled"
            self._say(parent.who, "ends", "hangs up while it is still ringing")
        elif callee.answers != "answer":
            self.clock += timeout if callee.answers == "no-answer" else 1
            leg.status = callee.answers
            self._say(
                leg.who,
                "answers",
                {"busy": "is busy", "failed": "cannot be reached"}.get(
                    callee.answers, f"does not answer within {timeout} s"
                ),
            )
            dial_status = callee.answers
        else:
            leg.answered_at = self.clock
            leg.status = "in-progress"
            self._say(leg.who, "answers", "answers")
            self._status_event(leg, "answered", result)
            end = _End("in-progress", "document-end")
            if number.get("url"):
                end = self._run(leg, urljoin(document.url, number.get("url")), Context.WHISPER, result)
            if end.reason == "document-end":
                bridged = True
                self._bridge(parent, leg, verb, result)
            else:
                self._say(leg.who, "ends", "their leg ends before the call is connected")
            leg.status = "completed"
            # Twilio reports a connected call as "completed" or as "answered".
            dial_status = callee.connected_status if bridged else "completed"
        self._status_event(leg, "completed", result)
        result.bridged = result.bridged or bridged
        result.dial_status = dial_status
        caller_gone = dial_status == "canceled"
        if not verb.get("action"):
            return _End("completed" if parent.answered else "canceled", "hangup") if caller_gone else None
        params = {
            "DialCallStatus": dial_status,
            "DialCallSid": leg.sid,
            "DialCallDuration": str(self._duration(leg)),
        }
        if callee.reports_bridged:
            params["DialBridged"] = "true" if bridged else "false"
        action = urljoin(document.url, verb.get("action"))
        return _Goto(action, verb.get("method", "POST"), params, caller_gone=caller_gone)

    def _ringback(self, parent: Leg, verb: Verb) -> None:
        """What the caller hears while the dialled phone rings, and whether it costs them."""
        if not parent.answered:
            # Only <Dial answerOnBridge> gets here unanswered (see _execute).
            self._say(parent.who, "hears", "hears ringing; the call is not answered, so nothing is billed")
            return
        tone = verb.get("ringTone")
        self._say(parent.who, "hears", "hears Twilio's ringback" + (f" (ringTone {tone})" if tone else ""))
        if verb.flag("answerOnBridge"):
            self._say("twilio", "note", "answerOnBridge changes nothing now: the call was already answered")

    def _bridge(self, parent: Leg, leg: Leg, verb: Verb, result: CallResult) -> None:
        if not parent.answered:
            self._answer(parent, result, f"<Dial answerOnBridge> connects {_the(leg.who)}")
        talk = self._callee.talk_seconds
        limit = verb.number("timeLimit", 14400)
        self._say("twilio", "connected", f"connects {_the(parent.who)} and {_the(leg.who)}")
        if talk > limit:
            self.clock += limit
            self._say("twilio", "ends", f"ends the call at its time limit of {limit} s")
        else:
            self.clock += talk
            self._say(leg.who, "ends", f"hangs up after {talk} s of conversation")

    # -- callbacks -------------------------------------------------------

    def _keep_record(self, leg: Leg) -> None:
        """Twilio keeps a record of every leg it places (with both numbers)."""
        if self.recordings is not None:
            self.recordings.add_call(leg.sid, leg.from_, leg.to, leg.parent_sid)

    def _status_event(self, leg: Leg, event: str, result: CallResult) -> None:
        """Post a call-progress event if the leg asked for it, with Twilio's fields.

        ``SequenceNumber`` counts the leg's events, except on the phone
        number's own callback, which may lack it; the final event carries
        ``CallDuration`` (seconds), ``Duration`` (billed minutes, rounded
        up) and, on a dialled leg, ``SipResponseCode``. Sent through
        :attr:`delivery`, so possibly late, out of order and twice.
        """
        if not leg.status_callback or event not in leg.status_events or event not in CALL_EVENTS:
            return
        params = {
            **self._leg_params(leg),
            "CallbackSource": "call-progress-events",
            "Timestamp": _http_date(self.clock),
        }
        if not leg.number_level:
            params["SequenceNumber"] = str(leg.sequence)
        leg.sequence += 1
        if event == "completed":
            seconds = self._duration(leg)
            params.update(CallDuration=str(seconds), Duration=str(math.ceil(seconds / 60)))
            if leg.parent_sid and leg.status in SIP_RESPONSE_CODES:
                params["SipResponseCode"] = SIP_RESPONSE_CODES[leg.status]
        callback = Callback(leg.status_method, leg.status_callback, params)
        self.delivery.post(callback, lambda c: self._callback(c.method, c.url, c.params, result.errors))

    def _flush_callbacks(self, result: CallResult) -> None:
        """Send the callbacks :attr:`delivery` held back, when it disorders them."""
        sent = self.delivery.flush(lambda c: self._callback(c.method, c.url, c.params, result.errors))
        if sent:
            order = ", ".join(f"{c.params['CallStatus']}" for c in sent)
            self._say("twilio", "note", f"status callbacks arrive out of order and repeated: {order}")

    def _callback(self, method: str, url: str, params: dict[str, str], errors: list[str]) -> None:
        answer = self._request(method, url, params, errors)
        if answer is not None and not 200 <= answer.status < 300:
            self._problem(f"callback {urlsplit(url).path} answered HTTP {answer.status}", errors)

    # -- plumbing ----------------------------------------------------------

    def _leg_params(self, leg: Leg) -> dict[str, str]:
        params = {
            "CallSid": leg.sid,
            "AccountSid": self.account_sid,
            "From": leg.from_,
            "To": leg.to,
            "Caller": leg.from_,
            "Called": leg.to,
            "CallStatus": leg.status,
            "Direction": leg.direction,
            "ApiVersion": API_VERSION,
        }
        if leg.parent_sid:
            params["ParentCallSid"] = leg.parent_sid
        return params

    def _request(
        self,
        method: str,
        url: str,
        params: dict[str, str],
        errors: list[str],
        content_type: str | None = None,
    ) -> Answer | None:
        """One request as Twilio makes it; None when it failed (``_error_code`` says how).

        Documents on other origins (static hosting) answer whether or not
        the app is up; the app answers unless it is down, and an answer that
        took longer than :attr:`webhook_timeout` counts as none, as at Twilio.
        """
        path = urlsplit(url).path
        if url in self.static_documents:
            self._say("twilio", "request", f"{method} {url} -> 200 (static hosting)")
            return Answer(200, self.static_documents[url], "text/xml")
        if self._app_down:
            self._error_code = HTTP_CONNECTION_FAILURE
            self._say("twilio", "request", f"{method} {path} -> connection refused (error 11205)")
            return None
        started = time.monotonic()
        try:
            answer = self.transport.request(method, url, params, content_type=content_type)
        except OutsideTheApp as exc:
            self._error_code = HTTP_RETRIEVAL_FAILURE
            self._problem(str(exc), errors)
            return None
        except WebhookUnreachable as exc:
            self._error_code = HTTP_CONNECTION_FAILURE
            self._problem(f"{path}: {exc} (Twilio error 11205)", errors)
            return None
        took = time.monotonic() - started + self._app_delay
        if took > self.webhook_timeout and self._app_delay:
            # The slowness is the call's premise, not a fault: Twilio waited
            # its 15 s and gave up, though the app did its work.
            self._error_code = HTTP_CONNECTION_FAILURE
            self.clock += self.webhook_timeout
            self._say(
                "twilio",
                "request",
                f"{method} {path} -> no answer within {self.webhook_timeout:g} s (error 11205)",
            )
            if self.after_webhook is not None:
                self.after_webhook()
            return None
        if took > self.webhook_timeout:
            self._error_code = HTTP_CONNECTION_FAILURE
            self._problem(
                f"{path} took {took:.1f} s, more than Twilio waits ({self.webhook_timeout:g} s; error 11205)",
                errors,
            )
            return None
        self.clock += self._app_delay  # in time, but the caller waited for it
        self._say("twilio", "request", f"{method} {path} -> {answer.status}")
        if self.after_webhook is not None:
            self.after_webhook()
        return answer

    def _document(
        self, answer: Answer | None, url: str, context: Context, leg_sid: str, errors: list[str]
    ) -> Document | None:
        if answer is None:
            return None
        path = urlsplit(url).path
        self._error_code = HTTP_RETRIEVAL_FAILURE
        if answer.status != 200:
            self._problem(f"{path} answered HTTP {answer.status} (Twilio error 11200)", errors)
            return None
        if answer.content_type not in XML_TYPES:
            self._problem(f"{path} answered {answer.content_type or 'no content type'}, not XML", errors)
            return None
        xml = answer.body.decode("utf-8", errors="replace")
        try:
            verbs = parse_twiml(answer.body, context)
        except TwimlRejected as exc:
            self._error_code = DOCUMENT_PARSE_FAILURE
            self._problem(f"{path}: {exc} (Twilio error 12100)", errors)
            return None
        document = Document(url, xml, verbs, context, leg_sid)
        self._say("twilio", "request", f"  <- TwiML: {', '.join(document.names()) or 'empty <Response/>'}")
        return document

    def _application_error(self, leg: Leg, url: str, context: Context, result: CallResult) -> _End:
        """What Twilio does when a document cannot be fetched or played: the
        number's fallback URL, with ``ErrorCode`` and ``ErrorUrl``; failing
        that, its own error message."""
        if context is Context.CALL and url != self.fallback_url:
            self._say("twilio", "note", f"requests the number's fallback URL (error {self._error_code})")
            result.fallback_used = True
            extra = {"ErrorCode": self._error_code, "ErrorUrl": url}
            answer = self._request(
                "POST", self.fallback_url, {**self._leg_params(leg), **extra}, result.errors
            )
            document = self._document(answer, self.fallback_url, context, leg.sid, result.errors)
            if document is not None:
                result.documents.append(document)
                step = self._execute(leg, document, context, result)
                if isinstance(step, _End):
                    return step
                self._problem("the fallback document led elsewhere; not followed", result.errors)
                return _End("completed", "error")
        if not leg.answered:
            self._answer(leg, result, "Twilio answers it to play its own error message")
        self._say(leg.who, "hears", f'hears "{TWILIO_APPLICATION_ERROR}"')
        return _End("completed", "error")

    def _problem(self, message: str, errors: list[str]) -> None:
        errors.append(message)
        self._say("twilio", "error", f"ERROR: {message}")
        if self.strict:
            raise SimulationError(
                message + "\n--- transcript so far ---\n" + self.transcript.render(verbose=True)
            )

    def _say(self, who: str, kind: str, text: str) -> None:
        self.transcript.add(who, kind, text)

    def _duration(self, leg: Leg) -> int:
        return 0 if leg.answered_at is None else round(self.clock - leg.answered_at)

    def _ending(self, leg: Leg, end: _End) -> str:
        if end.reason == "reject":
            return f"call ends: rejected ({end.status}), never answered"
        if not leg.answered:
            return f"call ends: {end.status}, never answered"
        return f"call ends: {end.status} after {self._duration(leg)} s"


def _collect(keys: str, finish_on_key: str, num_digits: int) -> str:
    """The Digits Twilio reports for ``keys``: up to the finish key or numDigits."""
    digits = ""
    for key in keys:
        if finish_on_key and key == finish_on_key:
            break
        digits += key
        if num_digits and len(digits) >= num_digits:
            break
    return digits


def _the(who: str) -> str:
    """``"the member"``, but ``"phone …123"`` for a number nobody is named for."""
    return who if who.startswith("phone ") else f"the {who}"


def _absolute(base: str, url: str) -> str | None:
    return urljoin(base, url) if url else None


def _http_date(clock: float) -> str:
    """Twilio's Timestamp format, for the moment ``clock`` seconds into the simulation."""
    return (EPOCH + timedelta(seconds=clock)).strftime("%a, %d %b %Y %H:%M:%S +0000")


def _what_was_said(segments: list[Segment], recorded: Recorded) -> str:
    """``speaks: speak 12 s, pause 7 s, speak 20 s`` up to where the recording ended."""
    said = segments[: len(segments) - len(recorded.lost)]
    return ", ".join(segment.describe() for segment in said)


def _why_recording_ended(recorded: Recorded, settings: RecordSettings) -> str:
    because = {
        "silence": f"after {settings.timeout} s of silence (Record timeout)",
        "key": f"on the key {recorded.key}",
        "maxLength": f"at maxLength {settings.max_length} s",
        HANGUP: "because the caller hung up",
    }[recorded.ended_by]
    return f"the recording ends {because}: {recorded.seconds} s recorded"
