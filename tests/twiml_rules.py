"""What real Twilio does with a TwiML document, as a table: the attributes and
nesting Twilio accepts, and the rules of ``docs/reference.md`` (How Twilio behaves)
that decide billing, whispers and recordings.

Written from Twilio's documentation and the reference page, not from the
simulator: ``simulator/twiml_schema.py`` is the simulator's own reading and
is deliberately not imported, so a misunderstanding shared by the app and the
simulator still shows here. ``tests/conftest.py`` runs :func:`violations` on
every document the suite serves; ``tests/test_twiml_rules.py`` shows each
rule catching the documents the app used to serve.
"""

from __future__ import annotations

import enum
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from callflows.languages import LANGUAGES
from callflows.prompts import LOGGED_GREETING
from callflows.speech import speaker

# What the documents served since the current test began got wrong (filled
# by tests/conftest.py's render hook, checked after each test).
SERVED_VIOLATIONS: list[str] = []


class Where(enum.StrEnum):
    """Where a served document runs; it decides which rules apply."""

    SAFETY_NUMBER = "a call to a Safety Number"  # the first answer: billing rule
    UNANSWERED = "a call nobody has answered yet"  # after a Dial nobody accepted: billing rule
    # The member's leg before bridging (<Number url>) and its Gather action,
    # on a client's call and on a caseworker's masked call alike.
    WHISPER = "a whisper"
    FALLBACK = "the fallback"  # Twilio's "primary handler fails"
    MESSAGING = "an SMS answer"
    CALL = "a call"  # any later step of a call


# CallStatus values of a leg Twilio has not answered (reference: status callbacks).
NOT_ANSWERED = frozenset({"queued", "initiated", "ringing"})


def where_served(path: str, call_status: str | None = None) -> Where:
    """The context of a document served at ``path`` (docs/reference.md's webhooks)
    on a leg Twilio reports as ``call_status`` (the request's CallStatus)."""
    if path == "/voice/incoming":
        return Where.SAFETY_NUMBER
    if path == "/voice/dial_result" and call_status in NOT_ANSWERED:
        # The Dial was the first verb and nobody accepted: what follows is
        # again the first verb Twilio acts on for this call.
        return Where.UNANSWERED
    if path in (
        "/voice/whisper",
        "/voice/screen",
        "/voice/staff-call/member-whisper",
        "/voice/staff-call/member-accept",
    ):
        return Where.WHISPER
    if path == "/voice/fallback":
        return Where.FALLBACK
    if path.startswith("/sms/"):
        return Where.MESSAGING
    return Where.CALL


Check = Callable[[str], bool]


def _one_of(*values: str) -> Check:
    return lambda value: value in values


def _int(low: int, high: int) -> Check:
    return lambda value: value.isdigit() and low <= int(value) <= high


def _events(*allowed: str) -> Check:
    return lambda value: bool(value.split()) and all(e in allowed for e in value.split())


def _url(value: str) -> bool:
    return bool(re.fullmatch(r"https?://[^\s/]+\S*", value))


def _keys(value: str) -> bool:
    return value != "" and all(c in "0123456789#*" for c in value)


def _words(text: str) -> list[str]:
    return text.split()


def _text(value: str) -> bool:
    return value.strip() != ""


BOOL = _one_of("true", "false")
METHOD = _one_of("GET", "POST")
# twilio.com/docs/voice/twiml/dial#ringtone
RING_TONES = _one_of(
    *_words(
        "at au bg br be ch cl cn cz de dk ee es fi fr gr hu il in it lt jp mx my nl no nz"
        " ph pl pt ru se sg th uk us us-old tw ve za"
    )
)
RECORDING_EVENTS = _events("in-progress", "completed", "absent")
CALL_EVENTS = _events("initiated", "ringing", "answered", "completed")


@dataclass(frozen=True)
class Verb:
    """One TwiML element: the attributes Twilio accepts (with a check of the
    value) and the elements it may contain."""

    attributes: Mapping[str, Check] = field(default_factory=dict)
    children: frozenset[str] = frozenset()
    text: bool = False  # has text content (what to say, the number to dial …)


