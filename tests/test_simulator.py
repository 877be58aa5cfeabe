"""The simulator on its own: hand-written TwiML served by a toy app.

It must sign like Twilio (the twilio library's RequestValidator accepts every
request), play TwiML as Twilio does, and refuse TwiML that Twilio refuses.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from simulator.audio import wav_seconds
from simulator.callbacks import Delivery
from simulator.engine import Simulator
from simulator.errors import NotSimulated, ScriptError, SimulationError, TwimlRejected
from simulator.keypad import Callee, ScriptedKeypad, parse_keys
from simulator.speech import RecordSettings, Speech, parse_speech, record
from simulator.transcript import WITHHELD_CALLER_IDS, Phonebook
from simulator.transport import InProcess, OverHttp, signature
from simulator.twiml_schema import VOICE_VERBS, Context, parse_twiml

BASE = "https://safety.example.org"
TOKEN = "12345"
ACCOUNT = "ACtest00000000000000000000000000000"
LINE = "+442079460001"
MEMBER = "+442079460123"
CALLER = "+442079460456"


@dataclass
class ToyTwilioApp:
    """Serves TwiML by path, checks every signature, remembers every request."""

    documents: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    bad_signatures: int = 0
    # Scripted trouble by path: an HTTP status to answer instead, seconds to stall.
    statuses: dict[str, int] = field(default_factory=dict)
    stalls: dict[str, float] = field(default_factory=dict)
    content_types: list[str] = field(default_factory=list)

    def flask(self) -> Flask:
        app = Flask("toy")
        validator = RequestValidator(TOKEN)

        @app.route("/<path:path>", methods=["GET", "POST"])
        def serve(path: str) -> Response:
            query = request.query_string.decode()
            url = BASE + request.path + (f"?{query}" if query else "")
            form = request.form.to_dict()
            if not validator.validate(url, form, request.headers.get("X-Twilio-Signature", "")):
                self.bad_signatures += 1
                return Response("forbidden", status=403)
            self.requests.append((request.path, form))
            self.content_types.append(request.content_type or "")
            time.sleep(self.stalls.get(request.path, 0.0))
            if request.path in self.statuses:
                return Response("trouble", status=self.statuses[request.path])
            body = self.documents.get(request.path)
            if body is None:
                return Response("", status=204)
            return Response(body, mimetype="text/xml")

        return app

    def posted(self, path: str) -> list[dict[str, str]]:
        return [form for p, form in self.requests if p == path]


class MemoryRecordings:
    """The fake Twilio's part the simulator needs: recordings and call records."""

    def __init__(self) -> None:
        self.audio: dict[str, bytes] = {}
        self.calls: dict[str, tuple[str, str, str | None]] = {}

    def add_call(self, sid: str, from_: str, to: str, parent_sid: str | None = None) -> None:
        self.calls[sid] = (from_, to, parent_sid)

    def add_recording(self, sid: str, audio: bytes, *, call_sid=None, duration=None) -> str:
        self.audio[sid] = audio
        return f"http://127.0.0.1:9999/2010-04-01/Accounts/{ACCOUNT}/Recordings/{sid}"


@pytest.fixture
def toy() -> ToyTwilioApp:
    return ToyTwilioApp()


def simulator(toy: ToyTwilioApp, **kwargs) -> Simulator:
    phonebook = Phonebook(labels={MEMBER: "member", CALLER: "caller"}, public={LINE})
    transport = InProcess(toy.flask(), public_base_url=BASE, token=TOKEN)
    return Simulator(transport, account_sid=ACCOUNT, phonebook=phonebook, **kwargs)


