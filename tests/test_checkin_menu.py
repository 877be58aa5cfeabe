"""Setting up check-ins: the menu's options 5 (start), 6 (end) and 7 (duress
PIN and buddy), and the CLI's ``members enrol --duress-pin --buddy`` and
``checkins list``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from callflows import prompts
from callflows.languages import language
from storage import repositories as repo
from storage.db import Database
from storage.hashing import verify_secret
from storage.models import Checkin, CheckinState, Member
from storage.vault import NumberVault
from tests.staff.helpers import Clock
from tests.support.checkins import START
from tests.support.menu import MemberMenu, member_row
from tests.support.people import MEMBER_PHONE, PIN
from tests.support.twilio import TwiML, said

BUDDY = "+447911123456"  # a UK mobile, not in Ofcom's drama ranges


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def clocked(make_app: Callable[..., Flask], clock: Clock, menu: MemberMenu, redis: object) -> MemberMenu:
    """The standard member's menu on an app whose clock the test moves."""
    return menu.on(make_app(clock=clock))


def _key(menu: MemberMenu, root: TwiML, sid: str, digits: str) -> TwiML:
    """Key ``digits`` at the Gather of ``root`` (its action is one of the menu's steps)."""
    action = root.one("Gather").get("action") or ""
    path = action.removeprefix(menu.twilio.suite.public_base_url)
    return menu.twilio.post(
        path,
        AccountSid=menu.twilio.suite.account_sid,
        CallSid=sid,
        From=MEMBER_PHONE,
        To="+442079460900",
        Direction="inbound",
        CallStatus="in-progress",
        Digits=digits,
    )


def _open(db: Database, member_id: int) -> list[Checkin]:
    with db.session() as s:
        return list(
            s.scalars(
                select(Checkin).where(Checkin.member_id == member_id, Checkin.state.in_(["open", "calling"]))
            )
        )


def test_the_menu_offers_the_check_in_options(clocked: MemberMenu) -> None:
    clocked.seed()
    root = clocked.press(clocked.logged_in_call(), "4")
    text = said(root.one("Gather"))
    assert "Press 5 to start a check-in timer" in text and "Press 6 to end your check-in" in text
    assert "Press 7 to set your duress PIN or buddy" in text


def test_starting_a_check_in_says_when_it_will_ring(clocked: MemberMenu, db: Database, clock: Clock) -> None:
    member_id = clocked.seed()
    sid = clocked.logged_in_call()
    ask = clocked.press(sid, "5")
    assert ask.one("Gather").get("finishOnKey") == "#" and prompts.CHECKIN_ASK_MINUTES.text in ask.said
    done = _key(clocked, ask, sid, "90")
    # 20:00 UTC in December is 8 PM in London; 90 minutes later is 21:30.
    assert "We will call you in 90 minutes, at 21:30." in done.said
    assert done.one("Gather").get("numDigits") == "1"  # back at the menu
    [checkin] = _open(db, member_id)
    assert (checkin.set_at, checkin.due_at) == (datetime(2026, 12, 3, 20, 0), datetime(2026, 12, 3, 21, 30))
    assert checkin.next_attempt_at == checkin.due_at and checkin.state == CheckinState.OPEN


@pytest.mark.parametrize(
    ("code", "keyed", "heard"),
    [
        # Romanian and Polish change the noun with the number.
        ("ro", "90", "Vă vom suna peste 90 de minute, la ora 21:30."),
        ("ro", "15", "Vă vom suna peste 15 minute, la ora 20:15."),
        ("pl", "22", "Zadzwonimy do Ciebie za 22 minuty, o godzinie 20:22."),
        ("pl", "25", "Zadzwonimy do Ciebie za 25 minut, o godzinie 20:25."),
        ("th", "90", "เราจะโทรหาคุณในอีก 90 นาที เวลา 21:30 น."),
    ],
)
def test_the_check_in_options_speak_the_members_language(
    clocked: MemberMenu, code: str, keyed: str, heard: str
) -> None:
    clocked.seed(language=code)
    spoken_in = language(code)
    sid = clocked.logged_in_call()
    ask = clocked.press(sid, "5")
    done = _key(clocked, ask, sid, keyed)
    assert heard in done.said
    settings = clocked.press(sid, "7")
    assert prompts.CHECKIN_SETTINGS_OPTIONS.text not in settings.said
    for root in (ask, done, settings):
        assert {(say.get("voice"), say.get("language")) for say in root.iter("Say")} == {
            (spoken_in.voice, spoken_in.twilio_language)
        }


