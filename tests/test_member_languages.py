"""Members hear their own language: enrolment, the console, the menu, the
whisper; callers hear the language chosen for them; and nothing a caller
can hear before the PIN depends on any member's language."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from callflows import prompts
from callflows.languages import ENGLISH, LANGUAGES, Language, language
from callflows.prompts import Digits
from callflows.speech import speaker
from storage import repositories as repo
from storage.db import Database
from storage.models import Member
from storage.vault import NumberVault
from tests.support.menu import MemberMenu, member_row, new_sid
from tests.support.people import LINE, MEMBER_PHONE, Enrol, national
from tests.support.twilio import TwilioClient, TwiML, said

CALLER = "+447911123789"
ROMANIAN, THAI = language("ro"), language("th")


def says(root: TwiML) -> list[tuple[str, str | None, str | None]]:
    """Every <Say>: its words, voice and language."""
    return [(say.text or "", say.get("voice"), say.get("language")) for say in root.root.iter("Say")]


def in_voice(root: TwiML, lang: Language) -> bool:
    return all((voice, tongue) == (lang.voice, lang.twilio_language) for _, voice, tongue in says(root))


def ring(twilio: TwilioClient, sid: str = "CAparent0001") -> TwiML:
    return twilio.post("/voice/incoming", CallSid=sid, To=LINE, From=CALLER)


def whisper(twilio: TwilioClient, sid: str = "CAparent0001") -> TwiML:
    form = {"CallSid": "CAleg00000001", "ParentCallSid": sid, "To": MEMBER_PHONE, "From": LINE}
    return twilio.post("/voice/whisper", query=f"call={sid}", CallStatus="in-progress", **form)


# --- choosing ------------------------------------------------------------------------


def test_enrol_with_a_language_and_refuse_an_unknown_one(runner: FlaskCliRunner, db: Database) -> None:
    assert runner.invoke(args=["numbers", "add", "+442079460001"]).exit_code == 0
    args = ["members", "enrol", "--name", "Ruby", "--phone", "020 7946 0123", "--pin", "4821"]
    refused = runner.invoke(args=[*args, "--language", "fr"])
    assert refused.exit_code != 0 and "--language" in refused.output
    with db.session() as s:
        assert s.scalars(select(Member)).all() == []
    assert runner.invoke(args=[*args, "--language", "ro"]).exit_code == 0
    with db.session() as s:
        assert [(m.language, m.caller_language) for m in s.scalars(select(Member))] == [("ro", "en")]


def test_the_menu_offers_every_language_in_its_own_voice_and_keeps_the_choice(menu: MemberMenu) -> None:
    member_id = menu.seed()
    sid = menu.logged_in_call()
    offers = menu.press(sid, "8")
    spoken = says(offers)
    assert [(voice, tongue) for _, voice, tongue in spoken] == [
        (lang.voice, lang.twilio_language) for lang in LANGUAGES
    ]
    assert spoken[1][0] == "Pentru limba română, apăsați 2."
    chosen = menu.post("language", sid, Digits="2")
    assert member_row(menu.db, member_id).language == "ro"
    assert says(chosen)[0][0] == "De acum înainte veți auzi acest serviciu în limba română."
    assert in_voice(chosen, ROMANIAN) and "Apăsați 1" in said(chosen)
    unchanged = menu.post("language", sid, Digits="0")
    assert member_row(menu.db, member_id).language == "ro" and in_voice(unchanged, ROMANIAN)


# --- what the member hears -----------------------------------------------------------


def test_the_whisper_is_in_the_members_language_and_the_caller_hears_the_same_as_for_anyone(
    twilio: TwilioClient, db: Database, enrol: Enrol
) -> None:
    member = enrol(language="ro")
    caller_side = ring(twilio, "CAparent0002")
    assert caller_side.verbs == ["Dial"]
    with db.session() as s:
        row = s.get(Member, member.id)
        assert row is not None
        row.language = "en"
        s.commit()
    # The caller's side is byte for byte what an English member's caller gets.
    english = ring(twilio, "CAparent0003").body
    assert english == caller_side.body.replace(b"CAparent0002", b"CAparent0003")
    with db.session() as s:
        row = s.get(Member, member.id)
        assert row is not None
        row.language = "ro"
        s.commit()
    ring(twilio)
    root = whisper(twilio)
    assert says(root)[0][0] == "Apel pe Numărul de siguranță, de la un număr care se termină în 7 8 9."
    assert in_voice(root, ROMANIAN)
    screened = twilio.post(
        "/voice/screen",
        query="call=CAparent0001",
        CallSid="CAleg00000001",
        ParentCallSid="CAparent0001",
        Digits="2",
    )
    assert says(screened) == [
        ("Apelantul a fost blocat. La revedere.", ROMANIAN.voice, ROMANIAN.twilio_language)
    ]


def test_callers_hear_the_greeting_and_not_available_in_the_language_chosen_for_them(
    twilio: TwilioClient, enrol: Enrol
) -> None:
    enrol(language="th", greeting="logged", caller_language="ro")
    root = ring(twilio)
    assert root.verbs == ["Say", "Dial"]
    assert says(root)[0] == (speaker(ROMANIAN).text(prompts.LOGGED_GREETING), ROMANIAN.voice, "ro-RO")
    action = root.one("Dial").get("action") or ""
    query = action.split("?", 1)[1]
    after = twilio.post("/voice/dial_result", query=query, CallSid="CAparent0001", DialCallStatus="no-answer")
    assert says(after) == [(speaker(ROMANIAN).text(prompts.MEMBER_UNAVAILABLE), ROMANIAN.voice, "ro-RO")]


def test_warnings_are_read_in_the_members_language_with_the_summary_in_an_english_voice(
    menu: MemberMenu, vault: NumberVault
) -> None:
    menu.seed(language="ro")
    with menu.db.session() as s:
        repo.add_warning(
            s, caller_index=vault.index("+447911000111"), category="robbery", summary="Grey car, north side."
        )
        s.commit()
    root = menu.press(menu.logged_in_call(), "4")
    spoken = says(root)
    assert spoken[:4] == [
        ("Există 1 avertisment curent.", ROMANIAN.voice, "ro-RO"),
        ("Avertismentul 1: jaf.", ROMANIAN.voice, "ro-RO"),
        ("Descrierea urmează în limba engleză.", ROMANIAN.voice, "ro-RO"),
        ("Grey car, north side.", ENGLISH.voice, "en-GB"),
    ]


def test_a_summary_staff_translated_is_read_in_the_members_language(
    menu: MemberMenu, vault: NumberVault
) -> None:
    menu.seed(language="ro")
    with menu.db.session() as s:
        warning = repo.add_warning(
            s, caller_index=vault.index("+447911000111"), category="robbery", summary="Grey car."
        )
        repo.set_summary_translation(s, warning, "ro", "Mașină gri.")
        s.commit()
    spoken = says(menu.press(menu.logged_in_call(), "4"))
    assert spoken[1:3] == [
        ("Avertismentul 1: jaf.", ROMANIAN.voice, "ro-RO"),
        ("Mașină gri.", ROMANIAN.voice, "ro-RO"),
    ]
    assert "Descrierea urmează în limba engleză." not in [text for text, _, _ in spoken]


# --- the access line: the same for everyone before the PIN -----------------------------


def test_a_language_key_re_asks_in_that_language_and_the_menu_then_speaks_the_members_own(
    menu: MemberMenu,
) -> None:
    menu.seed(language="th")
    sid = new_sid()
    first = menu.call_access_line(sid)
    assert says(first)[0][1:] == (ENGLISH.voice, "en-GB")
    offered = says(first)[1:-1]  # then "nothing was keyed", after the Gather
    assert {(voice, tongue) for _, voice, tongue in offered} == {
        (lang.voice, lang.twilio_language) for lang in LANGUAGES if lang is not ENGLISH
    }
    again = menu.key("number", sid, "2")
    assert says(again)[0][0] == speaker(ROMANIAN).text(prompts.ENTER_SAFETY_NUMBER)
    assert again.one("Gather").get("action") == menu.url("/voice/access/number", "asked=2&lang=ro")
    pin_prompt = menu.twilio.post(
        "/voice/access/number", query="asked=2&lang=ro", CallSid=sid, From=MEMBER_PHONE, Digits=national(LINE)
    )
    assert in_voice(pin_prompt, ROMANIAN) and pin_prompt.one("Gather").get("action") == menu.url(
        "/voice/access/pin", "lang=ro"
    )
    opened = menu.twilio.post(
        "/voice/access/pin", query="lang=ro", CallSid=sid, From=MEMBER_PHONE, Digits="4821"
    )
    assert in_voice(opened, THAI) and "กด 1" in said(opened)


@pytest.mark.parametrize("keyed_language", ["", "2", "9"])
def test_the_access_line_answers_the_same_whatever_the_members_language(
    menu: MemberMenu, enrol: Enrol, keyed_language: str
) -> None:
    """A Thai member's number, an English member's number and no Safety Number
    at all get the same bytes at every step before the PIN is proven."""
    enrol(language="th")
    enrol(phone="+442079460124", line="+442079460002")
    answers = []
    for line in ("+442079460001", "+442079460002", "+442079460999"):
        sid = "CAsame0000000000000000000000000001"
        steps = [menu.call_access_line(sid, phone=CALLER)]
        query = ""
        if keyed_language:
            steps.append(
                menu.twilio.post("/voice/access/number", CallSid=sid, From=CALLER, Digits=keyed_language)
            )
            query = f"asked=2&lang={language_of(keyed_language)}"
        steps.append(
            menu.twilio.post(
                "/voice/access/number", query=query, CallSid=sid, From=CALLER, Digits=national(line)
            )
        )
        pin_query = f"lang={language_of(keyed_language)}" if keyed_language else ""
        steps.append(
            menu.twilio.post("/voice/access/pin", query=pin_query, CallSid=sid, From=CALLER, Digits="4821")
        )
        answers.append([step.body for step in steps])
    assert answers[0] == answers[1] == answers[2]


def language_of(key: str) -> str:
    return next(lang.code for lang in LANGUAGES if lang.key == key)


# Every placeholder a prompt may have, with the most a prompt is ever given.
SAMPLE_VALUES = {
    "digits": Digits("789"),
    "categories": (prompts.CATEGORY_NAMES["robbery"],),
    "key": "2",
    "number": 1,
    "category": prompts.CATEGORY_NAMES["threats"],
    "prefix": Digits("070"),
    "other_prefix": Digits("087"),
    "name": "Ruby",
    "report": "12",
    # The check-in's minutes and due time (a time of day, in each language's format).
    "minutes": 90,
    "time": datetime(2026, 12, 3, 21, 30),
}


@pytest.mark.parametrize("lang", LANGUAGES, ids=lambda lang: lang.code)
def test_no_prompt_in_any_language_speaks_four_digits_in_a_row(lang: Language) -> None:
    """The privacy property in every language: given the last three digits,
    no prompt reads out anything that could be more of a number."""
    for entry in prompts.CATALOGUE.values():
        names = {name for name in SAMPLE_VALUES if "{" + name + "}" in entry.text}
        text = speaker(lang).text(entry(2 if entry.plural else None, **{n: SAMPLE_VALUES[n] for n in names}))
        assert re.search(r"\d(?:[\s、,]?\d){3,}", text) is None, (lang.code, text)
