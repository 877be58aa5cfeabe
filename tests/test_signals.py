"""Risk signals: each rule at, just below and just above its threshold, over
the blind index only; windows and retention; dismissal and raising again;
an erased member no longer counting; the jobs the webhooks leave; alerts."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from redis import Redis
from sqlalchemy import select

from callflows.errors import ConfigurationError
from callflows.signals import Rule, SignalStatus
from core.services import Services
from core.settings import load_settings
from storage import repositories as repo
from storage import signals as store
from storage.db import Database
from storage.models import Block, Call, CallDirection, Event, Report, RiskSignal, utcnow
from storage.vault import NumberVault
from tests.staff.helpers import make_call
from tests.support.menu import MemberMenu
from tests.support.menu import jobs as menu_jobs
from tests.support.people import Enrol
from tests.support.twilio import TwilioClient
from tests.worker_helpers import add_staff, job_services, mail_log
from worker.schedule import PERIODIC
from worker.signals import compute_signals, refresh_signals, send_signal_alerts

CALLER = "+447911123789"
NOW = datetime(2026, 12, 1, 12, 0)
_sids = itertools.count(1)


@pytest.fixture
def svc(db: Database, tmp_path: Path) -> Iterator[Services]:
    with job_services(tmp_path, db, REDIS_URL=None) as services:
        yield services


@dataclass
class Callers:
    """The worker's services bound on the test database, members enrolled on
    it, and ``CALLER`` (or another caller) phoning them and named in their
    reports, logged as the webhooks and the menu log them."""

    svc: Services
    db: Database
    vault: NumberVault
    enrol: Enrol
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(10))

    def members(self, n: int) -> list[int]:
        """``n`` more enrolled members' ids."""
        ids = []
        for _ in range(n):
            k = next(self.numbers)
            ids.append(
                self.enrol(phone=f"+4420794601{k:02d}", line=f"+4420794600{k:02d}", name=f"Member {k}").id
            )
        return ids

    def call(self, member_id: int, at: datetime = NOW, caller: str = CALLER, **flags: bool) -> int:
        """An inbound call from ``caller`` to the member."""
        return make_call(self.db, self.vault, caller, member_id=member_id, created_at=at, **flags)[0]

    def phone(self, n: int, at: datetime = NOW, **flags: bool) -> list[int]:
        """``n`` more members, each phoned once at ``at``; their ids."""
        ids = self.members(n)
        for member_id in ids:
            self.call(member_id, at, CALLER, **flags)
        return ids

    def report(self, member_id: int, at: datetime = NOW, **cols: object) -> int:
        """A report linked to ``CALLER`` as the menu links one to the last caller."""
        with self.db.session() as s:
            row = Report(member_id=member_id, caller_index=self.vault.index(CALLER), created_at=at, **cols)
            s.add(row)
            s.flush()
            return row.id

    def dismissed(self, reason: str) -> list[int]:
        """Three members phoned three days ago, and the signal that raised
        dismissed a day later by a caseworker; the members' ids."""
        ids = self.phone(3, NOW - timedelta(days=3))
        compute_signals(NOW - timedelta(days=2))
        staff = add_staff(self.db, "cw@example.org")
        with self.db.session() as s:
            signal = s.scalars(select(RiskSignal)).one()
            store.dismiss(s, signal, staff_id=staff, reason=reason, now=NOW - timedelta(days=2))
        return ids


@pytest.fixture
def callers(svc: Services, db: Database, vault: NumberVault, enrol: Enrol) -> Callers:
    return Callers(svc, db, vault, enrol)


def the_signal(db: Database) -> RiskSignal | None:
    with db.session() as s:
        return s.scalars(select(RiskSignal)).one_or_none()


def counted(db: Database, seen: int, threshold: int) -> RiskSignal | None:
    """Count the signals now: ``seen`` members, below the rule's ``threshold``,
    raise none; at or above it, the one signal (returned)."""
    compute_signals(NOW)
    signal = the_signal(db)
    assert (signal is not None) == (seen >= threshold), (seen, signal)
    return signal


# --- the rules ---------------------------------------------------------------------


@pytest.mark.parametrize("reached", [2, 3, 4])
def test_a_caller_who_phones_three_members_in_seven_days_is_a_signal(callers: Callers, reached: int) -> None:
    for member_id in callers.phone(reached, NOW - timedelta(days=2)):
        callers.call(member_id, NOW - timedelta(days=1))  # the same member twice counts once
    signal = counted(callers.db, reached, threshold=3)
    if signal is None:
        return
    assert (signal.rules, signal.reached_members, signal.blocked_members) == ("reached", reached, 0)
    assert signal.caller_last3 == "789" and signal.caller_index == callers.vault.index(CALLER)
    assert (signal.first_seen, signal.last_seen) == (NOW - timedelta(days=2), NOW - timedelta(days=1))


