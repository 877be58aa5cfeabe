"""The prompt catalogue and its gettext catalogues: every spoken sentence has
a message id, every language's catalogue is in step with the code and
compiled, and a message a catalogue lacks is said in English by an English
voice and counted."""

from __future__ import annotations

import io
import re
import string
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from twilio.twiml.voice_response import VoiceResponse

from callflows import prompts
from callflows.languages import ENGLISH, LANGUAGES, Language, Review, language, language_of_key
from callflows.prompts import CATALOGUE, Digits
from callflows.speech import LOCALES, Verbatim, english_speaker, speaker, untranslated

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"message": ((1, "c"), 2), "plural_message": ((1, "c"), 2, 3)}
TRANSLATED = [language for language in LANGUAGES if language is not ENGLISH]
# A language with no catalogue at all: everything falls back to English.
NOWHERE = Language("xx", "xx", "Nowhere", "Nowhere", "0", "Polly.Amy", "en-GB", Review.NOT_CHECKED)


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _texts(value: str | Sequence[str]) -> tuple[str, ...]:
    """A catalogue entry's id or string as a tuple (plural entries hold several)."""
    return (value,) if isinstance(value, str) else tuple(value)


def _extracted() -> set[tuple[str, str]]:
    """(message id, English) of every message Babel finds in the code, as the
    README's ``pybabel extract`` does."""
    found = set()
    for _, msgid, _, context in extract_from_file(
        "python", str(ROOT / "callflows" / "prompts.py"), keywords=KEYWORDS
    ):
        found.add((str(context), _texts(msgid)[0]))
    return found


def _po(language: Language) -> Catalog:
    with open(LOCALES / language.locale / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po)


def test_every_message_has_one_id_and_babel_finds_each_one() -> None:
    assert _extracted() == {(entry.id, entry.text) for entry in CATALOGUE.values()}
    assert all(re.fullmatch(r"[a-z]+\.[a-z_-]+", entry.id) for entry in CATALOGUE.values())
    with pytest.raises(ValueError, match="defined twice"):
        prompts.message("menu.no_choice", "Again.")


def test_the_template_is_up_to_date_with_the_code() -> None:
    """``pybabel extract`` was run after the last change to a prompt."""
    with open(LOCALES / "messages.pot", "rb") as pot:
        template = read_po(pot)
    assert {
        (m.context, m.id[0] if isinstance(m.id, tuple) else m.id) for m in template if m.id
    } == _extracted()


@pytest.mark.parametrize("language", TRANSLATED, ids=lambda language: language.code)
def test_each_catalogue_holds_every_message_and_is_compiled(language: Language) -> None:
    """``pybabel update`` and ``pybabel compile`` were run: the .po has every
    message of the code and nothing stale, and the committed .mo is that .po."""
    catalog = _po(language)
    ids = {(m.context, m.id[0] if isinstance(m.id, tuple) else m.id) for m in catalog if m.id}
    assert ids == _extracted()
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    with open(LOCALES / language.locale / "LC_MESSAGES" / "messages.mo", "rb") as mo:
        shipped = read_mo(mo)
    assert {(m.context, str(m.id), str(m.string)) for m in read_mo(compiled) if m.id} == {
        (m.context, str(m.id), str(m.string)) for m in shipped if m.id
    }


@pytest.mark.parametrize("language", TRANSLATED, ids=lambda language: language.code)
def test_translations_keep_their_placeholders(language: Language) -> None:
    """A translation that drops or invents a placeholder would say nonsense or fail."""
    for entry in _po(language):
        if not entry.id or not entry.string:
            continue
        expected = set().union(*(_placeholders(s) for s in _texts(entry.id)))
        for translated in filter(None, _texts(entry.string)):
            # A one-form plural ("1 warning" in Chinese) may leave out {count}.
            assert _placeholders(translated) <= expected | {"count"}, (entry.context, translated)
            assert _placeholders(translated) >= expected - {"count"}, (entry.context, translated)


