"""The simulator on its own: hand-written TwiML served by a toy app.

It must sign like Twilio (the twilio library's RequestValidator accepts every
request), play TwiML as Twilio does, and refuse TwiML that Twilio refuses.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from simulator.audio import wav_seconds
from simulator.engine import Simulator
from simulator.errors import NotSimulated, ScriptError, SimulationError, TwimlRejected
from simulator.keypad import Callee, ScriptedKeypad, parse_keys
from simulator.transcript import Phonebook
from simulator.transport import InProcess, OverHttp, signature
from simulator.twiml_schema import Context, parse_twiml

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
            body = self.documents.get(request.path)
            if body is None:
                return Response("", status=204)
            return Response(body, mimetype="text/xml")

        return app

    def posted(self, path: str) -> list[dict[str, str]]:
        return [form for p, form in self.requests if p == path]


class MemoryRecordings:
    def __init__(self) -> None:
        self.audio: dict[str, bytes] = {}

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
    assert fallback["ErrorCode"] == "11200" and fallback["ErrorUrl"] == BASE + "/voice/incoming"
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
