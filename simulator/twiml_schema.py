"""What Twilio accepts as voice and messaging TwiML, and a strict parser.

The simulator must fail where Twilio fails: a document Twilio would refuse
(not XML, a verb it does not know, an attribute it does not know or a value
it would reject, a verb nested where it is not allowed, a ``<Dial>`` inside
a whisper) raises :class:`TwimlRejected` with a message naming the problem,
instead of being skipped silently. A whisper may hold ``<Say>``, ``<Play>``,
``<Pause>``, ``<Gather>`` and ``<Hangup>``, as docs/reference.md, How Twilio behaves says,
and nothing else. Verbs Twilio knows but this simulator
does not play (``<Connect>``, ``<Enqueue>`` …) raise :class:`NotSimulated`.
"""

from __future__ import annotations

import enum
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from simulator.errors import NotSimulated, TwimlRejected


class Context(enum.StrEnum):
    """Where a document runs: it decides which verbs are allowed."""

    CALL = "call"  # a call's own document
    WHISPER = "whisper"  # a <Number url> document, run on the callee before bridging
    MESSAGING = "messaging"  # an answer to an incoming SMS


Check = Callable[[str], bool]


def _one_of(*values: str) -> Check:
    return lambda v: v in values


def _int_between(low: int, high: int) -> Check:
    def check(value: str) -> bool:
        return value.strip().isdigit() and low <= int(value) <= high

    return check


def _url(value: str) -> bool:
    # Absolute http(s), or relative to the document; never empty or spaced.
    value = value.strip()
    if not value or any(c.isspace() for c in value):
        return False
    if re.match(r"^[a-z][a-z0-9+.-]*:", value, re.I):
        return bool(re.match(r"^https?://[^/]+", value, re.I))
    return True


def _keys(value: str) -> bool:
    return all(c in "0123456789#*" for c in value)


def _events(allowed: frozenset[str]) -> Check:
    return lambda v: bool(v.split()) and all(e in allowed for e in v.split())


def _phone(value: str) -> bool:
    # What Twilio dials or shows: E.164, or (US habit) digits with separators.
    return bool(re.fullmatch(r"\+?[0-9][0-9 ().-]{2,20}", value.strip()))


def _any(value: str) -> bool:
    return True


BOOL = _one_of("true", "false")
METHOD = _one_of("GET", "POST")
CALL_EVENTS = frozenset({"initiated", "ringing", "answered", "completed"})


@dataclass(frozen=True)
class VerbSpec:
    """One TwiML element: its attributes, children, and whether it holds text."""

    attributes: Mapping[str, Check]
    children: frozenset[str] = frozenset()
    text: str = "none"  # "none" | "optional" | "required"
    contexts: frozenset[Context] = frozenset({Context.CALL})


_SSML = frozenset({"break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as", "sub", "w"})
_CALL_AND_WHISPER = frozenset({Context.CALL, Context.WHISPER})

