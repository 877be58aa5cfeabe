"""End to end: every scenario file played by the simulator against the app on
PostgreSQL and Redis, its queued jobs run by RQ's SimpleWorker, and its
outcome checked in the transcript, the TwiML and the rows written.

Also the README's first command (the demo, on SQLite) and ``simulate``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.cli import cli as flask_cli
from sqlalchemy import select

from callflows import report as report_flow
from core.services import Services, recording_store
from ivr import create_app, services_of
from simulator import scenarios
from simulator.audio import wav_seconds
from simulator.console import newest_report_with_audio
from simulator.demo import (
    DEMO_ACCESS_LINE,
    DEMO_CALLER,
    DEMO_LINE,
    DEMO_MEMBER_PHONE,
    DEMO_MEMBER_PIN,
    DEMO_SECOND_MEMBER_PHONE,
    DEMO_SPARE_LINES,
    DEMO_STAFF_EMAIL,
    DEMO_STAFF_PASSWORD,
    DEMO_WARNED_CALLER,
    own_demo_numbers,
    seed_demo,
)
from simulator.engine import CallResult, Simulator
from simulator.errors import JobFailed, ScenarioError
from simulator.harness import run_queued_jobs, simulator_for
from simulator.keypad import Callee, ScriptedKeypad
from simulator.speech import Speech
from simulator.transcript import WITHHELD_CALLER_IDS
from simulator.twiml_schema import Verb
from storage import repositories
from storage.hashing import hash_secret
from storage.models import Block, Call, CallEvent, Event, Member, Report, SafetyNumber, Staff

MEMBER_PHONES = (DEMO_MEMBER_PHONE, DEMO_SECOND_MEMBER_PHONE)
REAL_NUMBERS = (*MEMBER_PHONES, DEMO_CALLER, DEMO_WARNED_CALLER)


@dataclass
class World:
    app: Flask
    services: Services
    simulator: Simulator
    fake: Any

    def play(self, name: str) -> scenarios.Outcome:
        outcome = scenarios.play(scenarios.load(name), self.simulator, self.services, app=self.app)
        assert outcome.passed, outcome.render(verbose=True)
        return outcome

    def rows(self, model: type, *where: Any) -> list[Any]:
        with self.services.db.session() as session:
            found: list[Any] = list(session.scalars(select(model).where(*where)))
            session.expunge_all()
            return found


@functools.lru_cache(maxsize=8)
def _same_hash(secret: str) -> str:
    return hash_secret(secret)


@pytest.fixture(autouse=True)
def _hash_each_demo_secret_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Argon2 is slow on purpose; every test seeds the same PINs and password,
    # so hash each once (still real Argon2 hashes, checked the real way).
    monkeypatch.setattr(repositories, "hash_secret", _same_hash)


@pytest.fixture
def world(make_app: Callable[..., Flask], redis: Any, fake_twilio: Any) -> World:
    """The app on PostgreSQL + Redis, pointed at the fake Twilio, with the demo seed."""
    app = make_app(TWILIO_API_BASE_URL=fake_twilio.base_url, PROVIDER_RECORD_DELAY_SECONDS=0)
    services = services_of(app)
    seed_demo(services)
    own_demo_numbers(fake_twilio)
    phonebook = scenarios.Cast().phonebook()
    return World(app, services, simulator_for(app, phonebook=phonebook, recordings=fake_twilio), fake_twilio)


def call_of(outcome: scenarios.Outcome, step: int = 0) -> CallResult:
    result = outcome.results[step]
    assert isinstance(result, CallResult)
    return result


def all_verbs(result: CallResult, name: str) -> list[Verb]:
    """Every verb called ``name`` in every document of the call, nested ones too."""
    found: list[Verb] = []

    def walk(verbs: list[Verb]) -> None:
        for verb in verbs:
            if verb.name == name:
                found.append(verb)
            walk(verb.children)

    for document in result.documents:
        walk(document.verbs)
    return found


@pytest.mark.parametrize("name", scenarios.names())
def test_scenario_comes_out_as_expected(world: World, name: str) -> None:
    outcome = world.play(name)
    for result in outcome.results:
        text = result.transcript.render(verbose=True)
        # Transcripts are logs: no real number in full, ever.
        assert not any(number in text for number in REAL_NUMBERS), text
        for document in result.documents:
            for phone in MEMBER_PHONES:
                if phone in document.xml:
                    # Only inside the <Number> that rings the member.
                    numbers = [n.text for v in document.verbs for n in v.children if n.name == "Number"]
                    assert numbers == [phone]
                    assert document.xml.count(phone) == 1
    assert world.services.queue.rq.count == 0  # type: ignore[attr-defined]  # every job ran


def test_every_canonical_journey_has_a_scenario() -> None:
    assert set(scenarios.names()) >= {
        "client_reaches_member",
        "member_declines_and_blocks",
        "blocked_client_rejected",
        "warned_caller",
        "masked_call_back",
        "premium_refused",
        "wrong_pins_lock_menu",
        "incident_report",
        "sms_dropped",
        "cancelled_member_line",
        "callbacks_out_of_order",
        "access_line_into_menu",
        "spoofed_caller_id_learns_nothing",
        "declined_caller_never_billed",
        "report_with_a_pause",
        "silent_report",
        "app_down_static_fallback",
        "member_journey_in_romanian",
        "member_journey_in_thai",
        "checkin_in_time",
        "checkin_duress_pin",
        "checkin_missed_escalates",
        "checkin_ended_early",
        "checkin_twilio_down",
    }


def test_scenario_files_load_and_typos_are_refused() -> None:
    assert all(scenarios.load(name).steps for name in scenarios.names())
    with pytest.raises(ScenarioError, match="unknown expectation brigded"):
        scenarios._check_keys("x", {"brigded": True}, scenarios.STEP_EXPECTATIONS, "expectation")


def test_a_webhook_apology_fails_any_scenario() -> None:
    from callflows.prompts import APOLOGY
    from simulator.transcript import Transcript

    result = CallResult("CA1", Transcript())
    result.transcript.add("client", "hears", f'hears "{APOLOGY.text}"')
    scenario = scenarios.Scenario("x", "x", 1, [], [], {})
    failures = scenarios._check_step({}, result, scenarios.Outcome(scenario), scenarios.Cast())
    assert failures == ["someone heard the apology a failing webhook gives"]


def test_accepted_call_is_logged_with_both_legs(world: World) -> None:
    result = call_of(world.play("client_reaches_member"))
    dial = all_verbs(result, "Dial")[0]
    assert dial.flag("answerOnBridge") and dial.get("callerId") == DEMO_LINE
    assert [n.text for n in dial.children] == [DEMO_MEMBER_PHONE]
    (inbound,) = world.rows(Call, Call.call_sid == result.call_sid)
    assert inbound.direction == "inbound" and inbound.bridged and not inbound.declined
    assert inbound.status == "completed" and inbound.other_party_last3 == "456"
    (leg,) = world.rows(Call, Call.parent_call_sid == result.call_sid)
    assert leg.call_sid == result.child_sids[0] and leg.direction == "member_leg"
    assert leg.status == "completed" and leg.duration_seconds and leg.duration_seconds > 42
    events = world.rows(CallEvent, CallEvent.call_sid == leg.call_sid)
    assert sorted(e.sequence_number for e in events) == [0, 1, 2, 3]


@pytest.mark.parametrize("name", ["client_reaches_member", "masked_call_back", "incident_report"])
def test_no_record_of_any_leg_remains_at_twilio_once_the_call_is_done(world: World, name: str) -> None:
    """Twilio's record of the leg that rang the member holds their real number."""
    result = call_of(world.play(name))
    legs = {result.call_sid, *result.child_sids}
    assert legs <= set(world.fake.deleted_calls)
    assert world.fake.calls == {}
    assert world.fake.recordings == {}


