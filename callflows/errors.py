"""Domain errors, one module, each named for what went wrong.

Messages never contain a phone number: they may reach logs or stderr.
"""


class SafetyNumberError(Exception):
    """Base class of every domain error."""


class InvalidPhoneNumber(SafetyNumberError):
    """Input could not be read as a working phone number."""


class WithheldNumber(SafetyNumberError):
    """The caller withheld their number; there is nothing to normalise."""


class DuplicateMember(SafetyNumberError):
    """A member with this registered phone already exists."""


class NumberPoolEmpty(SafetyNumberError):
    """No Safety Number is free to assign."""


class UnknownMember(SafetyNumberError):
    """No active member matches."""


class BadPin(SafetyNumberError):
    """A PIN that may not be set; the message says why."""


class PinTooShort(BadPin):
    """The PIN is shorter than the configured minimum or not all digits."""


class WeakPin(BadPin):
    """The PIN is one anyone would try first: one digit repeated, a straight
    run, or the last digits of the member's own phone."""


class BadBuddy(SafetyNumberError):
    """A buddy number that may not be set (premium, foreign, emergency, the
    member's own); the message says why, without the number, and ``spoken``
    is the catalogue phrase the menu says instead."""

    def __init__(self, message: str, spoken: object = None) -> None:
        super().__init__(message)
        self.spoken = spoken


class DuressSameAsPin(BadPin):
    """The duress PIN given is the member's PIN: the two must sound different to nobody but differ."""


class UnknownCategory(SafetyNumberError):
    """A warning or report category outside the agreed list."""


class DuplicateSafetyNumber(SafetyNumberError):
    """The number is already in the pool."""


class DuplicateStaff(SafetyNumberError):
    """Staff with this email already exist."""


class ConfigurationError(SafetyNumberError):
    """Settings are missing or unusable."""


class TwilioUnavailable(SafetyNumberError):
    """Twilio's REST or media API failed or timed out; worth retrying."""


class TwilioResourceGone(SafetyNumberError):
    """Twilio answered 404: the recording, call or number is not (or no longer) there."""


class RecordingCorrupted(SafetyNumberError):
    """What the recording store holds does not match the audio downloaded."""
