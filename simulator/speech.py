"""What a person does while a ``<Record>`` is recording, and what Twilio keeps.

Script syntax (a scenario's ``speech`` list, one item per ``<Record>`` met):
comma-separated segments, in order — ``speak 12`` (12 s of speech),
``pause 7`` (7 s of silence), ``press #`` (a key), ``hangup``; ``silence``
alone says nothing at all. ``"speak 12, pause 7, speak 20, press #"`` is a
report with a seven-second pause in it.

:func:`record` plays a script against a ``<Record>``'s attributes as Twilio
does (docs/reference.md, How Twilio behaves): the recording ends after ``timeout`` seconds of
silence (default 5; 0 never ends on silence), at ``maxLength``, at a key in
``finishOnKey`` or at a hangup. With ``trim="trim-silence"`` (the default)
silence before the first and after the last word is cut from the recording.
A recording with no speech in it is *absent*: Twilio makes no action request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from simulator.errors import ScriptError
from simulator.keypad import HANGUP

_SEGMENT = re.compile(r"^(speak|pause)\s+([0-9]{1,5})$|^press\s+([0-9#*])$|^(hangup|silence)$")


@dataclass(frozen=True)
class Segment:
    """One thing the person does: speak or pause for ``seconds``, press ``key``, hang up."""

    kind: str  # "speak" | "pause" | "press" | "hangup"
    seconds: int = 0
    key: str = ""

    def describe(self) -> str:
        if self.kind == "press":
            return f"press {self.key}"
        if self.kind == HANGUP:
            return HANGUP
        return f"{self.kind} {self.seconds} s"


def parse_speech(item: str) -> list[Segment]:
    """``"speak 12, pause 7, press #"`` -> segments; ``"silence"`` -> none."""
    segments: list[Segment] = []
    for part in item.split(","):
        text = " ".join(part.split()).lower()
        match = _SEGMENT.match(text)
        if match is None:
            raise ScriptError(f"{part.strip()!r} is not speech: use speak N, pause N, press K or hangup")
        if match.group(1):
            segments.append(Segment(match.group(1), int(match.group(2))))
        elif match.group(3):
            segments.append(Segment("press", key=match.group(3)))
        elif match.group(4) == HANGUP:
            segments.append(Segment(HANGUP))
    return segments


@dataclass
class Speech:
    """What one person says at each ``<Record>``, in order.

    Once the script runs out, they speak for ``default_seconds`` and press the
    first finishing key the ``<Record>`` accepts (``#`` when it may).
    """

    items: list[list[Segment] | None] = field(default_factory=list)
    default_seconds: int = 4
    used: int = 0

    @classmethod
    def of(cls, items: Iterable[str] | None, default_seconds: int = 4) -> Speech:
        return cls([parse_speech(item) for item in items or ()], default_seconds)

    def next(self, finish_on_key: str) -> list[Segment]:
        self.used += 1
        if self.used <= len(self.items):
            return self.items[self.used - 1] or []
        segments = [Segment("speak", self.default_seconds)]
        if finish_on_key:
            segments.append(Segment("press", key="#" if "#" in finish_on_key else finish_on_key[0]))
        return segments


@dataclass(frozen=True)
class RecordSettings:
    """The attributes of a ``<Record>`` that decide when it ends, with Twilio's defaults."""

    timeout: int = 5
    max_length: int = 3600
    finish_on_key: str = "1234567890*#"
    trim: bool = True


@dataclass
class Recorded:
    """How a recording went: how long it runs, why it ended, what was lost."""

    seconds: int  # RecordingDuration: 0 when nothing was recorded
    elapsed: int  # how long the Record verb took on the call
    ended_by: str  # "silence" | "key" | "maxLength" | "hangup"
    key: str = ""  # the finishing key, when one ended it
    lost: list[Segment] = field(default_factory=list)  # what came after the end

    @property
    def absent(self) -> bool:
        return self.seconds == 0


def record(segments: list[Segment], settings: RecordSettings) -> Recorded:
    """Play ``segments`` into a ``<Record>`` with ``settings``, as Twilio would."""
    elapsed = 0
    first_word: int | None = None
    last_word = 0
    ended_by, key = "", ""
    lost: list[Segment] = []
    for index, segment in enumerate(segments):
        room = settings.max_length - elapsed
        if segment.kind == "speak":
            first_word = elapsed if first_word is None else first_word
            elapsed += min(segment.seconds, room)
            last_word = elapsed
            ended_by = "maxLength" if segment.seconds >= room else ""
        elif segment.kind == "pause":
            silence = min(segment.seconds, room)
            if settings.timeout and silence >= settings.timeout:
                # The silence timeout ends the recording part-way through the pause.
                elapsed += settings.timeout
                ended_by = "silence"
            else:
                elapsed += silence
                ended_by = "maxLength" if segment.seconds >= room else ""
        elif segment.kind == "press" and segment.key in settings.finish_on_key:
            ended_by, key = "key", segment.key
        elif segment.kind == HANGUP:
            ended_by = HANGUP
        if ended_by:
            lost = segments[index + 1 :]
            break
    if not ended_by:
        # The script is over: the person says nothing more, so silence ends it.
        if settings.timeout:
            elapsed += min(settings.timeout, settings.max_length - elapsed)
            ended_by = "silence"
        else:
            elapsed, ended_by = settings.max_length, "maxLength"
    if first_word is None:
        seconds = 0
    elif settings.trim:
        seconds = last_word - first_word
    else:
        seconds = elapsed
    return Recorded(seconds=seconds, elapsed=elapsed, ended_by=ended_by, key=key, lost=lost)