def test_warned_caller_is_flagged(world: World) -> None:
    result = call_of(world.play("warned_caller"))
    assert "Warning: 1 warning on file for this caller: threats." in result.spoken_to("member")
    (inbound,) = world.rows(Call, Call.call_sid == result.call_sid)
    assert inbound.warned and inbound.bridged


def test_declining_blocks_the_caller(world: World) -> None:
    result = call_of(world.play("member_declines_and_blocks"))
    (block,) = world.rows(Block)
    assert block.caller_index == world.services.vault.index(DEMO_CALLER) and block.caller_last3 == "456"
    (inbound,) = world.rows(Call, Call.call_sid == result.call_sid)
    assert inbound.declined and inbound.blocked and not inbound.bridged
    assert result.dial_status == "completed" and not result.bridged


def test_a_caller_not_put_through_gets_the_rejection_a_dead_line_gets(world: World) -> None:
    outcome = world.play("declined_caller_never_billed")
    dead = world.simulator.call(DEMO_CALLER, DEMO_SPARE_LINES[-1])  # the unassigned line
    (rejection,) = dead.documents
    declined, *unanswered, canceled, greeted = (call_of(outcome, i) for i in range(len(outcome.results)))
    for result in (declined, *unanswered):
        # Dial first, then, with nobody accepting, the one <Reject/>: never answered.
        assert result.documents[0].names() == ["Dial"] and not result.answered_why
        last = result.documents[-1]
        assert last.path == "/voice/dial_result" and last.xml == rejection.xml
        assert result.status == "no-answer" and "never answered" in str(result.transcript)
    assert [r.dial_status for r in unanswered] == ["no-answer", "busy", "failed"]
    assert not canceled.billed and canceled.dial_status == "canceled"
    # The member who chose the greeting: it answered the call, so a word may follow.
    assert greeted.answered_why == "its first verb <Say> answers it"
    assert greeted.documents[-1].names() == ["Say", "Hangup"]
    (row,) = world.rows(Call, Call.call_sid == declined.call_sid)
    assert row.declined and not row.bridged and not row.blocked


