"""``/staff/signals``: the scenario of issue 15 end to end through the webhooks,
what staff see (last three digits, never a number or a name), dismissal
with a reason, turning a signal into a warning, auditing, keyset paging."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from callflows.signals import SignalStatus
from storage import repositories as repo
from storage.db import Database
from storage.models import AuditEntry, CallerWarning, RiskSignal, utcnow
from storage.vault import NumberVault
from tests.leak_scan import find_leaks
from tests.staff.helpers import People, post
from tests.support.menu import MemberMenu
from tests.support.people import Enrol
from tests.support.suite import SuiteConfig
from tests.support.twilio import TwilioClient, TwiML

CALLER = "+447911123789"
NAMES = ["Scarlett Lane", "Ruby Marsh", "Jade Holt", "Amber Reid"]


def _phones(k: int) -> tuple[str, str]:
    """Member k's phone and Safety Number (k = 0 is the suite's standard member)."""
    if k == 0:
        return "+442079460123", "+442079460001"
    return f"+4420794601{k + 30:02d}", f"+4420794600{k + 30:02d}"


def ring(twilio: TwilioClient, line: str, sid: str, key: str | None = None) -> TwiML:
    """``CALLER`` rings ``line``; the member hears the whisper and presses ``key``."""
    assert twilio.post("/voice/incoming", CallSid=sid, To=line, From=CALLER).verbs == ["Dial"]
    leg = {"CallSid": sid + "leg", "ParentCallSid": sid, "From": line}
    whisper = twilio.post("/voice/whisper", query=f"call={sid}", **leg)
    if key is not None:
        twilio.post("/voice/screen", query=f"call={sid}", Digits=key, **leg)
    return whisper


def _signal(db: Database) -> RiskSignal:
    with db.session() as s:
        return s.scalars(select(RiskSignal)).one()


def _audit(db: Database) -> list[AuditEntry]:
    with db.session() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def _warn(client: FlaskClient, signal_id: int, category: str, summary: str) -> TestResponse:
    """Send the signal page's form that turns the signal into a warning."""
    return post(client, f"/staff/signals/{signal_id}/warning", {"category": category, "summary": summary})


def test_one_caller_three_members_two_declines_becomes_a_warning_a_fourth_member_hears(
    inline_app: Flask, suite: SuiteConfig, db: Database, vault: NumberVault, enrol: Enrol, alice: FlaskClient
) -> None:
    members = [enrol(phone=_phones(k)[0], line=_phones(k)[1], name=NAMES[k]) for k in range(4)]
    twilio = TwilioClient(inline_app.test_client(), suite)
    ring(twilio, members[0].line, "CAscenario1", key="1")  # accepted
    ring(twilio, members[1].line, "CAscenario2", key="2")  # declined and blocked
    with db.session() as s:
        assert s.scalars(select(RiskSignal)).first() is None  # one block and two members: nothing yet
    ring(twilio, members[2].line, "CAscenario3", key="2")

    signal = _signal(db)
    assert (signal.rules, signal.reached_members, signal.blocked_members) == ("reached,blocked", 3, 2)
    listing = alice.get("/staff/signals")
    assert listing.status_code == 200
    html = listing.get_data(as_text=True)
    assert "number ending 789" in html
    assert "phoned many members; declined or blocked by several members" in html
    assert "3 phoned, 2 declined or blocked, 0 reported" in html

    page = alice.get(f"/staff/signals/{signal.id}").get_data(as_text=True)
    assert "Caller ending 789" in page and "new, waiting for a decision" in page
    made = _warn(alice, signal.id, "threats", "Calls member after member, threatening when declined")
    assert made.status_code == 302
    with db.session() as s:
        warning = s.scalars(select(CallerWarning)).one()
        assert warning.caller_index == vault.index(CALLER) and warning.category == "threats"
    assert _signal(db).warning_id == warning.id
    assert f"risk signal #{signal.id}" in alice.get("/staff/warnings").get_data(as_text=True)
    # Shown as under a warning now, no longer as a new signal.
    assert "No signals here." in alice.get("/staff/signals").get_data(as_text=True)
    assert "number ending 789" in alice.get("/staff/signals?view=warned").get_data(as_text=True)

    whisper = ring(twilio, members[3].line, "CAscenario4")
    assert "Warning: 1 warning on file for this caller: threats." in whisper.said
    menu = MemberMenu(twilio, db, vault)
    assert (
        "Warning 1: threats. Calls member after member, threatening when declined"
        in menu.press(menu.logged_in_call(), "4").said
    )

    actions = [(a.action, a.target_type, a.target_id) for a in _audit(db)]
    assert ("signal.view", "signal", signal.id) in actions
    assert ("signal.warning", "signal", signal.id) in actions
    assert [a for a, *_ in actions].count("signals.view") == 3