def doc(body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'


SCREENED = {
    "/voice/incoming": doc(
        '<Say>Connecting you.</Say><Dial answerOnBridge="true" timeout="20" callerId="+442079460001"'
        ' action="/voice/dial_result?call=1">'
        f'<Number url="{BASE}/voice/whisper" statusCallback="{BASE}/voice/leg"'
        f' statusCallbackEvent="initiated ringing answered completed">{MEMBER}</Number></Dial>'
    ),
    "/voice/whisper": doc(
        '<Gather numDigits="1" timeout="5" action="/voice/screen">'
        "<Say>Safety Number call from a number ending 4 5 6. Press 1 to accept, 2 to decline.</Say>"
        "</Gather><Hangup/>"
    ),
    "/voice/dial_result": doc("<Say>Sorry, not available.</Say><Hangup/>"),
}


def test_every_request_is_signed_as_twilio_signs_it(toy: ToyTwilioApp) -> None:
    toy.documents.update(SCREENED, **{"/voice/screen": doc("")})
    simulator(toy).call(CALLER, LINE, callee=Callee.parse("1"))
    assert toy.bad_signatures == 0
    assert len(toy.requests) >= 8
    # The same function, fed another URL, gives a signature the validator refuses.
    params = {"CallSid": "CA1", "From": CALLER}
    forged = signature(TOKEN, BASE + "/voice/other", params)
    assert not RequestValidator(TOKEN).validate(BASE + "/voice/incoming", params, forged)
    assert RequestValidator(TOKEN).validate(
        BASE + "/voice/incoming", params, signature(TOKEN, BASE + "/voice/incoming", params)
    )


def test_accepted_screened_call_bridges_after_the_whisper(toy: ToyTwilioApp) -> None:
    toy.documents.update(SCREENED, **{"/voice/screen": doc("")})
    result = simulator(toy).call(CALLER, LINE, callee=Callee.parse("1"))

    incoming = toy.posted("/voice/incoming")[0]
    assert incoming["CallStatus"] == "ringing" and incoming["Direction"] == "inbound"
    assert incoming["From"] == CALLER and incoming["To"] == LINE and incoming["AccountSid"] == ACCOUNT

    whisper = toy.posted("/voice/whisper")[0]
    assert whisper["CallSid"] == result.child_sids[0] != result.call_sid
    assert whisper["ParentCallSid"] == result.call_sid
    assert whisper["Direction"] == "outbound-dial" and whisper["CallStatus"] == "in-progress"
    assert whisper["From"] == LINE  # the Dial callerId is what the member's phone shows
    assert toy.posted("/voice/screen")[0]["Digits"] == "1"

    legs = toy.posted("/voice/leg")
    assert [form["CallStatus"] for form in legs] == ["initiated", "ringing", "in-progress", "completed"]
    assert [int(form["SequenceNumber"]) for form in legs] == [0, 1, 2, 3]
    # The member's leg counts from their answer: the whisper, then 42 s of talk.
    assert int(legs[-1]["CallDuration"]) > 42

    dial_result = toy.posted("/voice/dial_result")[0]
    assert dial_result["DialCallStatus"] == "completed"
    assert dial_result["DialBridged"] == "true"
    assert dial_result["DialCallSid"] == result.child_sids[0]
    assert dial_result["DialCallDuration"] == legs[-1]["CallDuration"]

    # The number's own status callback gets the caller's leg at the end.
    final = toy.posted("/voice/status")[-1]
    assert final["CallSid"] == result.call_sid and final["CallStatus"] == "completed"

    assert result.bridged and result.answered and result.status == "completed"
    assert result.displayed == [LINE]
    text = result.transcript.render()
    assert "member  phone rings; the display shows +442079460001" in text
    assert 'member  hears "Safety Number call from a number ending 4 5 6.' in text
    assert "member  presses 1" in text
    assert "connects the caller and the member" in text
    assert MEMBER not in text and CALLER not in text  # transcripts are logs: last three digits at most
    assert "…123" in text


def test_whisper_without_a_key_ends_the_member_leg_unbridged(toy: ToyTwilioApp) -> None:
    toy.documents.update(SCREENED)
    result = simulator(toy).call(CALLER, LINE, callee=Callee.parse("none"))
    assert not result.bridged
    assert toy.posted("/voice/screen") == []  # silence: no Gather action, the next verb runs
    dial_result = toy.posted("/voice/dial_result")[0]
    assert dial_result["DialCallStatus"] == "completed" and dial_result["DialBridged"] == "false"
    assert "Sorry, not available." in result.spoken_to("caller")


@pytest.mark.parametrize("status", ["busy", "no-answer", "failed"])
def test_unanswered_dial_reports_its_status(toy: ToyTwilioApp, status: str) -> None:
    toy.documents.update(SCREENED)
    result = simulator(toy).call(CALLER, LINE, callee=Callee.parse(status))
    assert toy.posted("/voice/whisper") == []
    assert toy.posted("/voice/dial_result")[0]["DialCallStatus"] == status
    assert toy.posted("/voice/leg")[-1]["CallStatus"] == status
    assert not result.bridged


def test_time_limit_cuts_the_bridged_call(toy: ToyTwilioApp) -> None:
    toy.documents["/voice/incoming"] = doc(f'<Dial timeLimit="10" action="/voice/done">{MEMBER}</Dial>')
    toy.documents["/voice/done"] = doc("")
    simulator(toy).call(CALLER, LINE, callee=Callee.parse("", talk_seconds=300))
    assert toy.posted("/voice/done")[0]["DialCallDuration"] == "10"


def test_reject_first_means_never_answered(toy: ToyTwilioApp) -> None:
    toy.documents["/voice/incoming"] = doc('<Reject reason="busy"/><Say>unreachable</Say>')
    result = simulator(toy).call(CALLER, LINE)
    assert result.rejected and not result.answered and result.status == "busy"
    assert "unreachable" not in result.spoken_to("caller")
    assert toy.posted("/voice/status")[-1]["CallStatus"] == "busy"
    assert not [line for line in result.transcript.lines if line.kind == "answers"]


def test_gather_digits_follow_finish_key_and_num_digits(toy: ToyTwilioApp) -> None:
    toy.documents["/voice/incoming"] = doc(
        '<Gather finishOnKey="#" action="/voice/pin"><Say>PIN?</Say></Gather><Say>No PIN.</Say>'
    )
    toy.documents["/voice/pin"] = doc('<Gather numDigits="1" action="/voice/option"/>')
    toy.documents["/voice/option"] = doc("<Hangup/>")
    result = simulator(toy).call(MEMBER, LINE, ScriptedKeypad.of("4821#,93"))
    assert toy.posted("/voice/pin")[0]["Digits"] == "4821"
    assert toy.posted("/voice/option")[0]["Digits"] == "9"
    assert toy.posted("/voice/pin")[0]["CallStatus"] == "in-progress"
    assert "No PIN." not in result.spoken_to("member")


def test_silence_falls_through_to_the_next_verb(toy: ToyTwilioApp) -> None:
    toy.documents["/voice/incoming"] = doc(
        '<Gather timeout="3" action="/voice/pin"><Say>PIN?</Say></Gather><Say>Goodbye.</Say>'
    )
    result = simulator(toy).call(MEMBER, LINE, ScriptedKeypad.of(","))
    assert toy.posted("/voice/pin") == []
    assert result.spoken_to("member").endswith('"Goodbye."')


def test_play_pause_and_get_methods(toy: ToyTwilioApp) -> None:
    toy.documents["/voice/incoming"] = doc(
        '<Play loop="2">https://example.org/hold.mp3</Play><Pause length="3"/>'
        '<Gather method="GET" numDigits="1" action="/voice/next?step=2"><Play digits="1w2"/></Gather>'
    )
    toy.documents["/voice/next"] = doc("<Hangup/>")
    result = simulator(toy).call(CALLER, LINE, ScriptedKeypad.of("7"))
    assert toy.bad_signatures == 0  # GET signs the whole URL, parameters in the query
    assert toy.requests[1][0] == "/voice/next"
    heard = result.spoken_to("caller")
    assert "https://example.org/hold.mp3" in heard and "3 s of silence" in heard and "tones 1w2" in heard


def test_speech_gather_is_reported_not_guessed(toy: ToyTwilioApp) -> None:
    toy.documents["/voice/incoming"] = doc('<Gather input="speech" action="/voice/said"/>')
    with pytest.raises(SimulationError, match="speech input is not simulated"):
        simulator(toy).call(CALLER, LINE, ScriptedKeypad.of("1"))


def test_redirect_is_followed_relative_to_the_document(toy: ToyTwilioApp) -> None:
    toy.documents["/voice/incoming"] = doc("<Redirect>/voice/menu/start?x=1</Redirect>")
    toy.documents["/voice/menu/start"] = doc("<Say>Menu.</Say>")
    result = simulator(toy).call(MEMBER, LINE)
    assert toy.posted("/voice/menu/start")
    assert "Menu." in result.spoken_to("member")


def test_record_produces_a_wav_then_posts_action_and_callback(toy: ToyTwilioApp) -> None:
    toy.documents["/voice/incoming"] = doc(
        '<Record maxLength="60" playBeep="true" action="/voice/recorded"'
        f' recordingStatusCallback="{BASE}/voice/recording"/>'
    )
    toy.documents["/voice/recorded"] = doc("<Say>Thanks.</Say>")
    host = MemoryRecordings()
    sim = simulator(toy, recordings=host, api_base_url="http://127.0.0.1:9999")
    result = sim.call(MEMBER, LINE)
    (sid,) = result.recording_sids
    assert wav_seconds(host.audio[sid]) == 4
    action = toy.posted("/voice/recorded")[0]
    callback = toy.posted("/voice/recording")[0]
    url = f"http://127.0.0.1:9999/2010-04-01/Accounts/{ACCOUNT}/Recordings/{sid}"
    assert action["RecordingSid"] == sid and action["RecordingUrl"] == url
    assert action["RecordingDuration"] == "4"
    assert callback["RecordingStatus"] == "completed" and callback["RecordingUrl"] == url
    assert callback["CallSid"] == result.call_sid
    paths = [path for path, _ in toy.requests]
    assert paths.index("/voice/recorded") < paths.index("/voice/recording")


REJECTED = [
    ("<Foo/>", Context.CALL, "unknown verb <Foo>"),
    ('<Say colour="red">hi</Say>', Context.CALL, "unknown attribute colour"),
    ('<Gather numDigits="one"/>', Context.CALL, "invalid value 'one' for numDigits"),
    ('<Dial answerOnBridge="yes">+442079460123</Dial>', Context.CALL, "'yes' for answerOnBridge"),
    ('<Gather finishOnKey="##"/>', Context.CALL, "finishOnKey"),
    ("<Gather><Gather/></Gather>", Context.CALL, "<Gather> is not allowed inside <Gather>"),
    ("<Gather><Dial>+442079460123</Dial></Gather>", Context.CALL, "<Dial> is not allowed inside <Gather>"),
    ("<Say><Play>x</Play></Say>", Context.CALL, "<Play> is not allowed inside <Say>"),
    ("<Number>+442079460123</Number>", Context.CALL, "only inside <Dial>"),
    ("<Dial><Say>hi</Say></Dial>", Context.CALL, "<Say> is not allowed inside <Dial>"),
    ("<Dial>call me maybe</Dial>", Context.CALL, "is not a phone number"),
    ('<Dial callerId="Ruby">+442079460123</Dial>', Context.CALL, "callerId"),
    ("<Dial/>", Context.CALL, "needs either a number"),
    ("<Hangup>now</Hangup>", Context.CALL, "takes no text"),
    ("<Redirect/>", Context.CALL, "needs text"),
    ('<Reject reason="rude"/>', Context.CALL, "reason"),
    ("<Dial>+442079460456</Dial>", Context.WHISPER, "not allowed in a whisper"),
    ("<Record/>", Context.WHISPER, "not allowed in a whisper"),
    ("<Reject/>", Context.WHISPER, "not allowed in a whisper"),
    ("<Redirect>/x</Redirect>", Context.WHISPER, "not allowed in a whisper"),
    ("<Say>hi</Say>", Context.MESSAGING, "unknown verb <Say>"),
]


@pytest.mark.parametrize(("body", "context", "message"), REJECTED)
def test_twiml_twilio_refuses_is_refused(body: str, context: Context, message: str) -> None:
    with pytest.raises(TwimlRejected, match=message.replace("(", r"\(")):
        parse_twiml(doc(body), context)


def test_documents_that_are_not_twiml_are_refused() -> None:
    for document in ("not xml", "<Reply/>", '<Response x="1"/>', "<Response>text</Response>"):
        with pytest.raises(TwimlRejected):
            parse_twiml(document)
    with pytest.raises(NotSimulated):
        parse_twiml(doc("<Connect/>"))


def test_valid_twiml_parses_with_nesting_and_ssml() -> None:
    verbs = parse_twiml(
        doc(
            '<Gather input="dtmf" numDigits="1" finishOnKey="" actionOnEmptyResult="true">'
            '<Say voice="Polly.Amy" language="en-GB">Hello <break time="1s"/> there</Say><Pause length="1"/>'
            '</Gather><Dial callerId="+442079460001" timeLimit="3600" answerOnBridge="true">'
            '<Number statusCallbackEvent="initiated completed" statusCallback="/s">'
            "+442079460456</Number></Dial>"
        )
    )
    assert [v.name for v in verbs] == ["Gather", "Dial"]
    assert verbs[0].children[0].text == "Hello there"
    assert verbs[1].children[0].text == "+442079460456"


def test_whisper_with_dial_fails_the_simulation(toy: ToyTwilioApp) -> None:
    toy.documents.update(SCREENED)
    toy.documents["/voice/whisper"] = doc(f"<Dial>{CALLER}</Dial>")
    with pytest.raises(SimulationError, match="not allowed in a whisper"):
        simulator(toy).call(CALLER, LINE, callee=Callee.parse("1"))


def test_unknown_verb_is_reported_in_the_transcript_when_not_strict(toy: ToyTwilioApp) -> None:
    toy.documents["/voice/incoming"] = doc("<Say>Hi.</Say><Blink/>")
    toy.documents["/voice/fallback"] = doc("<Say>Sorry.</Say><Hangup/>")
    result = simulator(toy, strict=False).call(CALLER, LINE)
    assert any("unknown verb <Blink>" in error for error in result.errors)
    assert "ERROR: /voice/incoming: unknown verb <Blink>" in result.transcript.render()
    fallback = toy.posted("/voice/fallback")[0]
    # A document Twilio cannot parse is error 12100 (11200 is an HTTP failure).
    assert fallback["ErrorCode"] == "12100" and fallback["ErrorUrl"] == BASE + "/voice/incoming"
    assert "Sorry." in result.spoken_to("caller")


def test_http_errors_are_reported(toy: ToyTwilioApp) -> None:
    toy.documents["/voice/incoming"] = doc("<Say>Hi.</Say>")
    sim = Simulator(InProcess(toy.flask(), BASE, "wrong-token"), account_sid=ACCOUNT, strict=False)
    result = sim.call(CALLER, LINE)
    assert any("/voice/incoming answered HTTP 403" in error for error in result.errors)
    assert toy.requests == [] and toy.bad_signatures >= 1
    with pytest.raises(SimulationError, match="HTTP 403"):
        Simulator(InProcess(toy.flask(), BASE, "wrong-token"), account_sid=ACCOUNT).call(CALLER, LINE)


def test_sms_dropped_shows_no_body(toy: ToyTwilioApp) -> None:
    toy.documents["/sms/incoming"] = doc("")
    result = simulator(toy).sms(CALLER, LINE, "meet at 9, my number is 07911123456")
    form = toy.posted("/sms/incoming")[0]
    assert form["Body"].startswith("meet at 9") and form["MessageSid"].startswith("SM")
    text = result.transcript.render()
    assert "message is dropped" in text and "meet at" not in text and "07911" not in text
    assert result.replies == []


def test_keyed_numbers_are_masked_in_transcripts(toy: ToyTwilioApp) -> None:
    toy.documents["/voice/incoming"] = doc('<Gather action="/voice/dest"/>')
    toy.documents["/voice/dest"] = doc("<Hangup/>")
    result = simulator(toy).call(MEMBER, LINE, ScriptedKeypad.of("02079460456#"))
    assert toy.posted("/voice/dest")[0]["Digits"] == "02079460456"
    assert "presses (a number ending 456)#" in result.transcript.render()
    assert "0207946" not in result.transcript.render()


def test_key_scripts() -> None:
    assert parse_keys("4821#,,1,-") == ["4821#", None, "1", None]
    assert parse_keys(["1", None]) == ["1", None]
    with pytest.raises(ScriptError):
        parse_keys("12a")
    assert Callee.parse("busy").answers == "busy"
    assert Callee.parse("none").keypad.press("member", "") is None
    keypad = ScriptedKeypad.of("1,2")
    assert keypad.press("m", "") == "1"
    assert keypad.left_over == ["2"]


@pytest.fixture
def served_toy(toy: ToyTwilioApp) -> Iterator[tuple[ToyTwilioApp, str]]:
    server = make_server("127.0.0.1", 0, toy.flask(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield toy, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def test_over_http_to_a_running_server(served_toy: tuple[ToyTwilioApp, str]) -> None:
    toy, url = served_toy
    toy.documents.update(SCREENED, **{"/voice/screen": doc("")})
    sim = Simulator(OverHttp(url, BASE, TOKEN), account_sid=ACCOUNT)
    result = sim.call(CALLER, LINE, callee=Callee.parse("1"))
    assert result.bridged and toy.bad_signatures == 0
    assert toy.posted("/voice/dial_result")[0]["DialBridged"] == "true"


# -- docs/reference.md, How Twilio behaves: what answers (and bills) a call --------

DIAL_FIRST = {
    **SCREENED,
    "/voice/incoming": SCREENED["/voice/incoming"].replace("<Say>Connecting you.</Say>", ""),
    "/voice/screen": doc("<Hangup/>"),  # the member declines
    "/voice/dial_result": doc("<Reject/>"),
}


def test_a_first_say_answers_the_call_and_the_transcript_says_why(toy: ToyTwilioApp) -> None:
    toy.documents.update(SCREENED, **{"/voice/screen": doc("<Hangup/>")})
    result = simulator(toy).call(CALLER, LINE, callee=Callee.parse("2"))
    assert result.billed and not result.bridged
    assert result.answered_why == "its first verb <Say> answers it"
    assert "answers the call from the caller: its first verb <Say> answers it (billed from now)" in str(
        result.transcript
    )
    # Once answered, answerOnBridge changes nothing and Twilio plays the ringback.
    assert "answerOnBridge changes nothing now" in str(result.transcript)


def test_dial_answer_on_bridge_first_bills_nothing_unless_bridged(toy: ToyTwilioApp) -> None:
    toy.documents.update(DIAL_FIRST)
    declined = simulator(toy).call(CALLER, LINE, callee=Callee.parse("2"))
    assert not declined.billed and not declined.answered and declined.answered_why == ""
    assert declined.rejected and declined.status == "no-answer"
    assert "hears ringing; the call is not answered, so nothing is billed" in declined.spoken_to("caller")
    assert toy.posted("/voice/dial_result")[0]["CallStatus"] == "ringing"  # still unanswered there

    toy.documents["/voice/screen"] = doc("")
    accepted = simulator(toy).call(CALLER, LINE, callee=Callee.parse("1"))
    assert accepted.billed and accepted.bridged
    assert accepted.answered_why == "<Dial answerOnBridge> connects the member"


def test_after_an_unbridged_dial_any_verb_but_reject_answers(toy: ToyTwilioApp) -> None:
    toy.documents.update(DIAL_FIRST, **{"/voice/dial_result": doc("<Say>Sorry.</Say><Hangup/>")})
    result = simulator(toy).call(CALLER, LINE, callee=Callee.parse("2"))
    assert result.billed
    assert result.answered_why == "a verb on the unanswered call, <Say> answers it"
    # A document that simply ends after the Dial leaves the call unanswered.
    toy.documents["/voice/dial_result"] = doc("")
    ended = simulator(toy).call(CALLER, LINE, callee=Callee.parse("busy"))
    assert not ended.billed and ended.status == "busy"
    # An empty first document answers (it is no <Reject>).
    toy.documents["/voice/incoming"] = doc("")
    assert simulator(toy).call(CALLER, LINE).billed


# -- <Record>: silence timeout, nothing recorded, hangup -------------------------------

REPORT = "speak 12, pause 7, speak 20, press #"


def record_document(attributes: str) -> dict[str, str]:
    return {
        "/voice/incoming": doc(
            f'<Record {attributes} action="/voice/recorded" recordingStatusCallback="/voice/recording"'
            ' recordingStatusCallbackEvent="completed absent"/><Say>Nothing was recorded.</Say>'
        ),
        "/voice/recorded": doc("<Say>Thank you.</Say>"),
    }


def test_a_long_silence_timeout_keeps_a_seven_second_pause(toy: ToyTwilioApp) -> None:
    toy.documents.update(record_document('timeout="10" finishOnKey="#" maxLength="600"'))
    host = MemoryRecordings()
    result = simulator(toy, recordings=host).call(MEMBER, LINE, speech=Speech.of([REPORT]))
    action = toy.posted("/voice/recorded")[0]
    assert action["RecordingDuration"] == "39" and action["Digits"] == "#"
    assert wav_seconds(host.audio[action["RecordingSid"]]) == 39
    assert [r.seconds for r in result.recorded] == [39]
    assert "the recording ends on the key #: 39 s recorded" in str(result.transcript)


def test_twilios_default_timeout_cuts_the_report_at_the_pause(toy: ToyTwilioApp) -> None:
    toy.documents.update(record_document('finishOnKey="#"'))
    result = simulator(toy, recordings=MemoryRecordings()).call(MEMBER, LINE, speech=Speech.of([REPORT]))
    action = toy.posted("/voice/recorded")[0]
    assert action["RecordingDuration"] == "12" and "Digits" not in action
    text = str(result.transcript)
    assert "the recording ends after 5 s of silence (Record timeout): 12 s recorded" in text
    assert "goes on (speak 20 s, press #) after the recording ended: all of it lost" in text


def test_nothing_recorded_means_no_action_and_an_absent_callback(toy: ToyTwilioApp) -> None:
    toy.documents.update(record_document('timeout="10" finishOnKey="#"'))
    result = simulator(toy, recordings=MemoryRecordings()).call(MEMBER, LINE, speech=Speech.of(["silence"]))
    assert toy.posted("/voice/recorded") == []
    assert result.spoken_to("member").endswith('"Nothing was recorded."')  # the next verb ran
    (absent,) = toy.posted("/voice/recording")
    assert absent["RecordingStatus"] == "absent" and absent["RecordingDuration"] == "0"
    assert absent["CallSid"] == result.call_sid and absent["ErrorCode"] != "0"
    assert result.recording_sids == [] and [r.absent for r in result.recorded] == [True]


def test_hanging_up_mid_recording_posts_digits_hangup(toy: ToyTwilioApp) -> None:
    toy.documents.update(record_document('timeout="10" finishOnKey="#"'))
    result = simulator(toy, recordings=MemoryRecordings()).call(
        MEMBER, LINE, speech=Speech.of(["speak 6, hangup"])
    )
    action = toy.posted("/voice/recorded")[0]
    assert action["Digits"] == "hangup" and action["RecordingDuration"] == "6"
    assert "Thank you." not in result.spoken_to("member")  # nobody is left to hear it
    assert toy.posted("/voice/recording")[0]["RecordingStatus"] == "completed"


def test_speech_scripts() -> None:
    segments = parse_speech("speak 12, pause 7 ,press #, hangup")
    assert [s.describe() for s in segments] == ["speak 12 s", "pause 7 s", "press #", "hangup"]
    assert parse_speech("silence") == []
    with pytest.raises(ScriptError, match="is not speech"):
        parse_speech("shout 3")
    # maxLength cuts speech; timeout 0 never ends on silence.
    assert record(parse_speech("speak 90"), RecordSettings(max_length=60)).seconds == 60
    quiet = record(parse_speech("speak 3, pause 30, speak 3"), RecordSettings(timeout=0, max_length=100))
    assert quiet.seconds == 36 and quiet.ended_by == "maxLength"
    # do-not-trim keeps the silence that ended it.
    assert record(parse_speech("speak 3"), RecordSettings(trim=False)).seconds == 8


# -- status callbacks: real fields, any order, repeats ----------------------------------


def test_status_callbacks_carry_twilios_fields(toy: ToyTwilioApp) -> None:
    toy.documents.update(SCREENED, **{"/voice/screen": doc("")})
    result = simulator(toy).call(CALLER, LINE, callee=Callee.parse("1"))
    legs = toy.posted("/voice/leg")
    for form in legs:
        assert form["CallbackSource"] == "call-progress-events"
        assert form["ParentCallSid"] == result.call_sid and form["Direction"] == "outbound-dial"
        assert form["Timestamp"].endswith(" +0000") and "SequenceNumber" in form
    final = legs[-1]
    assert final["SipResponseCode"] == "200" and int(final["CallDuration"]) > 42
    assert final["Duration"] == "1"  # billed minutes, rounded up
    (number_level,) = toy.posted("/voice/status")
    assert "SequenceNumber" not in number_level and number_level["CallStatus"] == "completed"
    assert "CallDuration" in number_level and "ParentCallSid" not in number_level


def test_callbacks_can_arrive_out_of_order_and_repeated(toy: ToyTwilioApp) -> None:
    toy.documents.update(SCREENED, **{"/voice/screen": doc("")})
    simulator(toy).call(CALLER, LINE, callee=Callee.parse("1"))
    in_order = [f["SequenceNumber"] for f in toy.posted("/voice/leg")]
    toy.requests.clear()
    sim = simulator(toy, delivery=Delivery(seed=7, repeats=2))
    result = sim.call(CALLER, LINE, callee=Callee.parse("1"))
    arrived = [f["SequenceNumber"] for f in toy.posted("/voice/leg")]
    assert arrived != in_order and sorted(set(arrived)) == in_order == ["0", "1", "2", "3"]
    assert len(arrived) + len(toy.posted("/voice/status")) == 4 + 1 + 2  # two repeated
    assert "status callbacks arrive out of order and repeated" in str(result.transcript)
    # The same seed gives the same disorder.
    toy.requests.clear()
    simulator(toy, delivery=Delivery(seed=7, repeats=2)).call(CALLER, LINE, callee=Callee.parse("1"))
    assert [f["SequenceNumber"] for f in toy.posted("/voice/leg")] == arrived


# -- Dial results: canceled, answered, no DialBridged ------------------------------------


def test_a_caller_hanging_up_while_it_rings_cancels_the_dial(toy: ToyTwilioApp) -> None:
    toy.documents.update(DIAL_FIRST, **{"/voice/dial_result": doc("<Say>Sorry.</Say>")})
    result = simulator(toy).call(CALLER, LINE, callee=Callee.parse("canceled"))
    assert toy.posted("/voice/dial_result")[0]["DialCallStatus"] == "canceled"
    assert toy.posted("/voice/leg")[-1]["CallStatus"] == "canceled"
    assert result.status == "canceled" and not result.billed
    assert "Sorry." not in result.spoken_to("caller")


def test_a_connected_dial_may_say_answered_and_leave_out_dial_bridged(toy: ToyTwilioApp) -> None:
    toy.documents.update(SCREENED, **{"/voice/screen": doc("")})
    callee = Callee(keypad=ScriptedKeypad.of("1"), connected_status="answered", reports_bridged=False)
    result = simulator(toy).call(CALLER, LINE, callee=callee)
    form = toy.posted("/voice/dial_result")[0]
    assert form["DialCallStatus"] == "answered" and "DialBridged" not in form
    assert result.bridged and result.dial_status == "answered"


# -- caller ID forms, SMS as Twilio sends it ----------------------------------------------


@pytest.mark.parametrize("form", [*WITHHELD_CALLER_IDS, "sip:alice@example.com", "client:alice"])
def test_every_withheld_form_is_sent_as_is_and_shown_without_a_number(toy: ToyTwilioApp, form: str) -> None:
    toy.documents["/voice/incoming"] = doc("<Reject/>")
    result = simulator(toy).call(form, LINE)
    assert toy.posted("/voice/incoming")[0]["From"] == form
    text = str(result.transcript)
    assert "alice" not in text and form not in text
    assert any(kind in text for kind in ("a withheld number", "a SIP address", "a Twilio Client"))


def test_sms_comes_with_a_charset_media_and_any_text(toy: ToyTwilioApp) -> None:
    toy.documents["/sms/incoming"] = doc("")
    body = "Zoë, ça va? 今晚 ☎ 07911 123456"
    result = simulator(toy).sms(CALLER, LINE, body, media=("image/jpeg",))
    (form,) = toy.posted("/sms/incoming")
    assert toy.bad_signatures == 0 and form["Body"] == body  # signed and decoded as UTF-8
    assert toy.content_types == ["application/x-www-form-urlencoded; charset=UTF-8"]
    assert form["NumMedia"] == "1" and form["MediaContentType0"] == "image/jpeg"
    assert "/Media/ME" in form["MediaUrl0"] and form["MessageSid"].startswith("MM")
    text = str(result.transcript)
    assert "1 attachment(s)" in text and "Zoë" not in text and "Media" not in text


# -- the fallback: errors, slowness, an app that is down -------------------------------------

STATIC_FALLBACK = "https://static.example.net/safety/fallback.xml"


def test_a_failing_webhook_sends_twilio_to_the_fallback_with_the_error(toy: ToyTwilioApp) -> None:
    toy.documents["/voice/fallback"] = doc("<Say>Sorry, try later.</Say><Hangup/>")
    toy.statuses["/voice/incoming"] = 500
    result = simulator(toy, strict=False).call(CALLER, LINE)
    fallback = toy.posted("/voice/fallback")[0]
    assert fallback["ErrorCode"] == "11200" and fallback["ErrorUrl"] == BASE + "/voice/incoming"
    assert result.fallback_used and "Sorry, try later." in result.spoken_to("caller")


def test_a_webhook_slower_than_twilio_waits_counts_as_failed(toy: ToyTwilioApp) -> None:
    toy.documents["/voice/incoming"] = doc("<Say>Too late.</Say>")
    toy.documents["/voice/fallback"] = doc("<Say>Sorry, try later.</Say>")
    toy.stalls["/voice/incoming"] = 0.3
    result = simulator(toy, strict=False, webhook_timeout=0.1).call(CALLER, LINE)
    assert toy.posted("/voice/fallback")[0]["ErrorCode"] == "11205"
    assert "Too late." not in result.spoken_to("caller")
    assert any("more than Twilio waits" in error for error in result.errors)


def test_an_app_that_is_down_is_answered_by_a_fallback_hosted_elsewhere(toy: ToyTwilioApp) -> None:
    static = doc("<Say>Sorry, this number cannot take your call right now.</Say><Hangup/>").encode()
    sim = simulator(toy, fallback=STATIC_FALLBACK, static_documents={STATIC_FALLBACK: static})
    result = sim.call(CALLER, LINE, app_down=True)
    assert toy.requests == [] and result.errors == []  # the outage is the scenario, not a fault
    assert "cannot take your call right now" in result.spoken_to("caller")
    assert result.fallback_used and result.status == "completed"
    assert "POST /voice/incoming -> connection refused" in result.transcript.render(verbose=True)


def test_an_app_slower_than_twilio_waits_is_given_up_on(toy: ToyTwilioApp) -> None:
    toy.documents["/voice/incoming"] = doc("<Say>Too late.</Say>")
    static = doc("<Say>Sorry.</Say><Hangup/>").encode()
    sim = simulator(toy, fallback=STATIC_FALLBACK, static_documents={STATIC_FALLBACK: static})
    result = sim.call(CALLER, LINE, app_delay=20)
    assert len(toy.posted("/voice/incoming")) == 1  # the app got it and answered, too late
    assert result.errors == [] and result.fallback_used  # the slowness is the premise, not a fault
    assert "Too late." not in result.spoken_to("caller") and '"Sorry."' in result.spoken_to("caller")
    gave_up = "POST /voice/incoming -> no answer within 15 s (error 11205)"
    assert gave_up in result.transcript.render(verbose=True)
    # Slow, but in time: answered, after the caller waited for it.
    prompt = simulator(toy).call(CALLER, LINE, app_delay=5)
    assert "Too late." in prompt.spoken_to("caller") and not prompt.fallback_used


def test_a_fallback_on_the_app_itself_fails_with_it(toy: ToyTwilioApp) -> None:
    toy.documents["/voice/fallback"] = doc("<Say>Sorry.</Say>")
    result = simulator(toy).call(CALLER, LINE, app_down=True)
    assert toy.requests == []
    assert "an application error has occurred" in result.spoken_to("caller")


def test_over_http_an_unreachable_server_goes_to_the_fallback(toy: ToyTwilioApp) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    static = doc("<Say>Sorry.</Say>").encode()
    sim = Simulator(
        OverHttp(f"http://127.0.0.1:{port}", BASE, TOKEN, timeout=2),
        account_sid=ACCOUNT,
        phonebook=Phonebook(labels={CALLER: "caller"}),
        strict=False,
        fallback=STATIC_FALLBACK,
        static_documents={STATIC_FALLBACK: static},
    )
    result = sim.call(CALLER, LINE)
    assert any("(Twilio error 11205)" in error for error in result.errors)
    assert '"Sorry."' in result.spoken_to("caller")


# -- the whisper: what Twilio allows there, no more, no less -------------------------------


def test_the_whisper_schema_is_twilios() -> None:
    allowed = {"Say", "Play", "Pause", "Gather", "Hangup"}
    assert {name for name, spec in VOICE_VERBS.items() if Context.WHISPER in spec.contexts} == allowed
    every_allowed = '<Say>a</Say><Play>https://e.org/a.mp3</Play><Pause length="1"/><Gather/><Hangup/>'
    assert [v.name for v in parse_twiml(doc(every_allowed), Context.WHISPER)] == [
        "Say",
        "Play",
        "Pause",
        "Gather",
        "Hangup",
    ]
    with pytest.raises(TwimlRejected, match="13201"):
        parse_twiml(doc("<Dial>+442079460456</Dial>"), Context.WHISPER)