@pytest.mark.parametrize("language", TRANSLATED, ids=lambda language: language.code)
def test_every_message_members_hear_is_translated_in_every_catalogue(language: Language) -> None:
    """No prompt ships in English only: every message but the caseworker's
    side of calls from the scheme (``staff.*``, English by design) has a
    translation in each of the language's plural forms, with the English
    placeholders, and the compiled catalogue the app loads says it."""
    heard = {entry.id for entry in CATALOGUE.values() if prompts.heard_by_members(entry)}
    assert heard and not any(id.startswith("staff.") for id in heard)
    catalog = _po(language)
    translated = set()
    for entry in catalog:
        if entry.context not in heard:
            continue
        forms = _texts(entry.string or "")
        assert len(forms) == (catalog.num_plurals if entry.pluralizable else 1), entry.context
        expected = set().union(*(_placeholders(s) for s in _texts(entry.id)))
        for form in forms:
            assert form.strip(), (entry.context, "untranslated")
            assert expected - {"count"} <= _placeholders(form) <= expected | {"count"}, (entry.context, form)
        translated.add(entry.context)
    assert translated == heard
    assert heard.isdisjoint(untranslated(language))


def test_a_message_without_a_translation_is_said_in_english_by_an_english_voice() -> None:
    assert set(untranslated(NOWHERE)) == set(CATALOGUE)
    response = VoiceResponse()
    speaker(NOWHERE).say(response, prompts.ENTER_PIN)
    say = first_say(response)
    assert (say.text, say.get("voice"), say.get("language")) == (prompts.ENTER_PIN.text, "Polly.Amy", "en-GB")
    assert untranslated(ENGLISH) == []


def test_digits_are_read_one_by_one_in_each_language() -> None:
    assert english_speaker().digits("07a9") == "0 7 9"
    assert speaker(language("zh")).digits("123") == "1、2、3"
    text = english_speaker().text(prompts.WHISPER_FROM_NUMBER(digits=Digits("456")))
    assert text == "Safety Number call, from a number ending 4 5 6."


def test_counts_and_times_follow_each_language() -> None:
    assert english_speaker().text(prompts.CURRENT_WARNINGS(1)) == "There is 1 current warning."
    assert english_speaker().text(prompts.CURRENT_WARNINGS(1200)) == "There are 1,200 current warnings."
    evening = datetime(2026, 12, 3, 21, 30)
    assert english_speaker().time(evening) == "21:30"
    assert speaker(language("pt-BR")).number(1200) == "1.200"


def test_verbatim_text_keeps_its_own_voice() -> None:
    """A summary staff wrote in English is read by an English voice even to a Thai member."""
    response = VoiceResponse()
    speaker(language("th")).say(response, Verbatim("Grey car.", ENGLISH))
    say = first_say(response)
    assert (say.get("voice"), say.get("language")) == ("Polly.Amy", "en-GB")


def test_the_language_table() -> None:
    assert [language.code for language in LANGUAGES] == [
        "en",
        "ro",
        "bg",
        "hu",
        "pl",
        "pt-BR",
        "es",
        "zh",
        "th",
    ]
    assert len({language.key for language in LANGUAGES}) == len(LANGUAGES)
    assert language_of_key("2") is language("ro") and language_of_key("0") is None
    assert all(language.review is Review.NOT_CHECKED for language in TRANSLATED)


def first_say(response: VoiceResponse) -> ET.Element:
    root = ET.fromstring(str(response))  # noqa: S314  (our own output)
    say = root.find(".//Say")
    assert say is not None
    return say


SPEAKING_PACKAGES = ("callflows", "ivr", "worker", "core", "storage")


def _sources() -> dict[str, str]:
    return {
        path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
        for package in SPEAKING_PACKAGES
        for path in (ROOT / package).rglob("*.py")
    }


def test_nothing_speaks_around_the_catalogue() -> None:
    """Words reach a <Say> only as catalogue messages: ``Verbatim`` text is for
    staff-written summaries and the language offers (each a whole translated
    sentence), and no module says a string literal."""
    sources = _sources()
    verbatim = {path for path, text in sources.items() if "Verbatim(" in text}
    assert verbatim == {"callflows/speech.py", "callflows/menu.py"}
    # twilio's own say() with words of its own, anywhere but in the speaker:
    raw = {path for path, text in sources.items() if re.search(r"\.say\(\s*f?[\"']", text)}
    assert raw == set()


def test_no_catalogue_sentence_is_written_out_anywhere_else() -> None:
    """A prompt copied into code would be spoken in English to everyone."""
    sources = {path: text for path, text in _sources().items() if path != "callflows/prompts.py"}
    for entry in CATALOGUE.values():
        if len(entry.text) < 25:  # short category names may be ordinary words
            continue
        assert not [path for path, text in sources.items() if entry.text in text], entry.id
