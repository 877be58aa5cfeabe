"""Call-back requests and the "calls from the scheme" preference (issue 16,
items 2 and 3): from the member's menu (keys 7 and 8) to the caseworkers'
task list, and done when a call from the console reaches the member."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from callflows import prompts
from callflows.speech import english_speaker
from storage.db import Database
from storage.models import AuditEntry, CallbackRequest, Member
from tests.leak_scan import number_forms
from tests.staff.helpers import post
from tests.support.menu import MemberMenu
from tests.support.staff_calls import StaffCallWorld

ENGLISH = english_speaker()


@pytest.fixture
def world(staff_call_world: StaffCallWorld) -> StaffCallWorld:
    return staff_call_world


@pytest.fixture
def phone(world: StaffCallWorld, menu: MemberMenu) -> Callable[[str], str]:
    """The member calls their menu through the access line, presses 0 for
    "calls from the scheme" and then ``key``; what they hear after it."""

    def press(key: str) -> str:
        member_menu = menu.on(world.app)
        call = member_menu.logged_in_call()
        offered = member_menu.press(call, "0").said
        assert (
            _heard(prompts.SCHEME_CHOICES) in offered or _heard(prompts.SCHEME_CHOICES_WHILE_OFF) in offered
        )
        return member_menu.post("scheme-calls", call, Digits=key).said

    return press


def _heard(message: prompts.Message) -> str:
    return ENGLISH.text(message)


def _requests(db: Database) -> list[CallbackRequest]:
    with db.session() as s:
        return list(s.scalars(select(CallbackRequest).order_by(CallbackRequest.id)))


def test_a_call_back_request_from_the_menu_is_a_task_until_a_call_connects(
    world: StaffCallWorld, phone: Callable[[str], str]
) -> None:
    assert _heard(prompts.CALLBACK_ASKED) in phone("1")
    # Asking again keeps the first request (and its time).
    assert _heard(prompts.CALLBACK_ALREADY) in phone("1")
    [request] = _requests(world.db)
    assert request.closed_at is None

    # Every caseworker sees it: the member's working name and when they asked.
    tasks = world.client(world.other).get("/staff/callbacks").get_data(as_text=True)
    assert "Ruby (member #" in tasks
    assert request.requested_at.strftime("%d %b %Y %H:%M") in tasks
    for form in number_forms(world.member.phone):
        assert form not in tasks

    # Any caseworker may call back a member who asked (not only a report's caseworker).
    world.click_call(world.other, f"/staff/callbacks/{request.id}/call")
    with world.db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "member.call")).one()
    assert entry.detail is not None and entry.detail.startswith("reason=callback")
    result = world.answer(caseworker="1", member="1")
    assert "who asked to be called back" in result.spoken_to("caseworker")
    assert result.bridged

    [request] = _requests(world.db)
    assert request.closed_at is not None and request.closed_by_call_id is not None
    assert request.closed_by_staff_id == world.other
    assert "No member is waiting" in world.client(world.other).get("/staff/callbacks").get_data(as_text=True)


def test_a_call_that_does_not_connect_leaves_the_task_open(
    world: StaffCallWorld, phone: Callable[[str], str]
) -> None:
    phone("1")
    [request] = _requests(world.db)
    world.click_call(world.caseworker, f"/staff/callbacks/{request.id}/call")
    world.answer(caseworker="1", member="no-answer")
    [request] = _requests(world.db)
    assert request.closed_at is None


def test_a_caseworker_closes_a_task_by_hand(world: StaffCallWorld, phone: Callable[[str], str]) -> None:
    phone("1")
    [request] = _requests(world.db)
    client = world.client(world.other)
    assert post(client, f"/staff/callbacks/{request.id}/close").status_code == 303
    [request] = _requests(world.db)
    assert request.closed_at is not None and request.closed_by_staff_id == world.other
    # Closed: neither call nor close again.
    assert post(client, f"/staff/callbacks/{request.id}/close").status_code == 404
    assert post(client, f"/staff/callbacks/{request.id}/call").status_code == 404


def test_key_0_then_2_turns_calls_from_the_scheme_off_and_on(
    world: StaffCallWorld, phone: Callable[[str], str]
) -> None:
    phone("1")
    assert _heard(prompts.SCHEME_CALLS_OFF) in phone("2")
    with world.db.session() as s:
        assert s.get_one(Member, world.member.id).scheme_calls is False
    # Not wanting calls closes the open request, and a new one is not taken.
    [request] = _requests(world.db)
    assert request.closed_at is not None
    # While calls are off, 1 asks for nothing: back to the menu.
    assert _heard(prompts.CALLBACK_ASKED) not in phone("1")
    assert len(_requests(world.db)) == 1
    # "Call the member" is refused while the member does not want calls.
    assert "asked not to be called" in world.click_call(world.caseworker)
    assert world.fake.placed == []

    assert _heard(prompts.SCHEME_CALLS_ON) in phone("2")
    world.click_call(world.caseworker)
    assert len(world.fake.placed) == 1


def test_an_admin_records_the_preference_in_the_console(world: StaffCallWorld) -> None:
    admin = world.client(world.admin)
    response = post(admin, f"/staff/members/{world.member.id}/scheme-calls", {"allow": "no"})
    assert response.status_code == 303
    page = admin.get(f"/staff/members/{world.member.id}").get_data(as_text=True)
    assert "not wanted: the member asked not to be called" in page
    assert "Call the member</button>" not in page
    assert "asked not to be called" in world.click_call(world.admin, f"/staff/members/{world.member.id}/call")
    assert (
        post(admin, f"/staff/members/{world.member.id}/scheme-calls", {"allow": "maybe"}).status_code == 400
    )
    # Caseworkers do not see member pages, nor change the preference.
    caseworker = world.client(world.caseworker)
    assert (
        post(caseworker, f"/staff/members/{world.member.id}/scheme-calls", {"allow": "yes"}).status_code
        == 403
    )


def test_cancelling_closes_the_request(world: StaffCallWorld, phone: Callable[[str], str]) -> None:
    phone("1")
    admin = world.client(world.admin)
    post(admin, f"/staff/members/{world.member.id}/cancel", {"confirm": "yes"})
    [request] = _requests(world.db)
    assert request.closed_at is not None


def test_members_hear_calls_from_the_scheme_in_their_own_language() -> None:
    """What a member hears of calls from the scheme is translated in every
    language (the caseworker's side is English, the console's language)."""
    from callflows.languages import LANGUAGES
    from callflows.speech import untranslated

    member_facing = {entry.id for entry in prompts.CATALOGUE.values() if entry.id.startswith("scheme.")}
    member_facing.add(prompts.MENU_SCHEME.id)
    assert len(member_facing) == 8
    for language in LANGUAGES:
        assert member_facing.isdisjoint(untranslated(language)), language.code