def test_pages_and_audit_show_no_number_no_name_and_no_index(
    db: Database,
    vault: NumberVault,
    enrol: Enrol,
    alice: FlaskClient,
    admin: FlaskClient,
    inline_app: Flask,
    suite: SuiteConfig,
) -> None:
    members = [enrol(phone=_phones(k)[0], line=_phones(k)[1], name=NAMES[k]) for k in range(3)]
    twilio = TwilioClient(inline_app.test_client(), suite)
    for k, member in enumerate(members):
        ring(twilio, member.line, f"CAprivacy{k}", key="2")
    signal = _signal(db)
    pages = [
        alice.get("/staff/signals").get_data(as_text=True),
        alice.get(f"/staff/signals/{signal.id}").get_data(as_text=True),
    ]
    post(
        alice, f"/staff/signals/{signal.id}/dismiss", {"reason": "Ruby Marsh says 07911 123789 is her cousin"}
    )
    pages.append(alice.get("/staff/signals?view=dismissed").get_data(as_text=True))
    pages.append(alice.get(f"/staff/signals/{signal.id}").get_data(as_text=True))
    pages.append(admin.get("/staff/audit").get_data(as_text=True))
    numbers = [CALLER, *(m.phone for m in members)]
    for html in pages[:4]:
        assert "789" in html  # the last three digits, as DESIGN allows
    for html in pages:
        assert find_leaks(html, numbers, []) == []
        assert signal.caller_index not in html
    # Member names are on no signal page (the dismissal reason is staff's own words).
    for html in pages[:2]:
        assert find_leaks(html, [], NAMES) == []
    details = " ".join(a.detail or "" for a in _audit(db))
    assert find_leaks(details, numbers, NAMES) == [] and signal.caller_index not in details
    assert _signal(db).dismiss_reason == "Ruby Marsh says [number ending 789] is her cousin"


def test_dismissing_needs_a_reason_moves_the_signal_and_is_audited(
    db: Database, vault: NumberVault, bob: FlaskClient, people: People
) -> None:
    signal_id = _seed_signals(db, vault, 1)[0]
    refused = post(bob, f"/staff/signals/{signal_id}/dismiss", {"reason": "  "})
    assert refused.status_code == 400 and "give a reason" in refused.get_data(as_text=True)
    assert _signal(db).status == SignalStatus.OPEN
    assert (
        post(bob, f"/staff/signals/{signal_id}/dismiss", {"reason": "a regular, known to us"}).status_code
        == 302
    )
    signal = _signal(db)
    assert (signal.status, signal.dismissed_by_staff_id) == (SignalStatus.DISMISSED, people.bob)
    assert "No signals here." in bob.get("/staff/signals").get_data(as_text=True)
    dismissed = bob.get("/staff/signals?view=dismissed").get_data(as_text=True)
    assert "number ending 000" in dismissed
    (entry,) = [a for a in _audit(db) if a.action == "signal.dismiss"]
    assert (entry.staff_id, entry.target_id, entry.detail) == (
        people.bob,
        signal_id,
        "reached 3, blocked 0, reported 0",
    )


def test_a_refused_warning_form_changes_nothing_and_numbers_never_reach_a_summary(
    db: Database, vault: NumberVault, alice: FlaskClient
) -> None:
    signal_id = _seed_signals(db, vault, 1)[0]
    answer = _warn(alice, signal_id, "nonsense", "robbed me")
    assert answer.status_code == 400 and "category must be one of" in answer.get_data(as_text=True)
    answer = _warn(alice, signal_id, "threats", "<b></b>")
    assert answer.status_code == 400
    with db.session() as s:
        assert s.scalars(select(CallerWarning)).first() is None
    answer = _warn(alice, signal_id, "robbery", "rang from 07911 123456")
    assert answer.status_code == 302
    with db.session() as s:
        assert [w.summary for w in s.scalars(select(CallerWarning))] == ["rang from [number ending 456]"]