@pytest.mark.parametrize("keyed", ["14", "481", "0", "9999", "12a"])
def test_minutes_outside_15_to_480_are_asked_again_and_nothing_is_set(
    clocked: MemberMenu, db: Database, keyed: str
) -> None:
    member_id = clocked.seed()
    sid = clocked.logged_in_call()
    again = _key(clocked, clocked.press(sid, "5"), sid, keyed)
    assert prompts.CHECKIN_BAD_MINUTES.text in again.said and prompts.CHECKIN_ASK_MINUTES.text in again.said
    assert _open(db, member_id) == []


def test_a_new_check_in_replaces_the_running_one_and_says_when_that_was_due(
    clocked: MemberMenu, db: Database
) -> None:
    member_id = clocked.seed()
    sid = clocked.logged_in_call()
    _key(clocked, clocked.press(sid, "5"), sid, "60")
    ask = clocked.press(sid, "5")
    assert "Your check-in call is due at 21:00." in ask.said
    _key(clocked, ask, sid, "120")
    [checkin] = _open(db, member_id)
    assert checkin.due_at - checkin.set_at == timedelta(minutes=120)
    with db.session() as s:
        states = sorted(s.scalars(select(Checkin.state).where(Checkin.member_id == member_id)))
    assert states == [CheckinState.OPEN, CheckinState.REPLACED]


def test_ending_a_check_in_early(clocked: MemberMenu, db: Database) -> None:
    member_id = clocked.seed()
    sid = clocked.logged_in_call()
    assert prompts.NO_CHECKIN.text in clocked.press(sid, "6").said
    _key(clocked, clocked.press(sid, "5"), sid, "30")
    assert prompts.CHECKIN_ENDED.text in clocked.press(sid, "6").said
    assert _open(db, member_id) == []


def test_the_check_in_steps_refuse_a_call_that_did_not_pass_the_access_line(
    clocked: MemberMenu, db: Database
) -> None:
    member_id = clocked.seed()
    root = clocked.post("checkin/minutes", "CAnotloggedin000000000000000000000", Digits="60")
    assert root.verbs == ["Say", "Hangup"] and "not available" in root.said
    assert _open(db, member_id) == []


# --- the duress PIN and the buddy, from the menu ------------------------------------


def _settings(menu: MemberMenu, sid: str, choice: str) -> TwiML:
    return _key(menu, menu.press(sid, "7"), sid, choice)


def test_setting_a_duress_pin_keeps_only_its_hash(clocked: MemberMenu, db: Database) -> None:
    member_id = clocked.seed()
    sid = clocked.logged_in_call()
    ask = _settings(clocked, sid, "1")
    assert ask.one("Gather").get("finishOnKey") == "#"
    assert prompts.DURESS_SET.text in _key(clocked, ask, sid, "7395").said
    member = member_row(db, member_id)
    assert member.duress_pin_hash and "7395" not in member.duress_pin_hash
    assert verify_secret(member.duress_pin_hash, "7395")


def test_setting_a_buddy_keeps_the_number_encrypted_and_says_its_last_digits(
    clocked: MemberMenu, db: Database, vault: NumberVault
) -> None:
    member_id = clocked.seed()
    sid = clocked.logged_in_call()
    root = _key(clocked, _settings(clocked, sid, "3"), sid, "07911123456")
    assert "Your buddy's number ending 4 5 6 is saved." in root.said
    member = member_row(db, member_id)
    assert member.buddy_encrypted and vault.reveal(member.buddy_encrypted) == BUDDY
    assert member.buddy_index == vault.index(BUDDY)
    assert "7911123456" not in (member.buddy_encrypted + member.buddy_index)


# The check-in options' menu: what each option keys in, and the column that keeps it.
DURESS_OPTION = ("1", "duress_pin_hash")
BUDDY_OPTION = ("3", "buddy_encrypted")