SAY = Verb({"voice": _text, "language": _text, "loop": _int(0, 1000)}, text=True)
PLAY = Verb({"loop": _int(0, 1000), "digits": _keys}, text=True)
PAUSE = Verb({"length": _int(1, 600)})
# twilio.com/docs/voice/twiml/{gather,dial,number,record,redirect,reject,hangup}
VERBS: dict[str, Verb] = {
    "Response": Verb(children=frozenset(_words("Say Play Pause Gather Dial Record Redirect Hangup Reject"))),
    "Say": SAY,
    "Play": PLAY,
    "Pause": PAUSE,
    "Gather": Verb(
        {
            "action": _url,
            "method": METHOD,
            "timeout": _int(1, 600),
            "numDigits": _int(1, 100),
            "finishOnKey": lambda v: v == "" or _keys(v),
            "input": _events("dtmf", "speech"),
            "actionOnEmptyResult": BOOL,
            "speechTimeout": _text,
            "language": _text,
            "hints": _text,
            "profanityFilter": BOOL,
            "bargeIn": BOOL,
        },
        children=frozenset({"Say", "Play", "Pause"}),
    ),
    "Dial": Verb(
        {
            "action": _url,
            "method": METHOD,
            "timeout": _int(5, 600),
            "timeLimit": _int(1, 14400),
            "callerId": _text,
            "answerOnBridge": BOOL,
            "ringTone": RING_TONES,
            "hangupOnStar": BOOL,
            "record": _one_of("do-not-record", "record-from-answer", "record-from-ringing"),
        },
        children=frozenset({"Number"}),
        text=True,
    ),
    "Number": Verb(
        {
            "url": _url,
            "method": METHOD,
            "statusCallback": _url,
            "statusCallbackEvent": CALL_EVENTS,
            "statusCallbackMethod": METHOD,
            "sendDigits": lambda v: all(c in "0123456789#*w" for c in v),
        },
        text=True,
    ),
    "Record": Verb(
        {
            "action": _url,
            "method": METHOD,
            "timeout": _int(0, 3600),
            "finishOnKey": lambda v: v == "" or _keys(v),
            "maxLength": _int(1, 14400),
            "playBeep": BOOL,
            "trim": _one_of("trim-silence", "do-not-trim"),
            "recordingStatusCallback": _url,
            "recordingStatusCallbackMethod": METHOD,
            "recordingStatusCallbackEvent": RECORDING_EVENTS,
        }
    ),
    "Redirect": Verb({"method": METHOD}, text=True),
    # Nothing may be nested in <Reject> (reference: "Answering and billing").
    "Reject": Verb({"reason": _one_of("rejected", "busy")}),
    "Hangup": Verb(),
}

# The member's leg before bridging: <Dial> is error 13201, and anything that
# moves the leg elsewhere (Redirect, Record …) is not a whisper's business.
WHISPER_VERBS = frozenset({"Say", "Play", "Gather", "Hangup", "Pause"})
# Record: Twilio's 5 s silence default cut members off mid-report.
MIN_RECORD_SILENCE = 10
APOLOGY_START = "Sorry, this number cannot take your call right now."
# The greeting a member may choose, in every language callers may hear it in.
LOGGED_GREETINGS = frozenset(speaker(language).text(LOGGED_GREETING) for language in LANGUAGES)


def violations(document: str, where: Where) -> list[str]:
    """Everything in ``document`` (a served TwiML text) that real Twilio would
    refuse, or that would behave otherwise than docs/members-and-callers.md promises ``where``
    it is served. Empty when the document is fine."""
    body = document.split("?>", 1)[1] if document.startswith("<?xml") else document
    root = ET.fromstring(body)  # noqa: S314  (the app's own output, in tests)
    found: list[str] = []
    if root.tag != "Response":
        return [f"the root is <{root.tag}>, not <Response>"]
    _check_element(root, found)
    top = list(root)
    for index, verb in enumerate(top):
        if verb.tag == "Record":
            _check_record(verb, index == len(top) - 1, found)
    rules = {
        Where.SAFETY_NUMBER: _first_verb_billing_rule,
        Where.UNANSWERED: _still_unanswered_rule,
        Where.WHISPER: _whisper_rule,
        Where.FALLBACK: _fallback_rule,
        Where.MESSAGING: _messaging_rule,
    }
    rule = rules.get(where)
    if rule is not None:
        found.extend(f"{where}: {problem}" for problem in rule(top))
    return found


# Amazon Polly voices Twilio offers, with the one language each speaks
# (twilio.com/docs/voice/twiml/say/text-speech). A Google voice's name
# carries its language: Google.th-TH-Standard-A speaks th-TH.
POLLY_VOICES = {
    "Polly.Amy": "en-GB",
    "Polly.Brian": "en-GB",
    "Polly.Emma": "en-GB",
    "Polly.Carmen": "ro-RO",
    "Polly.Ewa": "pl-PL",
    "Polly.Maja": "pl-PL",
    "Polly.Jacek": "pl-PL",
    "Polly.Camila": "pt-BR",
    "Polly.Vitoria": "pt-BR",
    "Polly.Ricardo": "pt-BR",
    "Polly.Lucia": "es-ES",
    "Polly.Conchita": "es-ES",
    "Polly.Enrique": "es-ES",
    "Polly.Zhiyu": "cmn-CN",
}
GOOGLE_VOICE = re.compile(r"Google\.([a-z]{2,3}-[A-Z]{2})-(Standard|Wavenet|Neural2)-[A-Z]")


def _say_voice_problem(say: ET.Element) -> str | None:
    """Every <Say> names a voice and the language it speaks: without them
    Twilio reads any language in its default American voice, and an invalid
    pair fails the <Say> (twilio.com/docs/voice/twiml/say)."""
    voice, language = say.get("voice"), say.get("language")
    if voice is None or language is None:
        return "<Say> without both voice and language"
    google = GOOGLE_VOICE.fullmatch(voice)
    speaks = google.group(1) if google else POLLY_VOICES.get(voice)
    if speaks is None:
        return f"<Say voice={voice!r}> is not a voice Twilio offers (in this table)"
    if speaks != language:
        return f"<Say voice={voice!r}> speaks {speaks}, not language={language!r}"
    return None


