"""A short, real WAV file standing in for what a member says into ``<Record>``.

Twilio records calls as 8 kHz mono 16-bit PCM WAV; so does this. The sound
is a gentle two-tone warble, so a caseworker testing the console hears that
playback works (silence would hide a broken player).
"""

from __future__ import annotations

import io
import math
import struct
import wave

SAMPLE_RATE = 8000


def recording_wav(seconds: int, sample_rate: int = SAMPLE_RATE) -> bytes:
    """``seconds`` of audio as a complete WAV file."""
    frames = bytearray()
    for i in range(max(1, seconds) * sample_rate):
        t = i / sample_rate
        # Alternate 440 Hz and 550 Hz every half second, at a quiet level.
        freq = 440.0 if int(t * 2) % 2 == 0 else 550.0
        frames += struct.pack("<h", int(6000 * math.sin(2 * math.pi * freq * t)))
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(bytes(frames))
    return out.getvalue()


def wav_seconds(data: bytes) -> float:
    """The length of a WAV file in seconds (tests check what was stored)."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.getnframes() / wav.getframerate()