def test_blocked_client_is_rejected_unanswered(world: World) -> None:
    result = call_of(world.play("blocked_client_rejected"))
    assert result.documents[0].names()[0] == "Reject" and len(result.documents) == 1
    assert result.status == "no-answer" and not result.child_sids
    (inbound,) = world.rows(Call, Call.call_sid == result.call_sid)
    assert inbound.blocked and not inbound.bridged


def test_masked_call_shows_the_safety_number(world: World) -> None:
    result = call_of(world.play("masked_call_back"))
    (dial,) = all_verbs(result, "Dial")
    assert dial.get("callerId") == DEMO_LINE
    assert [n.text for n in dial.children] == [DEMO_CALLER]
    assert result.displayed == [DEMO_LINE]
    (masked,) = world.rows(Call, Call.call_sid == result.call_sid)
    assert masked.direction == "masked" and masked.other_party_last3 == "456"
    (leg,) = world.rows(Call, Call.parent_call_sid == result.call_sid)
    assert leg.direction == "masked_leg" and leg.status == "completed"
    # Its minutes were reserved before the Dial (its timeLimit) and settled
    # from what the connected call really lasted.
    assert masked.reserved_seconds == int(dial.get("timeLimit") or 0) > 0
    assert leg.duration_seconds and masked.settled_seconds == leg.duration_seconds < masked.reserved_seconds


def test_premium_destination_is_never_dialled(world: World) -> None:
    result = call_of(world.play("premium_refused"))
    assert all_verbs(result, "Dial") == []
    assert world.rows(Call, Call.direction == "masked_leg") == []


def test_wrong_pins_lock_the_menu(world: World) -> None:
    world.play("wrong_pins_lock_menu")
    first, second = sorted(world.rows(Member), key=lambda m: m.id)  # no ORDER BY: heap order varies
    assert first.menu_locked_until is None  # the lock is the second member's alone
    assert second.menu_locked_until is not None
    assert world.rows(Call, Call.direction == "menu") == []  # never got past the PIN


def test_a_spoofed_caller_id_opens_no_menu_and_locks_nothing(world: World) -> None:
    world.play("spoofed_caller_id_learns_nothing")
    assert world.rows(Call, Call.direction == "menu") == []
    first = min(world.rows(Member), key=lambda m: m.id)  # "member", enrolled first
    # The one wrong PIN keyed from the member's (spoofed) phone counts, but locks nothing.
    assert (first.pin_failures, first.menu_locked_until) == (1, None)


