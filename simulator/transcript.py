"""A readable record of a simulated call: who heard what, who pressed what.

Transcripts are logs, so they follow the logging rule: a real number (a
member's phone, a caller's) shows at most its last three digits. Only the
service's own public numbers (Safety Numbers) are shown in full. Every
number reaches a transcript through :meth:`Phonebook.show`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from callflows.phone import last_three

# Every form a withheld or unknown caller arrives as (docs/reference.md, How Twilio behaves,
# "Caller ID"): the simulator sends them and shows them as withheld, whatever
# the app under test makes of them.
WITHHELD_CALLER_IDS = (
    "anonymous",
    "Anonymous",
    "restricted",
    "unknown",
    "+266696687",
    "+7378742833",
    "+2562533",
    "+8656696",
    "+86282452253",
)
# SIP and Twilio Client callers: an address, not a number.
ADDRESS_SCHEMES = {"sip:": "a SIP address", "client:": "a Twilio Client"}


def is_withheld(number: str) -> bool:
    """True for the forms a caller without a number arrives as."""
    return number.strip().lower() in {form.lower() for form in WITHHELD_CALLER_IDS} or not number.strip()


def is_address(number: str) -> bool:
    """True for a SIP or Twilio Client caller (``sip:…``, ``client:…``)."""
    return number.strip().lower().startswith(tuple(ADDRESS_SCHEMES))


# Seven or more keys in a row is a number being keyed in (a masked-call
# destination): only its last three digits may be written down.
_KEYED_NUMBER = re.compile(r"[0-9]{7,}")


@dataclass
class Phonebook:
    """Names the numbers of a simulation; decides how each one is shown."""

    labels: dict[str, str] = field(default_factory=dict)
    public: set[str] = field(default_factory=set)
    # Names numbers not in ``labels`` (the CLI asks the database who a member is).
    lookup: Callable[[str], str | None] | None = None

    def name(self, number: str) -> str:
        """Who owns ``number``: ``"member"``, ``"client"``, or ``"phone …123"``."""
        label = self.labels.get(number)
        if label is None and self.lookup is not None:
            label = self.lookup(number)
            if label is not None:
                self.labels[number] = label
        return label or f"phone {self.show(number)}"

    def show(self, number: str) -> str:
        """A Safety Number in full; anything else as ``…123``; withheld as such.

        A SIP or Client address may carry a name, so only its kind is shown.
        """
        if is_withheld(number):
            return "a withheld number"
        if is_address(number):
            return ADDRESS_SCHEMES[number.strip().lower().split(":", 1)[0] + ":"]
        if number in self.public:
            return number
        return "…" + last_three(number)

    def keys(self, keys: str) -> str:
        """Keys as pressed, with a keyed-in phone number cut to its last three digits."""
        return _KEYED_NUMBER.sub(lambda m: "(a number ending " + m.group(0)[-3:] + ")", keys)


@dataclass(frozen=True)
class Line:
    """One transcript line: ``who`` did ``what``; ``kind`` sorts lines for tests."""

    who: str
    kind: str  # dials | hears | presses | rings | answers | connected | ends | request | error | note
    text: str

    def render(self) -> str:
        return f"{self.who:>13}  {self.text}"


@dataclass
class Transcript:
    """The lines of one or more simulated calls, in order."""

    lines: list[Line] = field(default_factory=list)
    # Sees each line as it happens (the interactive CLI prints them live).
    listener: Callable[[Line], None] | None = None

    def add(self, who: str, kind: str, text: str) -> None:
        line = Line(who, kind, text)
        self.lines.append(line)
        if self.listener is not None:
            self.listener(line)

    def of(self, who: str | None = None, kind: str | None = None) -> list[str]:
        """The texts of the lines by ``who`` and/or of ``kind``."""
        return [
            line.text
            for line in self.lines
            if (who is None or line.who == who) and (kind is None or line.kind == kind)
        ]

    def heard(self, who: str) -> str:
        """Everything ``who`` heard, as one string (for "did they hear X" checks)."""
        return " ".join(self.of(who, "hears"))

    def render(self, verbose: bool = False) -> str:
        """Human-readable text; ``verbose`` adds the webhook requests."""
        return "\n".join(line.render() for line in self.lines if verbose or line.kind != "request")

    def extend(self, lines: Iterable[Line]) -> None:
        self.lines.extend(lines)

    def __str__(self) -> str:
        return self.render()
