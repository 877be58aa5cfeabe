"""The member's leg (whisper and screening key) and the caller's leg after the
Dial (dial result)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from storage import repositories as repo
from storage.db import Database
from storage.models import Block, Call, utcnow
from tests.conftest import PUBLIC_BASE_URL
from tests.voice_helpers import parse_twiml, post_twilio, seed_member, verbs

MEMBER_PHONE = "+442079460123"
LINE = "+442079460001"
CALLER = "+447911123789"
PARENT = "CAparent0001"
LEG = "CAleg00000001"


@pytest.fixture
def vault(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["safety"].vault


@pytest.fixture
def member_id(db: Database, vault) -> int:
    member_id, _ = seed_member(db, vault, phone=MEMBER_PHONE, line=LINE)
    return member_id


def call_in(client: FlaskClient, caller: str | None = CALLER, sid: str = PARENT) -> None:
    form = {"CallSid": sid, "To": LINE, "From": caller or "anonymous"}
    assert verbs(parse_twiml(post_twilio(client, "/voice/incoming", form))) == ["Say", "Dial"]


def member_leg(client: FlaskClient, path: str, parent: str = PARENT, **fields: str):  # type: ignore[no-untyped-def]
    form = {"CallSid": LEG, "ParentCallSid": parent, "To": MEMBER_PHONE, "From": LINE, **fields}
    return post_twilio(client, path, form, query=f"call={parent}")


def inbound_row(db: Database, sid: str = PARENT) -> Call:
    with db.session() as s:
        return s.scalars(select(Call).where(Call.call_sid == sid)).one()


def spoken(root) -> str:  # type: ignore[no-untyped-def]
    return " ".join(say.text or "" for say in root.iter("Say"))


# --- whisper -----------------------------------------------------------------------


@pytest.mark.usefixtures("member_id")
def test_whisper_names_the_last_three_digits_then_hangs_up(app: Flask, client: FlaskClient) -> None:
    call_in(client)
    root = parse_twiml(member_leg(client, "/voice/whisper", CallStatus="in-progress"))
    assert verbs(root) == ["Gather", "Hangup"]
    gather = root[0]
    assert gather.get("numDigits") == "1"
    assert gather.get("timeout") == str(app.extensions["safety"].settings.gather_timeout_seconds)
    assert gather.get("action") == f"{PUBLIC_BASE_URL}/voice/screen?call={PARENT}"
    says = [say.text for say in gather]
    assert says == [
        "Safety Number call, from a number ending 7 8 9.",
        "Press 1 to accept, 2 to decline and block.",
    ]
    # A whisper may not dial or redirect; the caller's number is never spoken.
    assert root.find(".//Dial") is None and root.find(".//Redirect") is None
    assert "123789" not in spoken(root) and "789" not in spoken(root)


@pytest.mark.usefixtures("member_id")
def test_whisper_for_a_withheld_caller(client: FlaskClient) -> None:
    call_in(client, None)
    root = parse_twiml(member_leg(client, "/voice/whisper"))
    assert verbs(root) == ["Gather", "Hangup"]
    assert root[0][0].text == "Safety Number call, from a withheld number."


@pytest.mark.usefixtures("member_id")
def test_whisper_warns_with_count_and_categories(client: FlaskClient, db: Database, vault) -> None:
    index = vault.index(CALLER)
    with db.session() as s:
        repo.add_warning(s, caller_index=index, category="physical-assault", summary="hit a member")
        repo.add_warning(s, caller_index=index, category="robbery", summary="took money")
        repo.add_warning(
            s, caller_index=index, category="stalking", summary="old", expires_at=utcnow() - timedelta(days=1)
        )
        repo.add_warning(s, caller_index=vault.index("+447911000000"), category="threats", summary="not him")
    call_in(client)
    says = [say.text for say in parse_twiml(member_leg(client, "/voice/whisper"))[0]]
    assert says[1] in (
        "Warning: 2 warnings on file for this caller: robbery, physical assault.",
        "Warning: 2 warnings on file for this caller: physical assault, robbery.",
    )
    assert says[-1] == "Press 1 to accept, 2 to decline and block."
    assert inbound_row(db).warned


@pytest.mark.usefixtures("member_id")
def test_one_warning_is_singular(client: FlaskClient, db: Database, vault) -> None:
    with db.session() as s:
        repo.add_warning(s, caller_index=vault.index(CALLER), category="threats", summary="threatened")
    call_in(client)
    says = [say.text for say in parse_twiml(member_leg(client, "/voice/whisper"))[0]]
    assert says[1] == "Warning: 1 warning on file for this caller: threats."


@pytest.mark.usefixtures("member_id")
def test_whisper_for_an_unknown_call_never_bridges(client: FlaskClient) -> None:
    root = parse_twiml(member_leg(client, "/voice/whisper", parent="CAnosuchcall"))
    assert verbs(root) == ["Hangup"]


# --- the member's key --------------------------------------------------------------


@pytest.mark.usefixtures("member_id")
def test_1_accepts_and_bridges(client: FlaskClient, db: Database) -> None:
    call_in(client)
    root = parse_twiml(member_leg(client, "/voice/screen", Digits="1"))
    assert verbs(root) == []  # an empty response ends the whisper: Twilio bridges
    row = inbound_row(db)
    assert row.bridged and not row.declined and not row.blocked


def test_2_blocks_the_caller_and_the_next_call_is_rejected(
    client: FlaskClient, db: Database, vault, member_id: int
) -> None:
    call_in(client)
    root = parse_twiml(member_leg(client, "/voice/screen", Digits="2"))
    assert verbs(root) == ["Say", "Hangup"]
    assert root[0].text == "Caller blocked. Goodbye."
    row = inbound_row(db)
    assert row.declined and row.blocked and not row.bridged
    with db.session() as s:
        (block,) = s.scalars(select(Block)).all()
    assert (block.member_id, block.caller_index) == (member_id, vault.index(CALLER))
    assert block.caller_last3 == "789"

    again = post_twilio(client, "/voice/incoming", {"CallSid": "CAagain", "To": LINE, "From": CALLER})
    assert verbs(parse_twiml(again)) == ["Reject"]
    # Pressing 2 twice (Twilio retry) is harmless.
    assert verbs(parse_twiml(member_leg(client, "/voice/screen", Digits="2"))) == ["Say", "Hangup"]


@pytest.mark.usefixtures("member_id")
def test_2_on_a_withheld_caller_has_nothing_to_block(client: FlaskClient, db: Database) -> None:
    call_in(client, None)
    root = parse_twiml(member_leg(client, "/voice/screen", Digits="2"))
    assert verbs(root) == ["Say", "Hangup"]
    assert root[0].text == "This caller withheld their number, so it cannot be blocked. Goodbye."
    with db.session() as s:
        assert s.scalars(select(Block)).all() == []
    row = inbound_row(db)
    assert row.declined and not row.blocked


@pytest.mark.usefixtures("member_id")
@pytest.mark.parametrize("digits", ["9", "*", "", "12"])
def test_any_other_key_declines(client: FlaskClient, db: Database, digits: str) -> None:
    call_in(client)
    assert verbs(parse_twiml(member_leg(client, "/voice/screen", Digits=digits))) == ["Hangup"]
    row = inbound_row(db)
    assert row.declined and not row.bridged and not row.blocked


@pytest.mark.usefixtures("member_id")
def test_a_key_for_an_unknown_call_never_bridges(client: FlaskClient) -> None:
    response = member_leg(client, "/voice/screen", parent="CAnosuch", Digits="1")
    assert verbs(parse_twiml(response)) == ["Hangup"]


# --- dial result (the caller's leg) -------------------------------------------------

NOT_AVAILABLE = "The person you are calling is not available. Please try again later. Goodbye."


def dial_result(client: FlaskClient, **fields: str):  # type: ignore[no-untyped-def]
    form = {"CallSid": PARENT, "From": CALLER, "To": LINE, **fields}
    return parse_twiml(post_twilio(client, "/voice/dial_result", form, query=f"call={PARENT}"))


@pytest.mark.parametrize(
    "fields",
    [
        {"DialCallStatus": "no-answer", "DialBridged": "false"},
        {"DialCallStatus": "busy"},
        {"DialCallStatus": "failed"},
        {"DialCallStatus": "canceled"},
        {"DialCallStatus": "completed", "DialBridged": "false"},  # answered, declined or silent
        {},
    ],
)
def test_anything_but_a_bridged_call_gets_the_neutral_message(client: FlaskClient, fields: dict) -> None:
    root = dial_result(client, **fields)
    assert verbs(root) == ["Say", "Hangup"]
    assert root[0].text == NOT_AVAILABLE


def test_a_bridged_call_just_ends(client: FlaskClient) -> None:
    root = dial_result(client, DialCallStatus="completed", DialBridged="true", DialCallDuration="42")
    assert verbs(root) == ["Hangup"]


@pytest.mark.usefixtures("member_id")
def test_without_dial_bridged_the_members_key_decides(client: FlaskClient) -> None:
    call_in(client)
    assert verbs(dial_result(client, DialCallStatus="completed")) == ["Say", "Hangup"]
    member_leg(client, "/voice/screen", Digits="1")
    assert verbs(dial_result(client, DialCallStatus="completed")) == ["Hangup"]