def test_incident_report_reaches_the_caseworker_with_playable_audio(world: World) -> None:
    result = call_of(world.play("incident_report"))
    (sid,) = result.recording_sids
    (report,) = world.rows(Report)
    (caseworker,) = world.rows(Staff, Staff.email == DEMO_STAFF_EMAIL)
    assert report.recording_sid == sid and report.police_consent is True
    assert report.recording_state == "stored" and report.caseworker_id == caseworker.id
    # Encrypted at rest, decrypts to the WAV the member "spoke", gone from Twilio.
    stored = Path(world.services.settings.recordings_path) / report.recording_path
    assert not stored.read_bytes().startswith(b"RIFF")
    audio = recording_store(world.services).get(report.recording_path)
    assert audio.startswith(b"RIFF") and wav_seconds(audio) == 4
    assert sid in world.fake.deleted_recordings
    # What the caseworker sees after signing in.
    seen = newest_report_with_audio(world.app, DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD)
    assert seen.report_id == report.id and seen.audio_type == "audio/wav" and seen.audio_seconds == 4


def test_a_report_with_a_pause_is_kept_whole(world: World) -> None:
    result = call_of(world.play("report_with_a_pause"))
    (record,) = all_verbs(result, "Record")
    silence = world.services.settings.report_silence_timeout_seconds
    assert record.get("timeout") == str(silence) and silence > 7 and record.get("finishOnKey") == "#"
    (report,) = world.rows(Report)
    assert report.recording_state == "stored"
    audio = recording_store(world.services).get(report.recording_path)
    assert wav_seconds(audio) == 12 + 7 + 20  # the pause and everything after it


def test_a_silent_report_is_offered_again_and_marked_absent(world: World) -> None:
    result = call_of(world.play("silent_report"))
    heard = result.transcript.of(who="member", kind="hears")
    after_beep = heard[heard.index("hears a beep") + 1 :]
    # What follows <Record> in the document, and nothing else: the absent
    # callback tells the member nothing.
    assert after_beep == [
        f'hears "{report_flow.NOTHING_HEARD.text}"',
        f'hears "{report_flow.NO_REPORT.text}"',
    ]
    assert result.recording_sids == [] and world.fake.recordings == {}
    (report,) = world.rows(Report)
    assert report.recording_state == "absent" and report.recording_path is None
    assert report.caseworker_id is not None  # someone follows it up


def test_with_the_app_down_the_static_fallback_answers(world: World) -> None:
    outcome = world.play("app_down_static_fallback")
    down, slow, back = call_of(outcome, 0), call_of(outcome, 1), call_of(outcome, 2)
    text = down.transcript.render(verbose=True)
    assert "POST /voice/incoming -> connection refused (error 11205)" in text
    assert f"POST {scenarios.STATIC_FALLBACK_URL} -> 200 (static hosting)" in text
    (served,) = down.documents
    printed = world.app.test_cli_runner().invoke(args=["fallback-twiml"]).output
    assert served.url == scenarios.STATIC_FALLBACK_URL and served.xml == printed
    assert world.rows(Call, Call.call_sid == down.call_sid) == []  # the app never saw it
    # Too slow: the app did its work, but Twilio gave up after 15 s and never rang the member.
    gave_up = "POST /voice/incoming -> no answer within 15 s (error 11205)"
    assert gave_up in slow.transcript.render(verbose=True)
    (logged,) = world.rows(Call, Call.call_sid == slow.call_sid)
    assert not logged.bridged and slow.child_sids == []
    assert back.bridged and not back.fallback_used


def test_sms_is_dropped_and_leaves_no_trace(world: World) -> None:
    before = {m: len(world.rows(m)) for m in (Call, CallEvent, Report, Event)}
    outcome = world.play("sms_dropped")
    result = outcome.results[0]
    assert [d.verbs for d in result.documents] == [[]]  # an empty <Response/>, nothing sent back
    assert {m: len(world.rows(m)) for m in before} == before
    redis = world.services.queue.redis  # type: ignore[attr-defined]
    assert not any(b"07911" in (redis.dump(key) or b"") for key in redis.keys("*"))


def test_a_text_with_a_photo_and_any_script_leaves_no_trace_either(world: World) -> None:
    before = {m: len(world.rows(m)) for m in (Call, CallEvent, Report, Event)}
    body = "Zoë — ce soir? 今晚 ☎ 07911 123456"
    result = world.simulator.sms(DEMO_CALLER, DEMO_LINE, body, media=("image/jpeg",))
    assert result.errors == [] and [d.verbs for d in result.documents] == [[]]
    assert {m: len(world.rows(m)) for m in before} == before
    redis = world.services.queue.redis  # type: ignore[attr-defined]
    assert not any(b"07911" in (redis.dump(key) or b"") for key in redis.keys("*"))


