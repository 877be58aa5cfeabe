"""The languages the service speaks, each with the Twilio voice that speaks it.

One table: the code a member is enrolled with (docs/reference.md's ``--language``),
the gettext catalogue it reads, the key that picks it on the access line and
in the menu, and the ``<Say>`` ``voice`` and ``language`` Twilio offers for
it. Voices are from Twilio's text-to-speech list (twilio.com/docs/voice/twiml/say/text-speech):
Amazon Polly where Polly has the language, Google where it does not
(Bulgarian, Hungarian, Thai). Changing a voice here changes it everywhere.

A translation no native speaker has checked yet says so (``Review``): the
docs/members-and-callers.md and the staff console show it, and the service still speaks it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from callflows.errors import SafetyNumberError


class Review(enum.StrEnum):
    """How far a catalogue can be trusted."""

    SOURCE = "source text"  # English: what the others are translated from
    NOT_CHECKED = "not yet checked by a native speaker"
    CHECKED = "checked by a native speaker"


@dataclass(frozen=True, slots=True)
class Language:
    code: str  # what members are enrolled with and the database keeps
    locale: str  # the gettext catalogue and Babel's formatting rules
    english_name: str  # for staff pages and the CLI
    native_name: str  # for members choosing in the console and menu
    key: str  # the key that picks it (access line: key then #; menu: the key)
    voice: str  # <Say voice>
    twilio_language: str  # <Say language>
    review: Review


LANGUAGES: tuple[Language, ...] = (
    Language("en", "en_GB", "English", "English", "1", "Polly.Amy", "en-GB", Review.SOURCE),
    Language("ro", "ro", "Romanian", "Română", "2", "Polly.Carmen", "ro-RO", Review.NOT_CHECKED),
    Language(
        "bg", "bg", "Bulgarian", "Български", "3", "Google.bg-BG-Standard-A", "bg-BG", Review.NOT_CHECKED
    ),
    Language("hu", "hu", "Hungarian", "Magyar", "4", "Google.hu-HU-Standard-A", "hu-HU", Review.NOT_CHECKED),
    Language("pl", "pl", "Polish", "Polski", "5", "Polly.Ewa", "pl-PL", Review.NOT_CHECKED),
    Language(
        "pt-BR",
        "pt_BR",
        "Brazilian Portuguese",
        "Português (Brasil)",
        "6",
        "Polly.Camila",
        "pt-BR",
        Review.NOT_CHECKED,
    ),
    Language("es", "es", "Spanish", "Español", "7", "Polly.Lucia", "es-ES", Review.NOT_CHECKED),
    Language("zh", "zh", "Mandarin Chinese", "普通话", "8", "Polly.Zhiyu", "cmn-CN", Review.NOT_CHECKED),
    Language("th", "th", "Thai", "ภาษาไทย", "9", "Google.th-TH-Standard-A", "th-TH", Review.NOT_CHECKED),
)

ENGLISH = LANGUAGES[0]
LANGUAGE_CODES: tuple[str, ...] = tuple(language.code for language in LANGUAGES)
_BY_CODE = {language.code: language for language in LANGUAGES}
_BY_KEY = {language.key: language for language in LANGUAGES}


class UnknownLanguage(SafetyNumberError):
    """A language code the service does not speak."""

    def __init__(self, code: str) -> None:
        super().__init__(f"unknown language (one of {', '.join(LANGUAGE_CODES)})")
        self.code = code


def language(code: str) -> Language:
    """The language enrolled as ``code``; :class:`UnknownLanguage` for any other."""
    found = _BY_CODE.get(code)
    if found is None:
        raise UnknownLanguage(code)
    return found


def language_or_english(code: str | None) -> Language:
    """For codes read back from storage: one no longer offered is spoken as English."""
    return _BY_CODE.get(code or "", ENGLISH)


def language_of_key(key: str) -> Language | None:
    """The language a key picks, or None."""
    return _BY_KEY.get(key.strip())
