"""What the people on a simulated call press, and what the dialled phone does.

Script syntax (``--digits`` and ``--answer``): a comma-separated list with
one item per ``<Gather>``, in order. An item is the keys pressed (``0-9``,
``*``, ``#``); an empty item or ``-`` means silence (the Gather times out).
``"4821#,1"`` enters a PIN ending with hash at the first Gather and presses
1 at the second; ``hangup`` hangs up at that Gather instead. For the dialled
phone, ``--answer`` also takes ``busy``, ``no-answer`` or ``failed`` (it never
answers), ``canceled`` (the caller hangs up while it rings) and ``none`` (it
answers but presses nothing in the whisper).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from simulator.errors import ScriptError

KEYS = re.compile(r"^[0-9#*]+$")
SILENCE_WORDS = frozenset({"", "-", "none", "silence"})
HANGUP = "hangup"
# "canceled": the caller hangs up while the dialled phone is still ringing.
NOT_ANSWERING = frozenset({"busy", "no-answer", "failed", "canceled"})


class Keypad(Protocol):
    """Decides what a person presses at a ``<Gather>``: keys, or ``None`` for silence."""

    def press(self, who: str, heard: str) -> str | None: ...


def parse_keys(script: str | Iterable[str | None] | None) -> list[str | None]:
    """``"4821#,,1"`` -> ``["4821#", None, "1"]``; lists pass through, checked."""
    if script is None:
        return []
    items = script.split(",") if isinstance(script, str) else list(script)
    keys: list[str | None] = []
    for item in items:
        text = (item or "").strip()
        if text.lower() in SILENCE_WORDS:
            keys.append(None)
        elif text.lower() == HANGUP:
            keys.append(HANGUP)
        elif KEYS.match(text):
            keys.append(text)
        else:
            raise ScriptError(f"{text!r} is not keypresses: use 0-9 * #, empty for silence, or hangup")
    return keys


@dataclass
class ScriptedKeypad:
    """Presses the next item of a script at each Gather; silence once it runs out."""

    keys: list[str | None] = field(default_factory=list)
    used: int = 0

    @classmethod
    def of(cls, script: str | Iterable[str | None] | None) -> ScriptedKeypad:
        return cls(parse_keys(script))

    def press(self, who: str, heard: str) -> str | None:
        if self.used >= len(self.keys):
            self.used += 1
            return None
        self.used += 1
        return self.keys[self.used - 1]

    @property
    def left_over(self) -> list[str | None]:
        """Script items no Gather consumed (a scenario expecting them is wrong)."""
        return self.keys[self.used :]


def _ignore(message: str) -> None:
    return None


@dataclass
class PromptingKeypad:
    """Asks a human at each Gather (``click.prompt`` in the CLI)."""

    ask: Callable[[str], str]
    warn: Callable[[str], None] = _ignore

    def press(self, who: str, heard: str) -> str | None:
        while True:
            answer = self.ask(f"{who} presses (Enter: silence, 'hangup': hang up)")
            try:
                return parse_keys([answer])[0]
            except ScriptError as exc:
                # A typo should not end the call: say why and ask again.
                self.warn(str(exc))


@dataclass
class Callee:
    """What the dialled phone does: answer (then press keys in a whisper) or not."""

    answers: str = "answer"  # "answer" | "busy" | "no-answer" | "failed" | "canceled"
    keypad: Keypad = field(default_factory=ScriptedKeypad)
    talk_seconds: int = 42
    # How Twilio reports a connected call to the Dial action: "completed", or
    # "answered" (which Twilio also sends for a connected call), with or
    # without DialBridged (Twilio does not always send it).
    connected_status: str = "completed"
    reports_bridged: bool = True

    @classmethod
    def parse(cls, script: str | None, talk_seconds: int = 42) -> Callee:
        """``"1"``, ``"2"``, ``"none"``, ``"busy"``, ``"no-answer"``, ``"failed"``,
        ``"canceled"`` or a key script."""
        text = (script or "").strip().lower()
        if text in NOT_ANSWERING:
            return cls(answers=text, talk_seconds=talk_seconds)
        return cls(keypad=ScriptedKeypad.of(script or ""), talk_seconds=talk_seconds)
