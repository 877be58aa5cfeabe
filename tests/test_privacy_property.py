"""Property: whatever the member's preferences, the caller, the keys pressed
and how the Dial ended, the member's real number appears in TwiML only as
the text of the <Number> that rings them — never as callerId, spoken, or in
any URL or other attribute."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection

from callflows.phone import WITHHELD_FORMS, caller_from
from storage import repositories as repo
from storage.db import Database
from storage.models import CATEGORIES
from storage.vault import NumberVault
from tests.support.people import Enrol
from tests.support.twilio import TwilioClient

LINE = "+442079461000"  # outside the members' 020 7946 0xxx range
PARENT = "CAparent"
LEG = "CAleg"

drama_london = st.integers(0, 999).map(lambda n: f"+442079460{n:03d}")
mobile = st.integers(0, 999_999).map(lambda n: f"+447911{n:06d}")
withheld = st.sampled_from(sorted(WITHHELD_FORMS)) | st.none()


def national(e164: str) -> str:
    """+442079460123 -> 020 7946 0123 (how some carriers present a UK number)."""
    digits = "0" + e164.removeprefix("+44")
    return f"{digits[:3]} {digits[3:7]} {digits[7:]}"


@st.composite
def scenarios(draw: st.DrawFn) -> dict:
    member_phone = draw(drama_london)
    kind = draw(st.sampled_from(["mobile", "london", "london-national", "withheld", "own"]))
    other_london = drama_london.filter(lambda phone: phone != member_phone)
    caller = {
        "mobile": lambda: draw(mobile),
        "london": lambda: draw(other_london),
        "london-national": lambda: national(draw(other_london)),
        "withheld": lambda: draw(withheld),
        "own": lambda: draw(st.sampled_from([member_phone, national(member_phone)])),
    }[kind]()
    return {
        "member_phone": member_phone,
        "caller": caller,
        "prefs": {
            "greeting": draw(st.sampled_from(["none", "logged"])),
            "accept_withheld": draw(st.booleans()),
            "caller_id_shown": draw(st.sampled_from(["caller", "safety_number"])),
        },
        "blocked": draw(st.sampled_from([False, False, True])),
        "warnings": draw(st.lists(st.sampled_from(CATEGORIES), max_size=3)),
        "digits": draw(st.sampled_from(["1", "2", "9", "", "*", "#"])),
        "dial_status": draw(st.sampled_from(["completed", "no-answer", "busy", "failed", "canceled"])),
        "dial_bridged": draw(st.sampled_from(["true", "false", None])),
    }


@contextmanager
def rolled_back(db: Database) -> Iterator[None]:
    """Each example inside its own savepoint, undone afterwards, so examples
    share nothing while the test keeps one transaction."""
    connection: Connection = db.sessions.kw["bind"]
    savepoint = connection.begin_nested()
    try:
        yield
    finally:
        savepoint.rollback()


def national_significant(e164: str) -> str:
    return e164.removeprefix("+44")


def assert_member_number_only_in_number(root: ET.Element, member_phone: str) -> None:
    secret = national_significant(member_phone)  # 2079460xxx, whatever the formatting
    for element in root.iter():
        for name, value in element.attrib.items():
            assert secret not in re.sub(r"\D", "", value), (element.tag, name)
        text = element.text or ""
        if element.tag == "Number":
            assert text == member_phone
            continue
        assert secret not in re.sub(r"\D", "", text), element.tag
    for number in root.iter("Number"):
        # Only ever a child of the <Dial> that rings the member.
        assert any(number in list(dial) for dial in root.iter("Dial"))


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_member_number_appears_only_inside_number(
    twilio: TwilioClient, db: Database, vault: NumberVault, enrol: Enrol, scenario: dict[str, Any]
) -> None:
    member_phone = scenario["member_phone"]
    with rolled_back(db):
        member_id = enrol(phone=member_phone, line=LINE, **scenario["prefs"]).id
        caller = scenario["caller"]
        # Unparseable caller IDs count as withheld, as the webhook treats them.
        caller_e164 = caller_from(caller).e164
        if caller_e164 is not None:
            index = vault.index(caller_e164)
            with db.session() as s:
                if scenario["blocked"]:
                    repo.block_caller(s, member_id, index, None)
                for category in scenario["warnings"]:
                    repo.add_warning(s, caller_index=index, category=category, summary="on file")

        parent_form = {"CallSid": PARENT, "To": LINE}
        if caller is not None:
            parent_form["From"] = caller
        incoming = twilio.post("/voice/incoming", **parent_form).root
        dial = incoming.find("Dial")
        event("incoming: " + " ".join(child.tag for child in incoming))
        shown = dial.get("callerId", LINE) if dial is not None else LINE
        leg_form = {"CallSid": LEG, "ParentCallSid": PARENT, "From": shown, "To": member_phone}
        query = f"call={PARENT}"
        documents = [
            incoming,
            twilio.post("/voice/whisper", query=query, **leg_form).root,
            twilio.post("/voice/screen", query=query, **leg_form, Digits=scenario["digits"]).root,
        ]
        dial_form = {**parent_form, "DialCallStatus": scenario["dial_status"]}
        if scenario["dial_bridged"] is not None:
            dial_form["DialBridged"] = scenario["dial_bridged"]
        documents.append(twilio.post("/voice/dial_result", query=query, **dial_form).root)

        for root in documents:
            assert_member_number_only_in_number(root, member_phone)
        # The ringing case really does ring the member (the property is not vacuous).
        if dial is not None:
            assert [n.text for n in dial.iter("Number")] == [member_phone]