def _check_element(element: ET.Element, found: list[str]) -> None:
    spec = VERBS.get(element.tag)
    if spec is None:
        found.append(f"<{element.tag}> is not a TwiML verb this table knows")
        return
    problem = _say_voice_problem(element) if element.tag == "Say" else None
    if problem is not None:
        found.append(problem)
    for name, value in element.attrib.items():
        check = spec.attributes.get(name)
        if check is None:
            found.append(f"<{element.tag}> has no attribute {name}")
        elif not check(value):
            found.append(f"<{element.tag} {name}={value!r}> is not a value Twilio accepts")
    if (element.text or "").strip() and not spec.text:
        found.append(f"<{element.tag}> holds text")
    if spec.text and element.tag != "Dial" and not (element.text or "").strip() and element.tag != "Response":
        found.append(f"<{element.tag}> is empty")
    for child in element:
        if child.tag not in spec.children:
            found.append(f"<{child.tag}> may not be nested in <{element.tag}>")
        _check_element(child, found)


def _check_record(record: ET.Element, last: bool, found: list[str]) -> None:
    """Record defaults (reference: "<Record>"): say every one of them."""
    timeout = record.get("timeout")
    if timeout is None or not timeout.isdigit() or int(timeout) < MIN_RECORD_SILENCE:
        found.append(
            f"<Record> needs an explicit silence timeout of at least {MIN_RECORD_SILENCE} s, not {timeout}"
        )
    for name in ("finishOnKey", "maxLength", "playBeep"):
        if record.get(name) is None:
            found.append(f"<Record> leaves {name} to Twilio's default")
    if last:
        # Nothing recorded: Twilio skips the action and plays the next verb.
        found.append("<Record> is the last verb: nothing handles a recording of silence")


def _is_answer_on_bridge_dial(verb: ET.Element) -> bool:
    return verb.tag == "Dial" and verb.get("answerOnBridge") == "true"


def _rejection(top: list[ET.Element]) -> list[str] | None:
    """The verdict on a document that is a <Reject>: every call that will not
    ring gets the same bare one; None when the document is no rejection."""
    if [verb.tag for verb in top] != ["Reject"]:
        return None
    return ["every call that will not ring gets the same bare <Reject/>"] if top[0].attrib else []


def _first_verb_billing_rule(top: list[ET.Element]) -> list[str]:
    """Any first verb but <Reject> or <Dial answerOnBridge> answers the call
    and bills the caller (reference: "Answering and billing")."""
    tags = [verb.tag for verb in top]
    rejection = _rejection(top)
    if rejection is not None:
        return rejection
    if "Reject" in tags:
        return ["<Reject> is only ever the first and only verb"]
    if top and top[0].tag == "Say" and top[0].text in LOGGED_GREETINGS and len(top) > 1:
        ringing = top[1:]  # the member chose the spoken greeting: it answers the call
    else:
        ringing = top
    if ringing and _is_answer_on_bridge_dial(ringing[0]):
        unscreened = [n for n in ringing[0] if n.tag == "Number" and not n.get("url")]
        return ["the member's <Number> rings without a whisper"] if unscreened else []
    if tags[:1] == ["Gather"] and (top[0].get("action") or "").endswith("/voice/access/number"):
        return []  # a members' access line: answered on purpose, to ask for the Safety Number
    if tags == ["Say", "Hangup"] and (top[0].text or "").startswith(APOLOGY_START):
        return []  # an internal failure (never_fails): safe TwiML rather than an error
    return [f"the first verb {tags[:1]} answers the call (and bills the caller) before anyone accepts"]


def _still_unanswered_rule(top: list[ET.Element]) -> list[str]:
    """After a <Dial answerOnBridge> nobody accepted, the caller's leg is still
    unanswered: any verb but <Reject> would answer it now and bill the caller
    for not being put through (docs/members-and-callers.md, calls to a Safety Number: nobody pays unless the
    member accepts)."""
    rejection = _rejection(top)
    if rejection is not None:
        return rejection
    tags = [verb.tag for verb in top]
    return [f"the first verb {tags[:1]} answers a call nobody accepted (and bills the caller)"]


def _whisper_rule(top: list[ET.Element]) -> list[str]:
    return [f"<{verb.tag}> is not allowed in a whisper" for verb in top if verb.tag not in WHISPER_VERBS]


def _fallback_rule(top: list[ET.Element]) -> list[str]:
    if [verb.tag for verb in top] != ["Say", "Hangup"]:
        return ["the fallback is a calm apology, then hang up: nothing else"]
    if re.search(r"\d", top[0].text or ""):
        return ["the fallback speaks a digit"]
    return []


def _messaging_rule(top: list[ET.Element]) -> list[str]:
    return ["an SMS is answered with an empty <Response/>"] if top else []