VOICE_VERBS: dict[str, VerbSpec] = {
    "Say": VerbSpec(
        {"voice": _any, "language": _any, "loop": _int_between(0, 1000)},
        children=_SSML,
        text="optional",
        contexts=_CALL_AND_WHISPER,
    ),
    "Play": VerbSpec(
        {"loop": _int_between(0, 1000), "digits": lambda v: bool(re.fullmatch(r"[0-9#*wW]+", v))},
        text="optional",
        contexts=_CALL_AND_WHISPER,
    ),
    "Pause": VerbSpec({"length": _int_between(1, 600)}, contexts=_CALL_AND_WHISPER),
    "Gather": VerbSpec(
        {
            "action": _url,
            "method": METHOD,
            "timeout": _int_between(1, 600),
            "finishOnKey": lambda v: len(v) <= 1 and _keys(v),
            "numDigits": _int_between(1, 1000),
            "input": _one_of("dtmf", "speech", "dtmf speech", "speech dtmf"),
            "language": _any,
            "hints": _any,
            "speechTimeout": lambda v: v == "auto" or v.isdigit(),
            "maxSpeechTime": _int_between(1, 60),
            "profanityFilter": BOOL,
            "partialResultCallback": _url,
            "partialResultCallbackMethod": METHOD,
            "actionOnEmptyResult": BOOL,
            "bargeIn": BOOL,
            "debug": BOOL,
            "speechModel": _any,
            "enhanced": BOOL,
        },
        children=frozenset({"Say", "Play", "Pause"}),
        contexts=_CALL_AND_WHISPER,
    ),
    "Record": VerbSpec(
        {
            "action": _url,
            "method": METHOD,
            "timeout": _int_between(0, 600),
            "finishOnKey": _keys,
            "maxLength": _int_between(1, 14400),
            "playBeep": BOOL,
            "trim": _one_of("trim-silence", "do-not-trim"),
            "recordingStatusCallback": _url,
            "recordingStatusCallbackMethod": METHOD,
            "recordingStatusCallbackEvent": _events(frozenset({"in-progress", "completed", "absent"})),
            "transcribe": BOOL,
            "transcribeCallback": _url,
            "storageUrl": _url,
            "storageUrlMethod": METHOD,
        }
    ),
    "Dial": VerbSpec(
        {
            "action": _url,
            "method": METHOD,
            "timeout": _int_between(1, 600),
            "hangupOnStar": BOOL,
            "timeLimit": _int_between(1, 86400),
            "callerId": _phone,
            "record": _one_of(
                "do-not-record",
                "record-from-answer",
                "record-from-ringing",
                "record-from-answer-dual",
                "record-from-ringing-dual",
            ),
            "trim": _one_of("trim-silence", "do-not-trim"),
            "recordingStatusCallback": _url,
            "recordingStatusCallbackMethod": METHOD,
            "recordingStatusCallbackEvent": _events(frozenset({"in-progress", "completed", "absent"})),
            "answerOnBridge": BOOL,
            "ringTone": _any,
            "recordingTrack": _one_of("both", "inbound", "outbound"),
            "sequential": BOOL,
            "referUrl": _url,
            "referMethod": METHOD,
            "callReason": lambda v: len(v) <= 50,
        },
        children=frozenset({"Number"}),
        text="optional",
    ),
    "Number": VerbSpec(
        {
            "sendDigits": lambda v: bool(re.fullmatch(r"[0-9#*wW]+", v)),
            "url": _url,
            "method": METHOD,
            "statusCallbackEvent": _events(CALL_EVENTS),
            "statusCallback": _url,
            "statusCallbackMethod": METHOD,
            "byoc": _any,
            "machineDetection": _one_of("Enable", "DetectMessageEnd"),
            "machineDetectionTimeout": _int_between(3, 60),
            "amdStatusCallback": _url,
            "amdStatusCallbackMethod": METHOD,
        },
        text="required",
    ),
    "Hangup": VerbSpec({}, contexts=_CALL_AND_WHISPER),
    "Reject": VerbSpec({"reason": _one_of("rejected", "busy")}),
    "Redirect": VerbSpec({"method": METHOD}, text="required"),
}
# Nouns are valid only inside their verb.
NOUNS = frozenset({"Number"})
# Real Twilio verbs and nouns this simulator does not play.
KNOWN_NOT_SIMULATED = frozenset(
    {
        "Connect",
        "Enqueue",
        "Leave",
        "Pay",
        "Prompt",
        "Queue",
        "Refer",
        "Sms",
        "Start",
        "Stop",
        "Echo",
        "Client",
        "Conference",
        "Sip",
        "Sim",
        "Application",
        "WhatsApp",
    }
)
MESSAGING_VERBS: dict[str, VerbSpec] = {
    "Message": VerbSpec({"to": _phone, "from": _phone, "action": _url, "method": METHOD}, text="optional"),
    "Redirect": VerbSpec({"method": METHOD}, text="required"),
}


@dataclass
class Verb:
    """One parsed verb: its name, attributes, text and nested verbs."""

    name: str
    attributes: dict[str, str]
    text: str = ""
    children: list[Verb] = field(default_factory=list)

    def get(self, name: str, default: str = "") -> str:
        return self.attributes.get(name, default)

    def flag(self, name: str, default: bool = False) -> bool:
        if name not in self.attributes:
            return default
        return self.attributes[name] == "true"

    def number(self, name: str, default: int) -> int:
        return int(self.attributes[name]) if name in self.attributes else default