def test_calls_outside_the_window_and_other_directions_do_not_count(callers: Callers, db: Database) -> None:
    a, b, c = callers.members(3)
    callers.call(a, NOW - timedelta(days=1))
    callers.call(b, NOW - timedelta(days=1))
    callers.call(c, NOW - timedelta(days=8))  # outside 7 days
    compute_signals(NOW)
    assert the_signal(db) is None
    # A masked call the member placed to the same number is not the caller phoning them.
    with db.session() as s:
        s.get(Call, callers.call(c, NOW)).direction = CallDirection.MASKED_LEG  # type: ignore[union-attr]
    compute_signals(NOW)
    assert the_signal(db) is None


@pytest.mark.parametrize("blockers", [1, 2, 3])
def test_a_caller_declined_or_blocked_by_two_members_is_a_signal(
    callers: Callers, db: Database, blockers: int
) -> None:
    ids = callers.members(blockers)
    callers.call(ids[0], NOW - timedelta(days=20), declined=True)
    with db.session() as s:  # the others blocked from the menu, which flags no call
        for member_id in ids[1:]:
            s.add(
                Block(
                    member_id=member_id,
                    caller_index=callers.vault.index(CALLER),
                    caller_last3="789",
                    created_at=NOW,
                )
            )
    signal = counted(db, blockers, threshold=2)
    if signal is None:
        return
    assert signal.rules == "blocked" and signal.blocked_members == blockers


@pytest.mark.parametrize("reporters", [1, 2, 3])
def test_a_caller_named_by_two_members_reports_is_a_signal(
    callers: Callers, db: Database, reporters: int
) -> None:
    for member_id in callers.members(reporters):
        callers.report(member_id, NOW - timedelta(days=60), category="robbery")
    signal = counted(db, reporters, threshold=2)
    if signal is None:
        return
    assert signal.rules == "reported" and signal.reported_members == reporters
    with db.session() as s:
        assert store.report_categories(s, [signal.caller_index]) == {signal.caller_index: ["robbery"]}


def test_thresholds_and_windows_are_settings_and_retention_cuts_the_windows(tmp_path: Path) -> None:
    settings = load_settings(
        {"SIGNAL_REACHED_MEMBERS": "5", "SIGNAL_BLOCKED_DAYS": "60", "CALL_LOG_RETENTION_DAYS": "45"},
        tmp_path,
    )
    rules = settings.signal_rules
    assert (rules.reached.members, rules.reached.days) == (5, 7)
    assert rules.blocked.days == 45 and rules.reported.days == 45  # not beyond what is kept
    assert load_settings({}, tmp_path).signal_rules.reported.days == 90
    for name, value in (("SIGNAL_REPORTED_MEMBERS", "1"), ("SIGNAL_REACHED_DAYS", "0")):
        with pytest.raises(ConfigurationError, match=name):
            load_settings({name: value}, tmp_path)


def test_a_withheld_caller_is_never_a_signal(callers: Callers, db: Database) -> None:
    with db.session() as s:
        for member_id in callers.members(3):
            s.add(
                Call(
                    call_sid=f"CA{next(_sids):032d}",
                    direction=CallDirection.INBOUND,
                    member_id=member_id,
                    withheld=True,
                    declined=True,
                    created_at=NOW,
                )
            )
    assert compute_signals(NOW).raised == []


# --- dismissal, erasure -----------------------------------------------------------


def test_a_dismissed_signal_comes_back_only_when_new_activity_crosses_a_threshold(
    callers: Callers, db: Database
) -> None:
    first = callers.dismissed("Known regular of 07700 900123, fine")
    signal = the_signal(db)
    assert signal is not None and signal.dismiss_reason == "Known regular of [number ending 123], fine"

    # More of the same (the members already counted) and two new members: still dismissed.
    for member_id in [*first, *callers.members(2)]:
        callers.call(member_id, NOW - timedelta(days=1))
    assert compute_signals(NOW).raised == []
    signal = the_signal(db)
    assert signal is not None and signal.status == SignalStatus.DISMISSED and signal.reached_members == 5

    # A third new member after the dismissal: new activity crosses the threshold by itself.
    callers.phone(1, NOW)
    raised = compute_signals(NOW).raised
    signal = the_signal(db)
    assert signal is not None and raised == [signal.id]
    assert signal.status == SignalStatus.OPEN and signal.raised_at == NOW
    assert (signal.dismissed_at, signal.dismiss_reason) == (None, None)


