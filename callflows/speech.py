"""Saying catalogue messages in one language, with that language's voice.

A :class:`Speaker` is bound to one :class:`~callflows.languages.Language`:
it looks each message up in that language's compiled gettext catalogue
(``callflows/locales/<locale>/LC_MESSAGES/messages.mo``), fills its
placeholders the way that language writes them (Babel's number and list
rules, digits one by one, category names from the catalogue) and appends
``<Say>`` with the language's ``voice`` and ``language``. A message a
catalogue does not translate yet is said in English by an English voice,
never in a voice that cannot pronounce it; :func:`untranslated` counts them.

Catalogues are read once per process: they are package data, like
phonenumbers' metadata.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from babel.dates import format_time
from babel.lists import format_list
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from twilio.twiml.voice_response import Gather, VoiceResponse

from callflows.languages import ENGLISH, LANGUAGES, Language, language_or_english
from callflows.prompts import CATALOGUE, CATEGORY_NAMES, Digits, Message, Phrase

LOCALES = Path(__file__).parent / "locales"
DOMAIN = "messages"

# How a language separates digits read one by one. A space makes most voices
# read "1 2 3" digit by digit; Mandarin voices join space-separated digits
# into one number, so they get the enumeration comma.
_DIGIT_SEPARATORS = {"zh": "、"}


@dataclass(frozen=True, slots=True)
class Verbatim:
    """Text not from the catalogue (a warning summary staff wrote), to be read
    in ``language``'s voice whatever the listener's language."""

    text: str
    language: Language


Utterance = Phrase | Message | Verbatim


@functools.cache
def _translations(language: Language) -> NullTranslations:
    if language is ENGLISH:
        return NullTranslations()
    return Translations.load(str(LOCALES), [language.locale], DOMAIN)


def catalogue_loaded(language: Language) -> bool:
    """Whether ``language``'s compiled catalogue was found (English needs none)."""
    return language is ENGLISH or isinstance(_translations(language), Translations)


def _lookup(language: Language, entry: Message, count: int | None) -> str | None:
    """The translation, or None where the catalogue has none (or is missing)."""
    translations = _translations(language)
    if language is ENGLISH:
        return entry.text if entry.plural is None or count == 1 else entry.plural
    if not isinstance(translations, Translations):
        return None
    catalog: dict[Any, str] = translations._catalog  # gettext's own table
    if entry.plural is None:
        found = catalog.get(f"{entry.id}\x04{entry.text}")
    else:
        index = translations.plural(count if count is not None else 1)
        found = catalog.get((f"{entry.id}\x04{entry.text}", index))
    return found or None


def untranslated(language: Language) -> list[str]:
    """Message ids ``language`` says in English for want of a translation."""
    return [entry.id for entry in CATALOGUE.values() if _lookup(language, entry, 1) is None]


class Speaker:
    """Speaks catalogue messages in one language."""

    def __init__(self, language: Language) -> None:
        self.language = language

    def text(self, utterance: Phrase | Message) -> str:
        """The words of ``utterance`` in this language (English where untranslated)."""
        return self._resolve(utterance)[0]

    def say(self, target: VoiceResponse | Gather, *utterances: Utterance) -> None:
        """One ``<Say>`` per utterance, each in the voice of the language its words are in."""
        for utterance in utterances:
            if isinstance(utterance, Verbatim):
                _append_say(target, utterance.text, utterance.language)
            else:
                _append_say(target, *self._resolve(utterance))

    def say_together(self, target: VoiceResponse | Gather, utterances: Sequence[Phrase | Message]) -> None:
        """Whole sentences in one ``<Say>`` (a menu's options), falling back
        to one ``<Say>`` each if any of them is not translated."""
        resolved = [self._resolve(utterance) for utterance in utterances]
        if all(language is self.language for _, language in resolved):
            _append_say(target, " ".join(text for text, _ in resolved), self.language)
            return
        for text, language in resolved:
            _append_say(target, text, language)

    def digits(self, digits: str) -> str:
        """``"123"`` -> ``"1 2 3"``: text-to-speech reads digits one by one, not as a hundred and ..."""
        return _DIGIT_SEPARATORS.get(self.language.code, " ").join(ch for ch in digits if ch.isdigit())

    def number(self, value: int) -> str:
        return format_decimal(value, locale=self.language.locale)

    def time(self, when: datetime) -> str:
        """A time of day as this language says it (``21:30``, ``9:30 PM`` ...)."""
        return format_time(when, format="short", locale=self.language.locale)

    def _resolve(self, utterance: Phrase | Message) -> tuple[str, Language]:
        phrase = utterance if isinstance(utterance, Phrase) else utterance()
        found = _lookup(self.language, phrase.message, phrase.count)
        speaker = self if found is not None else english_speaker()
        template = found if found is not None else _lookup(ENGLISH, phrase.message, phrase.count)
        assert template is not None
        values = {name: speaker._value(value) for name, value in phrase.values.items()}
        if phrase.count is not None:
            values.setdefault("count", speaker.number(phrase.count))
        return template.format(**values), speaker.language

    def _value(self, value: Any) -> str:
        if isinstance(value, Digits):
            return self.digits(value.digits)
        if isinstance(value, bool):
            raise TypeError("a prompt placeholder cannot be a bool")
        if isinstance(value, int):
            return self.number(value)
        if isinstance(value, datetime):
            return self.time(value)
        if isinstance(value, (Message, Phrase)):
            return self.text(value)
        if isinstance(value, tuple):
            return format_list(
                [self._value(item) for item in value], style="unit", locale=self.language.locale
            )
        return str(value)


def _append_say(target: VoiceResponse | Gather, text: str, language: Language) -> None:
    target.say(text, voice=language.voice, language=language.twilio_language)


@functools.cache
def speaker(language: Language) -> Speaker:
    return Speaker(language)


def speaker_for(code: str | None) -> Speaker:
    """The speaker of a language code read back from storage (English if unknown)."""
    return speaker(language_or_english(code))


def english_speaker() -> Speaker:
    return speaker(ENGLISH)


def category_names(categories: Iterable[str]) -> tuple[Message, ...]:
    """Categories as catalogue messages, each once, in the order first seen."""
    return tuple(CATEGORY_NAMES[category] for category in dict.fromkeys(categories))


def offers(message: Message) -> list[Verbatim]:
    """``message`` (a language offer) once per language, each in its own
    language: every listener hears their language named in their language.
    A language whose catalogue cannot say the offer yet is not offered (an
    English fallback would name English under another key)."""
    spoken: list[Verbatim] = []
    for language in LANGUAGES:
        text, said_in = speaker(language)._resolve(message(key=language.key))
        if said_in is language:
            spoken.append(Verbatim(text, said_in))
    return spoken


def in_turn(languages: Sequence[Language], *messages: Message) -> list[Verbatim]:
    """``messages`` in each of ``languages`` in turn (all of them in the
    first, then all in the next), each in the voice of the language its words
    are in. Words already said are not said again: English listed twice, or a
    language that falls back to English, is heard once."""
    spoken: dict[tuple[str, Language], None] = {}
    for language in languages:
        for message in messages:
            spoken.setdefault(speaker(language)._resolve(message))
    return [Verbatim(text, said_in) for text, said_in in spoken]