@pytest.mark.parametrize(
    ("option", "keyed", "heard"),
    [
        (DURESS_OPTION, PIN, "must be different from your PIN"),
        (DURESS_OPTION, "1111", "too easy to guess"),
        (DURESS_OPTION, "12", "too short"),
        (BUDDY_OPTION, "09011234567", "Premium rate numbers"),
        (BUDDY_OPTION, "999", "emergency"),
        (BUDDY_OPTION, "+33612345678", "Only UK numbers"),
        (BUDDY_OPTION, "02079460123", "must not be your own phone"),
    ],
)
def test_a_refused_duress_pin_or_buddy_is_not_kept(
    clocked: MemberMenu, db: Database, option: tuple[str, str], keyed: str, heard: str
) -> None:
    """A duress PIN like the PIN, too easy or too short; a premium rate,
    foreign, emergency or the member's own number as the buddy."""
    key, column = option
    member_id = clocked.seed()
    sid = clocked.logged_in_call()
    assert heard in _key(clocked, _settings(clocked, sid, key), sid, keyed).said
    assert getattr(member_row(db, member_id), column) is None


def test_removing_the_duress_pin_and_the_buddy(clocked: MemberMenu, db: Database) -> None:
    member_id = clocked.seed()
    sid = clocked.logged_in_call()
    _key(clocked, _settings(clocked, sid, "1"), sid, "7395")
    _key(clocked, _settings(clocked, sid, "3"), sid, "07911123456")
    assert prompts.DURESS_REMOVED.text in _settings(clocked, sid, "2").said
    assert prompts.BUDDY_REMOVED.text in _settings(clocked, sid, "4").said
    member = member_row(db, member_id)
    assert (member.duress_pin_hash, member.buddy_encrypted, member.buddy_index) == (None, None, None)


# --- the CLI ------------------------------------------------------------------------------


ENROL = ["members", "enrol", "--name", "Ruby", "--phone", "020 7946 0123", "--pin", "4821"]


def test_enrol_with_a_duress_pin_and_a_buddy(
    runner: FlaskCliRunner, db: Database, vault: NumberVault
) -> None:
    with db.session() as s:
        repo.add_numbers(s, ["+442079460001"])
    result = runner.invoke(args=[*ENROL, "--duress-pin", "7395", "--buddy", "07911 123456"])
    assert result.exit_code == 0, result.output
    assert "7911" not in result.output
    with db.session() as s:
        member = s.scalars(select(Member)).one()
        assert verify_secret(member.duress_pin_hash, "7395")
        assert vault.reveal(member.buddy_encrypted or "") == BUDDY


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--duress-pin", "4821"], "different from the PIN"),
        (["--duress-pin", "0000"], "too easy"),
        (["--buddy", "0906 123 4567"], "Premium rate"),
        (["--buddy", "999"], "emergency"),
        (["--buddy", "+1 212 555 0100"], "Only UK numbers"),
    ],
)
def test_enrol_refuses_a_bad_duress_pin_or_buddy_and_writes_nothing(
    runner: FlaskCliRunner, db: Database, extra: list[str], message: str
) -> None:
    with db.session() as s:
        repo.add_numbers(s, ["+442079460001"])
    result = runner.invoke(args=[*ENROL, *extra])
    assert result.exit_code != 0 and message in result.output
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Member)) == 0


def test_checkins_list_shows_ids_due_times_and_states_never_a_number(
    runner: FlaskCliRunner, clocked: MemberMenu, db: Database, tmp_path: Path
) -> None:
    member_id = clocked.seed()
    sid = clocked.logged_in_call()
    _key(clocked, clocked.press(sid, "5"), sid, "45")
    result = runner.invoke(args=["checkins", "list"])
    assert result.exit_code == 0
    [checkin] = _open(db, member_id)
    row = result.output.splitlines()[1].split()
    assert row[:2] == [str(checkin.id), str(member_id)]
    assert checkin.due_at.strftime("%H:%M") in result.output and "open" in result.output
    assert "7946" not in result.output and "Test member" not in result.output


def test_cancelling_ends_check_ins_and_erases_duress_pin_and_buddy(
    clocked: MemberMenu, db: Database, runner: FlaskCliRunner
) -> None:
    member_id = clocked.seed()
    sid = clocked.logged_in_call()
    _key(clocked, _settings(clocked, sid, "1"), sid, "7395")
    _key(clocked, _settings(clocked, sid, "3"), sid, "07911123456")
    _key(clocked, clocked.press(sid, "5"), sid, "60")
    assert runner.invoke(args=["members", "cancel", str(member_id)]).exit_code == 0
    member = member_row(db, member_id)
    assert (member.duress_pin_hash, member.buddy_encrypted, member.buddy_index) == (None, None, None)
    assert _open(db, member_id) == []
    with db.session() as s:
        assert s.scalars(select(Checkin.state).where(Checkin.member_id == member_id)).one() == "cancelled"