def parse_twiml(document: str | bytes, context: Context = Context.CALL) -> list[Verb]:
    """Parse and validate a TwiML document as Twilio would; return its verbs.

    Raises :class:`TwimlRejected` (or :class:`NotSimulated`) naming the
    first problem found.
    """
    try:
        root = ET.fromstring(document)  # noqa: S314 - the app's own answer
    except ET.ParseError as exc:
        raise TwimlRejected(f"not well-formed XML ({exc})") from exc
    if root.tag != "Response":
        raise TwimlRejected(f"the root element is <{root.tag}>, not <Response>")
    if root.attrib:
        raise TwimlRejected(f"<Response> takes no attributes, got {sorted(root.attrib)}")
    _no_stray_text(root, "Response")
    return [_parse(child, context, parent="Response") for child in root]


def _spec(tag: str, context: Context, parent: str) -> VerbSpec:
    table = MESSAGING_VERBS if context is Context.MESSAGING else VOICE_VERBS
    if context is not Context.MESSAGING and tag in KNOWN_NOT_SIMULATED:
        raise NotSimulated(f"<{tag}> is TwiML the simulator does not play")
    if tag not in table:
        raise TwimlRejected(f"unknown verb <{tag}> in <{parent}>")
    spec = table[tag]
    if parent == "Response" and tag in NOUNS:
        raise TwimlRejected(f"<{tag}> is allowed only inside <Dial>")
    if context not in spec.contexts and context is not Context.MESSAGING:
        where = "a whisper (<Number url>) document" if context is Context.WHISPER else f"a {context} document"
        # Twilio's own error for a <Dial> in a whisper; other verbs have none of their own.
        code = " (Twilio error 13201)" if context is Context.WHISPER and tag == "Dial" else ""
        raise TwimlRejected(f"<{tag}> is not allowed in {where}{code}")
    return spec


def _parse(element: ET.Element, context: Context, parent: str) -> Verb:
    tag = element.tag
    spec = _spec(tag, context, parent)
    for name, value in element.attrib.items():
        if name not in spec.attributes:
            raise TwimlRejected(f"unknown attribute {name}=… on <{tag}>")
        if not spec.attributes[name](value):
            raise TwimlRejected(f"invalid value {value!r} for {name} on <{tag}>")
    children: list[Verb] = []
    text_parts = [element.text or ""]
    for child in element:
        if child.tag in _SSML and child.tag in spec.children:
            # SSML inside <Say> is part of what is spoken.
            text_parts.append("".join(child.itertext()))
        elif child.tag in spec.children:
            children.append(_parse(child, context, parent=tag))
        else:
            raise TwimlRejected(f"<{child.tag}> is not allowed inside <{tag}>")
        text_parts.append(child.tail or "")
    text = " ".join("".join(text_parts).split())
    if spec.text == "none" and text:
        raise TwimlRejected(f"<{tag}> takes no text, got {text[:40]!r}")
    if spec.text == "required" and not text:
        raise TwimlRejected(f"<{tag}> needs text (a URL or a number)")
    if tag == "Dial" and bool(text) == bool(children):
        raise TwimlRejected("<Dial> needs either a number as text or <Number> nouns, not both or neither")
    if tag == "Dial" and len(children) > 10:
        raise TwimlRejected("<Dial> takes at most ten <Number> nouns")
    if (tag == "Number" or (tag == "Dial" and text)) and not _phone(text):
        raise TwimlRejected(f"<{tag}> text {text[:40]!r} is not a phone number")
    if tag == "Redirect" and not _url(text):
        raise TwimlRejected("<Redirect> needs a URL")
    return Verb(tag, dict(element.attrib), text, children)


def _no_stray_text(element: ET.Element, tag: str) -> None:
    if (element.text or "").strip() or any((c.tail or "").strip() for c in element):
        raise TwimlRejected(f"<{tag}> holds stray text")
