"""Masked calls fired in parallel at a real server: the daily caps hold
(docs/members-and-callers.md, the member menu, key 1: caps are reservations taken atomically before dialling).

The attack this reproduces: 40 member calls past the PIN keyed their
destination at once and got 24 dials against a cap of 20, each with a
``timeLimit`` of 3600 — 24 hours against a cap of 120 minutes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import pytest
from redis import Redis
from sqlalchemy import func, select

from callflows import prompts
from callflows.speech import english_speaker
from ivr import create_app
from storage.models import Call
from storage.vault import NumberVault
from tests.support import people
from tests.support.live_server import SignedPoster, migrated_database, serving
from tests.support.menu import ACCESS, MENU, new_sid
from tests.support.people import ACCESS_LINE, LINE, MEMBER_PHONE, PIN, national
from tests.support.suite import PG_URL, SuiteConfig
from tests.support.twilio import TwiML, said

PARALLEL = 40
DESTINATION = "07400654321"


class MemberCall:
    """One call of the member: through the access line into the menu, then a destination."""

    def __init__(self, twilio: SignedPoster) -> None:
        self.twilio = twilio
        self.form = {"CallSid": new_sid(), "From": MEMBER_PHONE, "To": ACCESS_LINE}

    def post(self, path: str, digits: str | None = None) -> TwiML:
        extra = {} if digits is None else {"Digits": digits}
        return TwiML(self.twilio.post(path, {**self.form, **extra}))

    def into_menu(self) -> None:
        self.post("/voice/incoming")
        self.post(f"{ACCESS}/number", national(LINE))
        assert english_speaker().text(prompts.MENU_CALL) in said(self.post(f"{ACCESS}/pin", PIN).root)

    def key_destination(self, ready: threading.Barrier) -> TwiML:
        self.into_menu()
        ready.wait()  # every destination goes in at once
        return self.post(f"{MENU}/destination", DESTINATION)


def fire(twilio: SignedPoster) -> list[TwiML]:
    ready = threading.Barrier(PARALLEL)
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(lambda _: MemberCall(twilio).key_destination(ready), range(PARALLEL)))


class Reserved(NamedTuple):
    """Masked calls with minutes reserved, and the seconds they reserved."""

    calls: int
    seconds: int


@pytest.fixture
def race(
    app_config: Callable[..., dict[str, Any]], suite: SuiteConfig, vault: NumberVault, redis: Redis
) -> Callable[..., tuple[list[TwiML], Reserved]]:
    """``race(**caps)``: the standard member's 40 parallel masked calls against
    an app with ``caps``; every answer, and the database they were written to."""

    def run(**caps: int) -> tuple[list[TwiML], Reserved]:
        with migrated_database(PG_URL, f"sn_masked_race_{os.getpid()}", pool_size=PARALLEL + 5) as db:
            people.enrol(db, vault)
            people.add_access_line(db)
            with serving(create_app(app_config(database=db, **caps))) as origin:
                answers = fire(SignedPoster(origin, suite))
            with db.session() as session:
                calls, seconds = session.execute(
                    select(func.count(), func.coalesce(func.sum(Call.reserved_seconds), 0)).where(
                        Call.reserved_at.is_not(None)
                    )
                ).one()
            return answers, Reserved(int(calls), int(seconds or 0))

    return run


def dials(answers: list[TwiML]) -> list[int]:
    """The ``timeLimit`` of every answer that dialled."""
    return [int(a.one("Dial").get("timeLimit") or 0) for a in answers if a.find("Dial") is not None]


def assert_the_rest_hear_the_limit(answers: list[TwiML]) -> None:
    for answer in answers:
        if answer.find("Dial") is None:
            assert prompts.DAILY_LIMIT.text in said(answer.root)


def test_parallel_destinations_never_dial_more_than_the_daily_call_cap(race: Any) -> None:
    answers, reserved = race(outbound_daily_calls=20, outbound_daily_minutes=100_000)
    limits = dials(answers)
    assert len(limits) == 20  # the cap, not one more
    assert limits == [3600] * 20
    assert_the_rest_hear_the_limit(answers)
    assert (reserved.calls, reserved.seconds) == (20, sum(limits))


def test_parallel_time_limits_never_add_up_to_more_than_the_daily_minutes(race: Any) -> None:
    answers, reserved = race(outbound_time_limit_seconds=500)  # 20 calls, 120 minutes
    limits = dials(answers)
    assert sum(limits) == 120 * 60  # every second of the budget, and not one more
    assert sorted(limits) == [200] + [500] * 14
    assert_the_rest_hear_the_limit(answers)
    assert (reserved.calls, reserved.seconds) == (len(limits), sum(limits))
