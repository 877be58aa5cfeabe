"""Scenario steps of the check-in timer: time passing, the due-check the
worker runs, and the calls it places, played as Twilio would play them.

A ``checkin`` step moves the app's clock on (``after_minutes``: its services'
settings get a clock that many minutes ahead, as a test's hand-moved clock
is), runs the periodic "fire due check-ins" job, and then plays every call
the app placed through the fake Twilio — the member's check-in call, and the
buddy's call an escalation places — with what each rung phone does
(``answers``: party -> ``no-answer``, ``busy``, ``failed``, ``voicemail`` or
a key script). ``"twilio": "down"`` makes the fake Twilio refuse every call
the step tries to place. The step's result is one CallResult holding every
call's transcript, documents and errors; its ``dialled`` lists who was rung.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from core.services import Services, bound
from simulator.engine import VOICEMAIL, CallResult, Simulator
from simulator.errors import ScenarioError
from simulator.fake_twilio import PlacedCall
from simulator.harness import run_queued_jobs
from simulator.keypad import Callee
from simulator.transcript import Transcript
from storage.models import Checkin, CheckinAlarm
from worker.checkins import fire_due_checkins

if TYPE_CHECKING:
    from simulator.scenarios import Cast

CHECKIN_KEYS = frozenset({"after_minutes", "answers", "twilio"})
# Enough refused requests for the member's call and the buddy's.
TWILIO_DOWN_REQUESTS = 10


def play_checkin(spec: Mapping[str, Any], simulator: Simulator, services: Services, cast: Cast) -> CallResult:
    """Let ``after_minutes`` pass, run the due-check, and play the calls it placed."""
    fake = simulator.recordings
    placed: list[PlacedCall] | None = getattr(fake, "placed", None)
    if fake is None or placed is None:
        raise ScenarioError("check-in steps need the fake Twilio (its placed calls)")
    _advance(services, float(spec.get("after_minutes", 0)))
    down = spec.get("twilio", "up") == "down"
    if down:
        fake.fail_next(TWILIO_DOWN_REQUESTS, status=503, method="POST")  # type: ignore[attr-defined]
    answers = {name: str(script) for name, script in spec.get("answers", {}).items()}
    result = CallResult("checkin", Transcript())
    seen = len(placed)
    try:
        with bound(services):
            fire_due_checkins()
        run_queued_jobs(services)
        while seen < len(placed):
            call = placed[seen]
            seen += 1
            who = cast.phonebook().name(call.to)
            result.dialled.append(call.to)
            played = simulator.play_placed(call, _phone(cast.keys(answers.get(who, "no-answer"))))
            result.transcript.extend(played.transcript.lines)
            result.documents.extend(played.documents)
            result.errors.extend(played.errors)
    finally:
        if down:
            fake.fail_next(0)  # type: ignore[attr-defined]
    return result


def _phone(script: str) -> Callee:
    """What a rung phone does: a voicemail picks up and keys nothing."""
    if script.strip().lower() == VOICEMAIL:
        return Callee(answers=VOICEMAIL)
    return Callee.parse(script)


def _advance(services: Services, minutes: float) -> None:
    """Move the app's clock ``minutes`` on (every later step sees the new time)."""
    clock: Callable[[], float] = services.settings.clock
    services.settings = replace(services.settings, clock=lambda: clock() + minutes * 60)


def check_checkins(session: Any, services: Services, cast: Cast, wanted: Mapping[str, Any]) -> list[str]:
    """``checkin``: {MEMBER: {"state": …, "alarm": kind or null, "staff_alerted": true}}
    about the member's newest check-in."""
    from simulator.scenarios import member_of

    failures = []
    for who, expected in wanted.items():
        member = member_of(session, services, cast, who)
        checkin = session.scalars(
            select(Checkin).where(Checkin.member_id == member.id).order_by(Checkin.id.desc())
        ).first()
        alarm = None
        if checkin is not None:
            alarm = session.scalars(select(CheckinAlarm).where(CheckinAlarm.checkin_id == checkin.id)).first()
        state = checkin.state if checkin is not None else None
        kind = alarm.kind if alarm is not None else None
        if "state" in expected and state != expected["state"]:
            failures.append(f"the {who}'s check-in is {state}, not {expected['state']}")
        if "alarm" in expected and kind != expected["alarm"]:
            failures.append(f"the {who}'s alarm is {kind}, not {expected['alarm']}")
        if expected.get("staff_alerted") and (alarm is None or alarm.staff_notified_at is None):
            failures.append(f"no staff were alerted about the {who}'s check-in")
    return failures