def test_unknown_view_is_a_400_and_unknown_signal_a_404(admin: FlaskClient, anon: FlaskClient) -> None:
    assert admin.get("/staff/signals?view=everything").status_code == 400
    assert admin.get("/staff/signals?after=x").status_code == 400
    assert admin.get("/staff/signals/999999").status_code == 404
    assert anon.get("/staff/signals").status_code == 302  # sign in first


def _seed_signals(db: Database, vault: NumberVault, n: int) -> list[int]:
    """``n`` open signals about different callers, each seen a minute apart."""
    start = utcnow() - timedelta(days=1)
    with db.session() as s:
        rows = [
            RiskSignal(
                caller_index=vault.index(f"+4479111{k:05d}"),
                caller_last3=f"{k % 1000:03d}",
                rules="reached",
                reached_members=3,
                first_seen=start,
                last_seen=start + timedelta(minutes=k),
                raised_at=start,
                counted_at=start,
            )
            for k in range(n)
        ]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


@pytest.mark.usefixtures("people")
def test_keyset_pages_walk_every_signal_once_latest_first(
    db: Database, vault: NumberVault, admin: FlaskClient
) -> None:
    ids = _seed_signals(db, vault, 120)
    seen: list[str] = []
    url = "/staff/signals"
    while url:
        html = admin.get(url).get_data(as_text=True)
        seen += [line.split("signal #")[1].split("<")[0] for line in html.splitlines() if "signal #" in line]
        older = [
            part for part in html.split('href="') if part.startswith("/staff/signals?") and "after=" in part
        ]
        url = older[0].split('"')[0].replace("&amp;", "&") if older else ""
    assert [int(i) for i in seen] == sorted(ids, reverse=True)
    assert "New signals (120)" in html


def test_cancelling_a_member_from_the_console_recounts_signals(
    db: Database, vault: NumberVault, enrol: Enrol, admin: FlaskClient, inline_app: Flask, suite: SuiteConfig
) -> None:
    members = [enrol(phone=_phones(k)[0], line=_phones(k)[1], name=NAMES[k]) for k in range(2)]
    twilio = TwilioClient(inline_app.test_client(), suite)
    for k, member in enumerate(members):
        ring(twilio, member.line, f"CAcancel{k}", key="2")
    assert _signal(db).blocked_members == 2
    assert post(admin, f"/staff/members/{members[0].id}/cancel", {"confirm": "y"}).status_code == 302
    with db.session() as s:
        assert s.scalars(select(RiskSignal)).first() is None
        assert repo.warnings_for(s, vault.index(CALLER)) == []


@pytest.mark.usefixtures("people")
def test_each_list_counts_its_signals_a_caller_under_a_live_warning_only_as_warned(
    db: Database, vault: NumberVault, admin: FlaskClient
) -> None:
    """Six signals: two open, one open whose caller is warned, one whose
    warning expired (new again), one dismissed, one dismissed and warned."""
    ids = _seed_signals(db, vault, 6)
    with db.session() as s:
        signals = [s.get_one(RiskSignal, i) for i in ids]
        for signal in signals[4:]:
            signal.status = SignalStatus.DISMISSED
        for signal, expires in (
            (signals[2], None),
            (signals[3], utcnow() - timedelta(days=1)),
            (signals[5], None),
        ):
            for _ in range(2):  # two warnings about one caller count it once
                repo.add_warning(
                    s, caller_index=signal.caller_index, category="threats", summary="x", expires_at=expires
                )
    html = admin.get("/staff/signals").get_data(as_text=True)
    assert "New signals (3)" in html and "Under a warning (2)" in html and "Dismissed (1)" in html
    listed = {
        int(line.split("signal #")[1].split("<")[0]) for line in html.splitlines() if "signal #" in line
    }
    assert listed == {ids[0], ids[1], ids[3]}
