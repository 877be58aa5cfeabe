"""The member's leg (whisper and screening key) and the caller's leg after the
Dial (dial result)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from ivr.services import services_of
from storage import repositories as repo
from storage.db import Database
from storage.models import Block, Call, utcnow
from storage.vault import NumberVault
from tests.support.people import LINE, MEMBER_PHONE, EnrolledMember
from tests.support.suite import SuiteConfig
from tests.support.twilio import TwilioClient, TwiML

CALLER = "+447911123789"
PARENT = "CAparent0001"
LEG = "CAleg00000001"


def call_in(twilio: TwilioClient, caller: str | None = CALLER, sid: str = PARENT) -> None:
    answer = twilio.post("/voice/incoming", CallSid=sid, To=LINE, From=caller or "anonymous")
    assert answer.verbs == ["Dial"]


def member_leg(twilio: TwilioClient, path: str, parent: str = PARENT, **fields: str) -> TwiML:
    """Twilio's request on the member's leg of the call ``parent``."""
    form = {"CallSid": LEG, "ParentCallSid": parent, "To": MEMBER_PHONE, "From": LINE, **fields}
    return twilio.post(path, query=f"call={parent}", **form)


def inbound_row(db: Database, sid: str = PARENT) -> Call:
    with db.session() as s:
        return s.scalars(select(Call).where(Call.call_sid == sid)).one()


# --- whisper -----------------------------------------------------------------------


@pytest.mark.usefixtures("member")
def test_whisper_names_the_last_three_digits_then_hangs_up(
    app: Flask, twilio: TwilioClient, suite: SuiteConfig
) -> None:
    call_in(twilio)
    root = member_leg(twilio, "/voice/whisper", CallStatus="in-progress")
    assert root.verbs == ["Gather", "Hangup"]
    gather = root[0]
    assert gather.get("numDigits") == "1"
    assert gather.get("timeout") == str(services_of(app).settings.gather_timeout_seconds)
    assert gather.get("action") == suite.url("/voice/screen", f"call={PARENT}")
    says = [say.text for say in gather]
    assert says == [
        "Safety Number call, from a number ending 7 8 9.",
        "Press 1 to accept, 2 to decline and block.",
    ]
    # A whisper may not dial or redirect; the caller's number is never spoken.
    assert root.find(".//Dial") is None and root.find(".//Redirect") is None
    assert "123789" not in root.said and "789" not in root.said


@pytest.mark.usefixtures("member")
def test_whisper_for_a_withheld_caller(twilio: TwilioClient) -> None:
    call_in(twilio, None)
    root = member_leg(twilio, "/voice/whisper")
    assert root.verbs == ["Gather", "Hangup"]
    assert root[0][0].text == "Safety Number call, from a withheld number."


@pytest.mark.usefixtures("member")
def test_whisper_warns_with_count_and_categories(
    twilio: TwilioClient, db: Database, vault: NumberVault
) -> None:
    index = vault.index(CALLER)
    with db.session() as s:
        repo.add_warning(s, caller_index=index, category="physical-assault", summary="hit a member")
        repo.add_warning(s, caller_index=index, category="robbery", summary="took money")
        repo.add_warning(
            s, caller_index=index, category="stalking", summary="old", expires_at=utcnow() - timedelta(days=1)
        )
        repo.add_warning(s, caller_index=vault.index("+447911000000"), category="threats", summary="not him")
    call_in(twilio)
    says = [say.text for say in member_leg(twilio, "/voice/whisper")[0]]
    assert says[1] in (
        "Warning: 2 warnings on file for this caller: robbery, physical assault.",
        "Warning: 2 warnings on file for this caller: physical assault, robbery.",
    )
    assert says[-1] == "Press 1 to accept, 2 to decline and block."
    assert inbound_row(db).warned


@pytest.mark.usefixtures("member")
def test_one_warning_is_singular(twilio: TwilioClient, db: Database, vault: NumberVault) -> None:
    with db.session() as s:
        repo.add_warning(s, caller_index=vault.index(CALLER), category="threats", summary="threatened")
    call_in(twilio)
    says = [say.text for say in member_leg(twilio, "/voice/whisper")[0]]
    assert says[1] == "Warning: 1 warning on file for this caller: threats."


@pytest.mark.usefixtures("member")
def test_whisper_for_an_unknown_call_never_bridges(twilio: TwilioClient) -> None:
    root = member_leg(twilio, "/voice/whisper", parent="CAnosuchcall")
    assert root.verbs == ["Hangup"]


# --- the member's key --------------------------------------------------------------


@pytest.mark.usefixtures("member")
def test_1_accepts_and_bridges(twilio: TwilioClient, db: Database) -> None:
    call_in(twilio)
    root = member_leg(twilio, "/voice/screen", Digits="1")
    assert root.verbs == []  # an empty response ends the whisper: Twilio bridges
    row = inbound_row(db)
    assert row.bridged and not row.declined and not row.blocked


def test_2_blocks_the_caller_and_the_next_call_is_rejected(
    twilio: TwilioClient, db: Database, vault: NumberVault, member: EnrolledMember
) -> None:
    call_in(twilio)
    root = member_leg(twilio, "/voice/screen", Digits="2")
    assert root.verbs == ["Say", "Hangup"]
    assert root[0].text == "Caller blocked. Goodbye."
    row = inbound_row(db)
    assert row.declined and row.blocked and not row.bridged
    with db.session() as s:
        (block,) = s.scalars(select(Block)).all()
    assert (block.member_id, block.caller_index) == (member.id, vault.index(CALLER))
    assert block.caller_last3 == "789"

    again = twilio.post("/voice/incoming", CallSid="CAagain", To=LINE, From=CALLER)
    assert again.verbs == ["Reject"]
    # Pressing 2 twice (Twilio retry) is harmless.
    assert member_leg(twilio, "/voice/screen", Digits="2").verbs == ["Say", "Hangup"]


@pytest.mark.usefixtures("member")
def test_2_on_a_withheld_caller_has_nothing_to_block(twilio: TwilioClient, db: Database) -> None:
    call_in(twilio, None)
    root = member_leg(twilio, "/voice/screen", Digits="2")
    assert root.verbs == ["Say", "Hangup"]
    assert root[0].text == "This caller withheld their number, so it cannot be blocked. Goodbye."
    with db.session() as s:
        assert s.scalars(select(Block)).all() == []
    row = inbound_row(db)
    assert row.declined and not row.blocked


@pytest.mark.usefixtures("member")
@pytest.mark.parametrize("digits", ["9", "*", "", "12"])
def test_any_other_key_declines(twilio: TwilioClient, db: Database, digits: str) -> None:
    call_in(twilio)
    assert member_leg(twilio, "/voice/screen", Digits=digits).verbs == ["Hangup"]
    row = inbound_row(db)
    assert row.declined and not row.bridged and not row.blocked


@pytest.mark.usefixtures("member")
def test_a_key_for_an_unknown_call_never_bridges(twilio: TwilioClient) -> None:
    response = member_leg(twilio, "/voice/screen", parent="CAnosuch", Digits="1")
    assert response.verbs == ["Hangup"]


# --- dial result (the caller's leg) -------------------------------------------------

NOT_AVAILABLE = "The person you are calling is not available. Please try again later. Goodbye."
REJECT = b"<Response><Reject /></Response>"


def dial_result(twilio: TwilioClient, **fields: str) -> TwiML:
    """Twilio's request on the caller's leg once the <Dial> ended, on a call
    nothing answered before the Dial (no greeting): ringing until bridged."""
    status = "in-progress" if fields.get("DialBridged") == "true" else "ringing"
    form = {"CallSid": PARENT, "From": CALLER, "To": LINE, "CallStatus": status, **fields}
    return twilio.post("/voice/dial_result", query=f"call={PARENT}", **form)


def dial_result_after_greeting(twilio: TwilioClient, **fields: str) -> TwiML:
    """The same on a call the member's greeting answered: the action URL the
    inbound answer gave is marked so, and Twilio reports the leg in progress."""
    form = {"CallSid": PARENT, "From": CALLER, "To": LINE, "CallStatus": "in-progress", **fields}
    return twilio.post("/voice/dial_result", query=f"call={PARENT}&answered=1", **form)


NOT_PUT_THROUGH = [
    {"DialCallStatus": "no-answer", "DialBridged": "false"},
    {"DialCallStatus": "busy"},
    {"DialCallStatus": "failed"},
    {"DialCallStatus": "canceled"},
    {"DialCallStatus": "completed", "DialBridged": "false"},  # answered, declined or silent
    {},
]


@pytest.mark.parametrize("fields", NOT_PUT_THROUGH)
def test_a_caller_not_put_through_is_rejected_unanswered_and_unbilled(
    twilio: TwilioClient, fields: dict[str, str]
) -> None:
    # No greeting (the default): nothing has answered the call, and any
    # spoken word now would answer it and bill the caller.
    root = dial_result(twilio, **fields)
    assert root.verbs == ["Reject"] and root.said == ""
    # The same bytes as a blocked caller or a dead line gets.
    assert root.body.endswith(REJECT)


@pytest.mark.usefixtures("member")
def test_not_put_through_is_the_rejection_a_dead_line_gets_byte_for_byte(twilio: TwilioClient) -> None:
    dead = twilio.post("/voice/incoming", CallSid="CAdead01", To="+442079460999", From=CALLER)
    assert dial_result(twilio, DialCallStatus="busy").body == dead.body


@pytest.mark.parametrize("fields", NOT_PUT_THROUGH)
def test_after_the_greeting_the_caller_hears_the_neutral_message(
    twilio: TwilioClient, fields: dict[str, str]
) -> None:
    # The member's greeting already answered the call: the caller is paying
    # anyway, so a calm word is better than silence.
    root = dial_result_after_greeting(twilio, **fields)
    assert root.verbs == ["Say", "Hangup"]
    assert root[0].text == NOT_AVAILABLE


@pytest.mark.parametrize("post", [dial_result, dial_result_after_greeting])
def test_a_bridged_call_just_ends(twilio: TwilioClient, post: Callable[..., TwiML]) -> None:
    root = post(twilio, DialCallStatus="completed", DialBridged="true", DialCallDuration="42")
    assert root.verbs == ["Hangup"]


def test_a_call_twilio_reports_as_answered_is_a_bridged_one(twilio: TwilioClient) -> None:
    # "answered" is Twilio's other DialCallStatus for a connected call.
    root = dial_result(twilio, DialCallStatus="answered", DialBridged="true", DialCallDuration="42")
    assert root.verbs == ["Hangup"]


@pytest.mark.usefixtures("member")
def test_without_dial_bridged_the_members_key_decides(twilio: TwilioClient) -> None:
    call_in(twilio)
    assert dial_result(twilio, DialCallStatus="completed").verbs == ["Reject"]
    member_leg(twilio, "/voice/screen", Digits="1")
    bridged = dial_result(twilio, DialCallStatus="completed", CallStatus="in-progress")
    assert bridged.verbs == ["Hangup"]