@pytest.mark.parametrize("form", [*WITHHELD_CALLER_IDS, "sip:alice@example.com", "client:alice"])
def test_every_withheld_form_reaches_the_member_as_withheld(world: World, form: str) -> None:
    result = world.simulator.call(form, DEMO_LINE, callee=Callee.parse("1"))
    assert result.bridged and result.errors == []
    assert "withheld" in result.spoken_to("member")
    (inbound,) = world.rows(Call, Call.call_sid == result.call_sid)
    assert inbound.withheld and inbound.other_party_index is None and inbound.other_party_last3 is None


def test_a_connected_call_reported_as_answered_without_dial_bridged(world: World) -> None:
    # Twilio may report a connected Dial as "answered" and leave DialBridged out.
    callee = Callee(keypad=ScriptedKeypad.of("1"), connected_status="answered", reports_bridged=False)
    result = world.simulator.call(DEMO_CALLER, DEMO_LINE, callee=callee)
    assert result.bridged and result.dial_status == "answered"
    assert "not available" not in result.spoken_to("client")
    (inbound,) = world.rows(Call, Call.call_sid == result.call_sid)
    assert inbound.bridged and not inbound.declined


def test_a_member_hanging_up_mid_report_still_leaves_the_recording(world: World) -> None:
    keys = ScriptedKeypad.of(f"02079460001#,{DEMO_MEMBER_PIN}#,2")  # DEMO_LINE as keyed, then the PIN
    result = world.simulator.call(
        DEMO_MEMBER_PHONE, DEMO_ACCESS_LINE, keys, speech=Speech.of(["speak 9, hangup"])
    )
    assert [r.ended_by for r in result.recorded] == ["hangup"] and result.errors == []
    assert "police" not in result.spoken_to("member")  # the consent question is never heard
    (report,) = world.rows(Report)
    assert report.recording_state == "stored" and report.police_consent is None
    audio = recording_store(world.services).get(report.recording_path)
    assert wav_seconds(audio) == 9


def test_cancelled_line_answers_like_an_unassigned_one(world: World) -> None:
    outcome = world.play("cancelled_member_line")
    unassigned, cancelled = call_of(outcome, 0), call_of(outcome, 1)
    assert cancelled.documents[0].xml == unassigned.documents[0].xml
    assert cancelled.documents[0].names() == ["Reject"]
    (line,) = world.rows(SafetyNumber, SafetyNumber.e164 == DEMO_SPARE_LINES[0])
    assert line.status == "quarantined" and line.member_id is None
    (still,) = world.rows(SafetyNumber, SafetyNumber.e164 == DEMO_LINE)
    assert still.status == "assigned"


def test_callbacks_out_of_order_and_repeated_leave_the_same_call_log(world: World) -> None:
    outcome = world.play("callbacks_out_of_order")
    in_order, shuffled = call_of(outcome, 0), call_of(outcome, 1)
    assert "status callbacks arrive out of order and repeated" in str(shuffled.transcript)
    logged = scenarios.call_log(world.services, shuffled)
    assert logged == scenarios.call_log(world.services, in_order)
    (leg,) = world.rows(Call, Call.parent_call_sid == shuffled.call_sid)
    assert leg.status == "completed" and leg.duration_seconds and leg.duration_seconds > 42
    events = world.rows(CallEvent, CallEvent.call_sid == leg.call_sid)
    assert sorted(e.sequence_number for e in events) == [0, 1, 2, 3]  # each once, repeats dropped
    # The comparison sees a difference when there is one: a declined call logs otherwise.
    declined = world.simulator.call(DEMO_WARNED_CALLER, DEMO_LINE, callee=Callee.parse("3"))
    assert scenarios.call_log(world.services, declined) != logged


def _boom() -> None:
    raise RuntimeError("a job that fails")


