"""The canonical journeys as data, and the runner that plays and checks them.

Each ``*.json`` file beside this module is one scenario::

    {
      "title": "A client reaches the member, who accepts",
      "order": 10,
      "setup": [{"block": "client"}],            # optional: state to start from
      "steps": [
        {"call": {"from": "client", "to": "line", "digits": "", "answer": "1"},
         "expect": {"bridged": true, "heard": {"member": ["Safety Number call"]}}}
      ],
      "expect": {"report": {"police_consent": true}}  # optional: state to end in
    }

Parties are named, never numbered: ``member`` and ``member 2`` (the two
members' own phones), ``client``, ``warned client``, ``line`` and ``line 2``
(their Safety Numbers), ``unassigned line`` and ``access line`` (the
members' access line, through which members reach their menu); :class:`Cast`
maps them to the demo's numbers. Digit scripts (see :mod:`simulator.keypad`)
may use ``{pin}``, ``{pin2}``, ``{line}``, ``{line2}`` (the Safety Numbers as
a member keys them), ``{client}`` (the client's number, likewise) and
``{premium}``. A call may also say what the caller says at each
``<Record>`` (``"speech": ["speak 12, pause 7, speak 20, press #"]``, see
:mod:`simulator.speech`), that the app is down (``"app": "down"``) or
answers each request after 20 s, later than Twilio waits (``"app":
"slow"``), and that its status callbacks arrive shuffled and repeated
(``"callbacks": {"seed": 7, "repeats": 2}``). Setup actions: ``{"block":
CALLER}`` (the member blocks them), ``{"cancel_member": MEMBER}``,
``{"spoken_greeting": MEMBER}`` (the member chose the greeting, which
answers calls before they ring), ``{"member_language": {MEMBER: CODE}}``
(the language the member hears), ``{"static_fallback": true}`` (the
``fallback-twiml`` document hosted apart from the app, as the number's
fallback URL). End-state checks: ``blocked`` (callers
the member blocked), ``menu_locked`` ({MEMBER: bool}), ``line_status``
({LINE: status}), ``report`` (columns of the newest report; ``assigned``).
Step checks include ``billed`` (the caller's call was answered),
``recorded_seconds`` (one length per ``<Record>``, 0 for nothing recorded),
``fallback_used``, ``same_answers_as_step`` (every TwiML document of the
call equals an earlier step's, CallSids aside) and ``same_call_log_as_step`` (the calls and call events
logged equal an earlier step's, sids and times aside).

The same files drive the demo (``flask --app ivr demo``) and the end-to-end
tests (``tests/test_scenarios.py``), which add checks of their own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import phonenumbers
from flask import Flask
from sqlalchemy import func, select

from callflows.languages import language as language_named
from callflows.prompts import APOLOGY
from core.services import Services, recording_store
from simulator import demo
from simulator.callbacks import Delivery
from simulator.checkin_steps import CHECKIN_KEYS, check_checkins, play_checkin
from simulator.engine import CallResult, Simulator, SmsResult
from simulator.errors import ScenarioError
from simulator.keypad import Callee, ScriptedKeypad
from simulator.speech import Speech
from simulator.transcript import Phonebook
from storage import repositories as repo
from storage.models import Call, CallEvent, Greeting, Member, Report, SafetyNumber

Result = CallResult | SmsResult
# Where the static fallback document is hosted: anywhere but the app's origin.
STATIC_FALLBACK_URL = "https://fallback.static.example/safety-number/fallback.xml"


@dataclass(frozen=True)
class Cast:
    """The people and numbers of the scenarios (the demo's seed)."""

    numbers: Mapping[str, str] = field(
        default_factory=lambda: {
            "member": demo.DEMO_MEMBER_PHONE,
            "member 2": demo.DEMO_SECOND_MEMBER_PHONE,
            "client": demo.DEMO_CALLER,
            "buddy": demo.DEMO_BUDDY,
            "warned client": demo.DEMO_WARNED_CALLER,
            "access line": demo.DEMO_ACCESS_LINE,
            "line": demo.DEMO_LINE,
            "line 2": demo.DEMO_SPARE_LINES[0],  # the second member's (enrolled second)
            "unassigned line": demo.DEMO_SPARE_LINES[-1],
        }
    )
    pin: str = demo.DEMO_MEMBER_PIN
    pin2: str = demo.DEMO_SECOND_MEMBER_PIN
    duress: str = demo.DEMO_MEMBER_DURESS_PIN
    premium: str = "09098790000"  # Ofcom's drama range for premium-rate numbers

    def number(self, name: str) -> str:
        if name not in self.numbers:
            raise ScenarioError(f"unknown party {name!r}; known: {', '.join(self.numbers)}")
        return self.numbers[name]

    def phonebook(self) -> Phonebook:
        people = {"member", "member 2", "client", "warned client", "buddy"}
        return Phonebook(
            labels={n: name for name, n in self.numbers.items() if name in people},
            public={n for name, n in self.numbers.items() if name not in people},
        )

    def keyed(self, name: str) -> str:
        """The number of ``name`` as a member keys it: national digits."""
        national = phonenumbers.format_number(
            phonenumbers.parse(self.number(name)), phonenumbers.PhoneNumberFormat.NATIONAL
        )
        return national.replace(" ", "")

    def keys(self, script: str) -> str:
        return script.format(
            pin=self.pin,
            pin2=self.pin2,
            duress=self.duress,
            buddy=self.keyed("buddy"),
            client=self.keyed("client"),
            line=self.keyed("line"),
            line2=self.keyed("line 2"),
            premium=self.premium,
        )


# What a step may expect; anything else is a typo that would silently check nothing.
STEP_EXPECTATIONS = frozenset(
    {
        "heard",
        "not_heard",
        "bridged",
        "rejected",
        "answered",
        "status",
        "first_verb",
        "dialled",
        "display",
        "same_answer_as_step",
        "same_answers_as_step",
        "empty_answer",
        "replies",
        "billed",
        "recorded_seconds",
        "fallback_used",
        "same_call_log_as_step",
    }
)
# What "app" may say of the app during a call, and how long it then takes to
# answer a request: "slow" answers later than Twilio waits (15 s).
APP_STATES = {"up": 0.0, "down": 0.0, "slow": 20.0}
CALL_KEYS = frozenset({"from", "to", "digits", "answer", "talk_seconds", "speech", "app", "callbacks"})
SMS_KEYS = frozenset({"from", "to", "body"})


@dataclass
class Scenario:
    """One scenario file, parsed (see the module docstring for its format)."""

    name: str
    title: str
    order: int
    setup: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    expect: dict[str, Any]


@dataclass
class Outcome:
    """A scenario played: its results per step, and what did not match."""

    scenario: Scenario
    results: list[Result] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def render(self, verbose: bool = False) -> str:
        lines = [f"== {self.scenario.title} ({self.scenario.name}) =="]
        for result in self.results:
            lines.append(result.transcript.render(verbose))
            lines.append("")
        lines.extend(f"   !! {failure}" for failure in self.failures)
        lines.append("   outcome: as expected" if self.passed else "   outcome: NOT as expected")
        return "\n".join(lines)


def load(name: str) -> Scenario:
    """The scenario in ``<name>.json``."""
    text = resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    data = json.loads(text)
    try:
        scenario = Scenario(
            name=name,
            title=data["title"],
            order=int(data.get("order", 100)),
            setup=list(data.get("setup", [])),
            steps=list(data["steps"]),
            expect=dict(data.get("expect", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ScenarioError(f"scenario {name}: {exc}") from exc
    for step in scenario.steps:
        _check_keys(name, step.get("expect", {}), STEP_EXPECTATIONS, "expectation")
        for kind, keys in (("call", CALL_KEYS), ("sms", SMS_KEYS), ("checkin", CHECKIN_KEYS)):
            if kind in step:
                _check_keys(name, step[kind], keys, f"{kind} key")
    return scenario


def _check_keys(name: str, given: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = set(given) - allowed
    if unknown:
        raise ScenarioError(f"scenario {name}: unknown {what} {', '.join(sorted(unknown))}")


def names() -> list[str]:
    """Every scenario, in the order the demo plays them."""
    found = [
        entry.name.removesuffix(".json")
        for entry in resources.files(__name__).iterdir()
        if entry.name.endswith(".json")
    ]
    return sorted(found, key=lambda name: (load(name).order, name))


def play(
    scenario: Scenario,
    simulator: Simulator,
    services: Services,
    cast: Cast | None = None,
    *,
    app: Flask | None = None,
) -> Outcome:
    """Set up, play every step, and check every expectation of ``scenario``.

    ``app`` runs the ``flask --app ivr`` commands a setup action needs
    (``static_fallback``).
    """
    cast = cast or Cast()
    outcome = Outcome(scenario)
    fallback = simulator.fallback
    # Check-in steps move the app's clock on; the next scenario starts on the real one.
    settings = services.settings
    try:
        for action in scenario.setup:
            _setup(action, services, cast, simulator, app)
        for index, step in enumerate(scenario.steps):
            result = _step(step, simulator, services, cast)
            outcome.results.append(result)
            failures = _check_step(step.get("expect", {}), result, outcome, cast)
            failures.extend(_check_call_log(step.get("expect", {}), result, outcome, services))
            outcome.failures.extend(f"step {index + 1}: {failure}" for failure in failures)
        outcome.failures.extend(_check_state(scenario.expect, services, cast))
    finally:
        simulator.fallback = fallback
        services.settings = settings
    return outcome


# -- setup ---------------------------------------------------------------


def member_of(session: Any, services: Services, cast: Cast, who: str = "member") -> Member:
    member = repo.member_by_phone(session, services.vault, cast.number(who))
    if member is None:
        raise ScenarioError(f"no active member on the {who}'s phone (seed the demo first)")
    return member


def _setup(
    action: Mapping[str, Any], services: Services, cast: Cast, simulator: Simulator, app: Flask | None
) -> None:
    (kind, value), *rest = action.items()
    if rest:
        raise ScenarioError(f"one setup action per item: {dict(action)}")
    if kind == "static_fallback":
        host_static_fallback(simulator, app)
        return
    with services.db.session() as session:
        if kind == "block":
            number = cast.number(value)
            member = member_of(session, services, cast)
            repo.block_caller(session, member.id, services.vault.index(number), number[-3:])
        elif kind == "spoken_greeting":
            # The member's choice, as the console's preferences form makes it.
            member_of(session, services, cast, value).greeting = Greeting.LOGGED
        elif kind == "member_language":
            # {"member_language": {"member": "ro"}}: as enrolment with --language makes it.
            for who, code in dict(value).items():
                member_of(session, services, cast, who).language = language_named(code).code
        elif kind == "cancel_member":
            repo.cancel_member(session, member_of(session, services, cast, value), recording_store(services))
        else:
            raise ScenarioError(f"unknown setup action {kind!r}")


def host_static_fallback(simulator: Simulator, app: Flask | None) -> bytes:
    """Do what docs/operations.md's deployment section says: print the fallback
    document with ``flask --app ivr fallback-twiml``, host it on an origin
    other than the app's, and make it the number's fallback URL."""
    if app is None:
        raise ScenarioError("static_fallback needs the app, to run its fallback-twiml command")
    printed = app.test_cli_runner().invoke(args=["fallback-twiml"])
    if printed.exit_code != 0:
        raise ScenarioError(f"flask --app ivr fallback-twiml failed: {printed.output}")
    document = printed.output.encode()
    simulator.static_documents[STATIC_FALLBACK_URL] = document
    simulator.fallback = STATIC_FALLBACK_URL
    return document


# -- steps -----------------------------------------------------------------


def _step(step: Mapping[str, Any], simulator: Simulator, services: Services, cast: Cast) -> Result:
    if "checkin" in step:
        return play_checkin(step["checkin"], simulator, services, cast)
    if "call" in step:
        call = step["call"]
        keypad = ScriptedKeypad.of(cast.keys(call.get("digits", "")) or None)
        callee = Callee.parse(call.get("answer", ""), talk_seconds=int(call.get("talk_seconds", 42)))
        speech = Speech.of(call.get("speech"), default_seconds=simulator.record_seconds)
        app = call.get("app", "up")
        if app not in APP_STATES:
            raise ScenarioError(f"'app' is one of {', '.join(APP_STATES)}, not {app!r}")
        in_order = simulator.delivery
        disorder = call.get("callbacks")
        if disorder is not None:
            simulator.delivery = Delivery(seed=int(disorder["seed"]), repeats=int(disorder.get("repeats", 2)))
        try:
            return simulator.call(
                cast.number(call["from"]),
                cast.number(call["to"]),
                keypad,
                callee,
                speech=speech,
                app_down=app == "down",
                app_delay=APP_STATES[app],
            )
        finally:
            simulator.delivery = in_order
    if "sms" in step:
        sms = step["sms"]
        return simulator.sms(cast.number(sms["from"]), cast.number(sms["to"]), sms["body"])
    raise ScenarioError(f"a step is a call, an sms or a check-in: {dict(step)}")


def _check_step(expect: Mapping[str, Any], result: Result, outcome: Outcome, cast: Cast) -> list[str]:
    failures: list[str] = []

    def check(ok: bool, message: str) -> None:
        if not ok:
            failures.append(message)

    failures.extend(result.errors)
    if APOLOGY.text in " ".join(result.transcript.of(kind="hears")) and not expect.get("fallback_used"):
        # A webhook failed inside and answered with its safe apology (unless
        # the step is about the fallback, which apologises on purpose).
        failures.append("someone heard the apology a failing webhook gives")
    for who, phrases in expect.get("heard", {}).items():
        heard = result.transcript.heard(who).lower()
        for phrase in phrases:
            check(phrase.lower() in heard, f"the {who} did not hear {phrase!r}")
    for who, phrases in expect.get("not_heard", {}).items():
        heard = result.transcript.heard(who).lower()
        for phrase in phrases:
            check(phrase.lower() not in heard, f"the {who} heard {phrase!r}")
    if isinstance(result, SmsResult):
        if "replies" in expect:
            check(len(result.replies) == expect["replies"], f"{len(result.replies)} SMS replies")
        if expect.get("empty_answer"):
            check(all(not d.verbs for d in result.documents), "the SMS answer was not an empty <Response/>")
        return failures
    for flag in ("bridged", "rejected", "answered", "billed", "fallback_used"):
        if flag in expect:
            check(getattr(result, flag) == expect[flag], f"{flag} is {getattr(result, flag)}")
    if "status" in expect:
        check(result.status == expect["status"], f"the call ended {result.status}, not {expect['status']}")
    if "first_verb" in expect:
        first = result.documents[0].names()[:1] if result.documents else []
        check(first == [expect["first_verb"]], f"the first verb was {first}")
    if "dialled" in expect:
        wanted = [cast.number(name) for name in expect["dialled"]]
        check(result.dialled == wanted, f"dialled {[cast.phonebook().show(n) for n in result.dialled]}")
    if "display" in expect:
        shown = result.displayed == [cast.number(expect["display"])]
        check(shown, "the dialled phone showed the wrong caller ID")
    if "recorded_seconds" in expect:
        seconds = [recorded.seconds for recorded in result.recorded]
        wanted = expect["recorded_seconds"]
        check(seconds == wanted, f"recorded {seconds} s, not {wanted}")
    if "same_answer_as_step" in expect:
        earlier = outcome.results[int(expect["same_answer_as_step"]) - 1]
        xml: list[str | None] = [
            _sids_aside(r.documents[0].xml) if r.documents else None for r in (result, earlier)
        ]
        check(xml[0] is not None and xml[0] == xml[1], "the answer differs from the earlier step's")
    if "same_answers_as_step" in expect:
        earlier = outcome.results[int(expect["same_answers_as_step"]) - 1]
        every = [[_sids_aside(d.xml) for d in r.documents] for r in (result, earlier)]
        check(bool(every[0]) and every[0] == every[1], "the answers differ from the earlier step's")
    return failures


def _sids_aside(xml: str) -> str:
    """A TwiML document with the CallSids in its URLs masked: two calls
    answered alike differ only there."""
    return re.sub(r"CA[0-9a-fA-F]{32}", "CA-sid", xml)


def _check_call_log(
    expect: Mapping[str, Any], result: Result, outcome: Outcome, services: Services
) -> list[str]:
    """``same_call_log_as_step``: this call left the log an earlier one did."""
    if "same_call_log_as_step" not in expect or not isinstance(result, CallResult):
        return []
    earlier = outcome.results[int(expect["same_call_log_as_step"]) - 1]
    if not isinstance(earlier, CallResult):
        raise ScenarioError("same_call_log_as_step names a step that is not a call")
    logs = [call_log(services, r) for r in (earlier, result)]
    if logs[0] == logs[1]:
        return []
    return [f"the call log differs from the earlier step's: {logs[1]} != {logs[0]}"]


def call_log(services: Services, result: CallResult) -> list[tuple[Any, ...]]:
    """What the log holds of a call and its legs, without sids and times."""
    sids = [result.call_sid, *result.child_sids]
    with services.db.session() as session:
        calls = {c.call_sid: c for c in session.scalars(select(Call).where(Call.call_sid.in_(sids)))}
        events = list(session.scalars(select(CallEvent).where(CallEvent.call_sid.in_(sids))))
    log: list[tuple[Any, ...]] = []
    for sid in sids:
        call = calls.get(sid)
        if call is not None:
            row = (call.direction, call.status, call.duration_seconds, call.last_sequence, call.bridged)
            log.append((*row, call.declined))
        log.extend(
            sorted((e.sequence_number, e.status, e.duration_seconds) for e in events if e.call_sid == sid)
        )
    return log


# -- end state ---------------------------------------------------------------


def _check_state(expect: Mapping[str, Any], services: Services, cast: Cast) -> list[str]:
    checks: dict[str, Callable[[Any, Any], list[str]]] = {
        "blocked": lambda s, v: _blocked(s, services, cast, v),
        "menu_locked": lambda s, v: _locked(s, services, cast, v),
        "report": lambda s, v: _report(s, v),
        "line_status": lambda s, v: _line_status(s, cast, v),
        "checkin": lambda s, v: check_checkins(s, services, cast, v),
    }
    failures: list[str] = []
    with services.db.session() as session:
        for key, value in expect.items():
            if key not in checks:
                raise ScenarioError(f"unknown expectation {key!r}")
            failures.extend(checks[key](session, value))
    return failures


def _blocked(session: Any, services: Services, cast: Cast, names: list[str]) -> list[str]:
    member = member_of(session, services, cast)
    failures = []
    for name in names:
        index = services.vault.index(cast.number(name))
        if not repo.is_blocked(session, member.id, index):
            failures.append(f"the {name} is not blocked")
    return failures


def _locked(session: Any, services: Services, cast: Cast, wanted: Mapping[str, bool]) -> list[str]:
    failures = []
    for who, lock in wanted.items():
        locked = member_of(session, services, cast, who).menu_locked_until is not None
        if locked != lock:
            failures.append(f"the {who}'s menu locked is {locked}")
    return failures


def _line_status(session: Any, cast: Cast, wanted: Mapping[str, str]) -> list[str]:
    failures = []
    for name, status in wanted.items():
        line = session.scalars(select(SafetyNumber).where(SafetyNumber.e164 == cast.number(name))).one()
        if line.status != status:
            failures.append(f"the {name} is {line.status}, not {status}")
    return failures


def _report(session: Any, wanted: Mapping[str, Any]) -> list[str]:
    report = session.scalars(select(Report).order_by(Report.id.desc())).first()
    if report is None:
        return ["no report was written"]
    failures = []
    for column, value in wanted.items():
        if column == "assigned":
            if (report.caseworker_id is not None) != value:
                failures.append(f"report caseworker is {report.caseworker_id}")
            continue
        actual = getattr(report, column)
        if actual != value:
            failures.append(f"report {column} is {actual!r}, not {value!r}")
    return failures


def count(session: Any, model: type) -> int:
    """Rows of ``model`` (tests compare before and after)."""
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


__all__ = ["Cast", "Outcome", "Scenario", "count", "load", "names", "play"]
