"""The states and kinds the whole service shares: of members, lines, calls,
reports, recordings and staff, and the categories of warnings and reports.

They are domain words, not storage details: the call flows take them as
typed inputs, ``storage.models`` stores their values as plain strings, and
the worker and the console compare against them. ``StrEnum``, so a member
read from the database equals its enum member without conversion.
"""

from __future__ import annotations

import enum


class MemberStatus(enum.StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class Greeting(enum.StrEnum):
    """What the caller hears before the member's phone rings.

    Any spoken word before ``<Dial answerOnBridge>`` answers the call, so the
    caller pays from then on even if the member never accepts
    (docs/reference.md, How Twilio behaves): no greeting is the default, and the
    spoken one is the member's explicit choice.
    """

    NONE = "none"  # ringback at once; nothing billed unless the member accepts
    LOGGED = "logged"  # "calls to this number are logged for safety": answers the call


class CallerIdShown(enum.StrEnum):
    """What the member's phone shows when a screened call rings it."""

    CALLER = "caller"  # the caller's own number, when there is one
    SAFETY_NUMBER = "safety_number"


class LineKind(enum.StrEnum):
    """What a number in the pool is for."""

    SAFETY = "safety"  # a member's public Safety Number, given to clients
    ACCESS = "access"  # a members' access line to the menu, given to members only


class LineStatus(enum.StrEnum):
    AVAILABLE = "available"
    ASSIGNED = "assigned"
    QUARANTINED = "quarantined"


class CallDirection(enum.StrEnum):
    INBOUND = "inbound"  # a client calling the Safety Number
    MEMBER_LEG = "member_leg"  # the leg that rings the member
    MENU = "menu"  # the member calling in to the menu
    MASKED = "masked"  # the member's call in which they place a masked call
    MASKED_LEG = "masked_leg"  # the leg that rings the masked call's destination


class CallStatus(enum.StrEnum):
    """A call leg's status as Twilio reports it (``CallStatus``)."""

    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    ANSWERED = "answered"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"  # what the call log keeps for anything else Twilio sends


ANSWERED_STATUSES = frozenset({CallStatus.IN_PROGRESS, CallStatus.ANSWERED})
TERMINAL_STATUSES = frozenset(
    {CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.NO_ANSWER, CallStatus.FAILED, CallStatus.CANCELED}
)


class ReportStatus(enum.StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_REVIEW = "in_review"
    CLOSED = "closed"


class RecordingState(enum.StrEnum):
    AWAITED = "awaited"
    STORED = "stored"
    ABSENT = "absent"  # Twilio recorded nothing (the member was silent)
    FAILED = "failed"
    DELETED = "deleted"


class StaffRole(enum.StrEnum):
    CASEWORKER = "caseworker"
    ADMIN = "admin"


class CallReason(enum.StrEnum):
    """Why a caseworker called a member from the console (kept in the audit log)."""

    REPORT = "report"  # about an incident report
    CHECKIN = "checkin"  # about a missed check-in
    CALLBACK = "callback"  # the member asked, from the menu, to be called back
    OTHER = "other"  # anything else (from the member's page)


class StaffCallState(enum.StrEnum):
    """How far a masked call from the console got (``storage.staff_calls``).

    The call moves forward only: each step is one conditional UPDATE from
    the state before it, so a replayed webhook or a repeated callback finds
    nothing to move and changes nothing."""

    QUEUED = "queued"  # written by the console; the job has not placed it yet
    PLACING = "placing"  # the job is asking Twilio to ring the caseworker
    RINGING = "ringing"  # Twilio accepted the call; the caseworker's phone rings
    ANSWERED = "answered"  # the caseworker answered and hears who and why
    DIALLING = "dialling"  # the caseworker pressed 1; the member's phone rings
    CONNECTED = "connected"  # the member took the call
    ENDED = "ended"  # finished; ``outcome`` says how


class StaffCallOutcome(enum.StrEnum):
    """How a masked call from the console ended, as the console shows it."""

    TALKED = "talked"
    TWILIO_UNREACHABLE = "twilio-unreachable"
    TOO_LATE = "too-late"  # the job ran long after the click (queue outage): not rung late
    STAFF_NO_ANSWER = "staff-no-answer"
    STAFF_BUSY = "staff-busy"
    STAFF_UNREACHABLE = "staff-unreachable"
    STAFF_NOT_CONFIRMED = "staff-not-confirmed"  # answered, did not press 1 (voicemail?)
    STAFF_HUNG_UP = "staff-hung-up"  # before the member answered
    MEMBER_NO_ANSWER = "member-no-answer"
    MEMBER_BUSY = "member-busy"
    MEMBER_UNREACHABLE = "member-unreachable"
    MEMBER_DECLINED = "member-declined"  # answered, did not press 1
    NOT_CALLABLE = "not-callable"  # cancelled or opted out between the click and the call


class CheckinState(enum.StrEnum):
    """Where one check-in timer is."""

    OPEN = "open"  # waiting for its due time (or a retry)
    CALLING = "calling"  # a check-in call is being placed or is ringing
    CHECKED_IN = "checked_in"  # the member keyed their PIN
    ENDED = "ended"  # the member ended it early from the menu
    REPLACED = "replaced"  # the member started another
    CANCELLED = "cancelled"  # the member cancelled their membership
    ESCALATED = "escalated"  # an alarm was raised (missed, duress or unreachable)


OPEN_STATES = (CheckinState.OPEN, CheckinState.CALLING)


class AlarmKind(enum.StrEnum):
    """Why a check-in raised an alarm."""

    MISSED = "missed"  # no answer, busy, voicemail, no key or wrong PINs, after the retry
    DURESS = "duress"  # the member keyed their duress PIN
    UNREACHABLE = "unreachable"  # Twilio could not be reached to place the call


class AlarmOutcome(enum.StrEnum):
    """How staff closed an alarm."""

    SAFE = "safe"
    UNREACHABLE = "unreachable"
    POLICE_INFORMED = "police_informed"


OUTCOME_WORDS = {
    AlarmOutcome.SAFE: "member safe",
    AlarmOutcome.UNREACHABLE: "member unreachable",
    AlarmOutcome.POLICE_INFORMED: "police informed",
}


class Category(enum.StrEnum):
    """What a warning or a report is about (the list docs/reference.md agrees)."""

    PHYSICAL_ASSAULT = "physical-assault"
    SEXUAL_ASSAULT = "sexual-assault"
    ROBBERY = "robbery"
    THREATS = "threats"
    STALKING = "stalking"
    NUISANCE = "nuisance"
    OTHER = "other"


# The values, in the agreed order: for CLI choices, forms and checks.
CATEGORIES: tuple[str, ...] = tuple(category.value for category in Category)