def test_two_blocks_after_a_dismissal_raise_it_again_on_the_other_rule(
    callers: Callers, db: Database
) -> None:
    ids = callers.dismissed("ok")
    callers.call(ids[0], NOW, declined=True)
    assert compute_signals(NOW).raised == []
    callers.call(ids[1], NOW, declined=True, blocked=True)
    assert len(compute_signals(NOW).raised) == 1
    signal = the_signal(db)
    assert signal is not None and signal.rules == "reached,blocked"


def test_an_erased_member_no_longer_counts(callers: Callers, db: Database) -> None:
    ids = callers.phone(3, NOW - timedelta(hours=1), declined=True)
    compute_signals(NOW)
    signal = the_signal(db)
    assert signal is not None and (signal.reached_members, signal.blocked_members) == (3, 3)
    with db.session() as s:
        repo.cancel_member(s, repo.active_member(s, ids[0]))
    compute_signals(NOW)
    signal = the_signal(db)
    assert signal is not None and (signal.reached_members, signal.blocked_members) == (2, 2)
    assert signal.rules == "blocked"
    with db.session() as s:
        repo.cancel_member(s, repo.active_member(s, ids[1]))
    result = compute_signals(NOW)
    assert the_signal(db) is None and result.dropped == 1


def test_activity_ageing_out_drops_an_open_signal(callers: Callers, db: Database) -> None:
    callers.phone(3, NOW)
    compute_signals(NOW)
    assert the_signal(db) is not None
    assert compute_signals(NOW + timedelta(days=8)).dropped == 1
    assert the_signal(db) is None


# --- the jobs -------------------------------------------------------------------------


def test_the_periodic_schedule_counts_signals() -> None:
    assert PERIODIC["compute_signals"] == 900


def test_refresh_counts_only_the_caller_behind_the_row(callers: Callers, db: Database) -> None:
    a, b = callers.members(2)
    other = "+447700900555"
    for member_id in (a, b):
        callers.call(member_id, utcnow(), caller=other, declined=True)  # another caller, not refreshed
    callers.call(a, utcnow(), declined=True)
    latest = callers.call(b, utcnow(), declined=True)
    result = refresh_signals("call", latest)
    assert result is not None and len(result.raised) == 1
    signal = the_signal(db)
    assert signal is not None and signal.caller_index == callers.vault.index(CALLER)
    assert refresh_signals("call", 2_000_000_000) is None  # gone: nothing to count
    with pytest.raises(ValueError):
        refresh_signals("member", a)


def test_declining_in_the_whisper_leaves_a_job_with_ids_and_computes_nothing_in_the_request(
    app: Flask, twilio: TwilioClient, redis: Redis, db: Database, enrol: Enrol
) -> None:
    enrol()
    twilio.post("/voice/incoming", CallSid="CAparent0001", To="+442079460001", From=CALLER)
    form = {"CallSid": "CAleg1", "ParentCallSid": "CAparent0001", "Digits": "2"}
    twilio.post("/voice/screen", query="call=CAparent0001", **form)
    with db.session() as s:
        call_id = s.scalars(select(Call.id).where(Call.call_sid == "CAparent0001")).one()
    refreshes = [args for name, args in menu_jobs(redis, db) if name == "worker.signals.refresh_signals"]
    assert refreshes == [("call", call_id)]
    assert the_signal(db) is None


def test_blocking_from_the_menu_and_starting_a_report_leave_jobs_with_ids(
    app: Flask, menu: MemberMenu, redis: Redis, db: Database
) -> None:
    member_id = menu.seed()
    menu.add_inbound_call(member_id, CALLER)
    sid = menu.logged_in_call()
    assert "ending 7 8 9" in menu.press(sid, "3").said
    sid = menu.logged_in_call()
    assert "Record" in menu.press(sid, "2").verbs
    with db.session() as s:
        block_id = s.scalars(select(Block.id)).one()
        report_id = s.scalars(select(Report.id)).one()
    refreshes = [args for name, args in menu_jobs(redis, db) if name == "worker.signals.refresh_signals"]
    assert refreshes == [("block", block_id), ("report", report_id)]
    assert the_signal(db) is None  # counted by the worker, not in the call


# --- alerts ---------------------------------------------------------------------------


def alert_events(db: Database) -> list[tuple[str, bool]]:
    """(job, done) of the alert events written, oldest first."""
    with db.session() as s:
        rows = s.execute(
            select(Event.job, Event.done_at).where(Event.job == "send_signal_alerts").order_by(Event.id)
        )
        return [(job, done_at is not None) for job, done_at in rows]