def test_a_failed_job_fails_the_simulation(world: World) -> None:
    queue: Any = world.services.queue
    queue.push("tests.test_scenarios._boom", ())  # as enqueue does: with retries
    with pytest.raises(JobFailed, match="wait for a retry"):
        run_queued_jobs(world.services)
    # A job merely scheduled for later is no failure.
    queue.redis.flushdb()
    queue.rq.enqueue_in(timedelta(hours=1), "worker.jobs.ping", "later")
    assert run_queued_jobs(world.services) == 0


def flask_command(app: Flask, args: list[str], input: str | None = None) -> Result:
    """``flask --app ivr ARGS`` against ``app``, in-process.

    Through Flask's own ``flask`` command, not ``app.cli``: the simulator's
    commands reach it from the ``flask.commands`` entry points, as they do
    on the command line.
    """
    return app.test_cli_runner().invoke(flask_cli, args, input=input)


def test_the_demo_runs_to_completion_twice(tmp_path: Path) -> None:
    """The README's first command, as CI runs it: ``demo --no-serve``, re-runnable."""
    launcher = create_app({"instance_path": str(tmp_path / "demo"), "REDIS_URL": None, "DATABASE_URL": ""})
    for _ in range(2):
        out = flask_command(launcher, ["demo", "--no-serve"])
        assert out.exit_code == 0, out.output
        played = len(scenarios.names())
        assert f"{played} of {played} scenarios came out as expected." in out.output
        assert "with 4 s of playable audio (audio/wav)" in out.output
        assert not any(number in out.output for number in REAL_NUMBERS)
        assert len(re.findall(r"outcome: as expected", out.output)) == len(scenarios.names())


def test_the_demo_can_play_one_scenario(tmp_path: Path) -> None:
    # Run from a development instance folder, it keeps to a demo folder inside it.
    (tmp_path / "safety.db").write_bytes(b"a developer's own database")
    launcher = create_app({"instance_path": str(tmp_path), "REDIS_URL": None, "DATABASE_URL": ""})
    out = flask_command(launcher, ["demo", "--no-serve", "--only", "sms_dropped"])
    assert out.exit_code == 0, out.output
    assert "1 of 1 scenarios came out as expected." in out.output
    assert "client_reaches_member" not in out.output
    out = flask_command(launcher, ["demo", "--no-serve", "--only", "nope"])
    assert out.exit_code == 2 and "no scenario nope" in out.output
    assert (tmp_path / "safety.db").read_bytes() == b"a developer's own database"
    assert (tmp_path / "demo" / "safety.db").exists()


def test_simulate_call_command_prints_the_transcript(world: World) -> None:
    args = ["simulate", "call", "--from", "020 7946 0456", "--to", DEMO_LINE, "--digits", "", "--answer", "1"]
    out = flask_command(world.app, args)
    assert out.exit_code == 0, out.output
    assert "member  phone rings; the display shows +442079460001" in out.output
    assert "connects the caller and the member" in out.output
    assert DEMO_MEMBER_PHONE not in out.output and DEMO_CALLER not in out.output
    assert len(world.rows(Call, Call.direction == "member_leg")) == 1


def test_simulate_call_asks_for_keys_when_not_scripted(world: World) -> None:
    args = ["simulate", "call", "--from", DEMO_MEMBER_PHONE, "--to", DEMO_ACCESS_LINE]
    out = flask_command(world.app, args, input="02079460001#\n4821#\n2\n2\n")
    assert out.exit_code == 0, out.output
    assert "member presses (Enter: silence, 'hangup': hang up)" in out.output
    (report,) = world.rows(Report)
    assert report.police_consent is False and report.recording_state == "stored"


def test_simulate_sms_command(world: World) -> None:
    out = flask_command(
        world.app, ["simulate", "sms", "--from", DEMO_CALLER, "--to", DEMO_LINE, "--body", "secret words"]
    )
    assert out.exit_code == 0, out.output
    assert "the message is dropped" in out.output and "secret words" not in out.output


def test_simulate_refuses_bad_input(world: World) -> None:
    out = flask_command(world.app, ["simulate", "call", "--from", "12", "--to", DEMO_LINE, "--digits", "1"])
    assert out.exit_code == 2 and "not" in out.output
    args = ["simulate", "call", "--from", DEMO_CALLER, "--to", DEMO_LINE, "--digits", "1x"]
    out = flask_command(world.app, args)
    assert out.exit_code == 2 and "not keypresses" in out.output