@pytest.mark.usefixtures("empty_events")
def test_a_count_that_raises_signals_sends_one_email_listing_each_with_a_link_and_no_number(
    callers: Callers, db: Database
) -> None:
    add_staff(db, "cw@example.org")
    add_staff(db, "boss@example.org", role="admin")
    add_staff(db, "gone@example.org", active=False)
    ids = callers.members(2)
    for caller in (CALLER, "+447911123456"):
        for member_id in ids:
            callers.call(member_id, utcnow(), caller=caller, declined=True)
    raised = compute_signals().raised  # the inline queue ran the alert job too
    assert len(raised) == 2
    assert alert_events(db) == [("send_signal_alerts", True)]  # one job for the count, done
    mails = mail_log(callers.svc.settings.mail_log_path)
    assert len(mails) == 1
    body = mails[0].get_payload(decode=True).decode()
    # Nobody is on call: every active caseworker and admin.
    assert mails[0]["To"] == "cw@example.org, boss@example.org"
    assert mails[0]["Subject"] == "Safety Number: 2 new risk signals"
    for signal_id in raised:
        assert f"https://safety.example.org/staff/signals/{signal_id}\n" in body
    assert body.count("A caller who declined or blocked by several members:") == 2
    assert "789" not in body and "456" not in body and "Member" not in body
    assert send_signal_alerts() == 0  # nothing due: no second email
    assert send_signal_alerts(utcnow() + timedelta(days=2)) == 0  # not raised again: no reminder
    assert compute_signals().raised == [] and len(alert_events(db)) == 1  # nothing new: no job
    assert len(mail_log(callers.svc.settings.mail_log_path)) == 1


@pytest.mark.usefixtures("empty_events")
def test_a_signal_raised_again_is_announced_again_but_at_most_once_a_day(
    callers: Callers, db: Database
) -> None:
    add_staff(db, "cw@example.org")
    callers.phone(2, utcnow() - timedelta(hours=2), declined=True)
    (signal_id,) = compute_signals().raised
    with db.session() as s:
        signal = s.get_one(RiskSignal, signal_id)
        first_email = signal.alerted_at
        assert first_email is not None
        store.dismiss(s, signal, staff_id=add_staff(db, "boss@example.org", role="admin"), reason="ok")
    # Two new members decline after the dismissal: raised again, within a day of the first email.
    later = utcnow() + timedelta(minutes=1)
    callers.phone(2, later, declined=True)
    assert compute_signals(later).raised == [signal_id]
    assert len(alert_events(db)) == 2 and len(mail_log(callers.svc.settings.mail_log_path)) == 1
    # Still waiting an hour on: the periodic count leaves no job for it yet.
    assert compute_signals(later + timedelta(hours=1)).raised == []
    assert len(alert_events(db)) == 2
    # A day after the first email it is due: the periodic count leaves the job
    # (which, run now, sends nothing yet) and the job sends it.
    a_day_on = first_email + timedelta(days=1, minutes=1)
    assert compute_signals(a_day_on).raised == []
    assert len(alert_events(db)) == 3
    assert send_signal_alerts(a_day_on) == 1
    mails = mail_log(callers.svc.settings.mail_log_path)
    assert len(mails) == 2 and mails[1]["Subject"] == "Safety Number: a new risk signal"
    assert f"/staff/signals/{signal_id}\n" in mails[1].get_payload(decode=True).decode()
    assert send_signal_alerts(a_day_on + timedelta(days=2)) == 0  # announced: no reminder


def test_signal_alerts_go_to_the_active_staff_on_call(callers: Callers, db: Database) -> None:
    add_staff(db, "cw@example.org")
    add_staff(db, "oncall@example.org", on_call=True)
    add_staff(db, "boss@example.org", role="admin", on_call=True)
    add_staff(db, "gone@example.org", active=False, on_call=True)
    callers.phone(2, utcnow(), declined=True)
    assert len(compute_signals().raised) == 1
    (mail,) = mail_log(callers.svc.settings.mail_log_path)
    assert mail["To"] == "oncall@example.org, boss@example.org"


def test_no_alert_for_a_caller_already_under_a_warning(callers: Callers, db: Database) -> None:
    add_staff(db, "cw@example.org")
    with db.session() as s:
        repo.add_warning(
            s, caller_index=callers.vault.index(CALLER), category="threats", summary="threatened a member"
        )
    callers.phone(2, utcnow(), declined=True)
    assert len(compute_signals().raised) == 1
    assert mail_log(callers.svc.settings.mail_log_path) == []


def test_signal_rules_name_what_fired() -> None:
    assert [r.value for r in Rule] == ["reached", "blocked", "reported"]
