"""SQLAlchemy 2 typed models: the whole data model (docs/architecture.md, Rules the code keeps).

Real phone numbers appear only as ``*_encrypted`` (Fernet token) and
``*_index`` (keyed HMAC) pairs; no column ever holds a plaintext number except
``safety_numbers.e164``, which is the service's own public number.
All timestamps are naive UTC, so SQLite and PostgreSQL behave the same.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy import (
    false as sa_false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# The enums live in the domain core; the columns below store their values.
# Imported here by name too, so ``from storage.models import LineStatus``
# keeps working for code that reads models and states together.
from callflows.signals import SignalStatus
from callflows.status import (
    CATEGORIES,
    AlarmKind,
    CallDirection,
    CallerIdShown,
    CallReason,
    CallStatus,
    CheckinState,
    Greeting,
    LineKind,
    LineStatus,
    MemberStatus,
    RecordingState,
    ReportStatus,
    StaffCallState,
    StaffRole,
)

__all__ = [
    "CATEGORIES",
    "AccessCall",
    "AccessCaller",
    "AuditEntry",
    "Base",
    "Block",
    "Call",
    "CallDirection",
    "CallEvent",
    "CallReason",
    "CallStatus",
    "CallbackRequest",
    "CallerIdShown",
    "CallerWarning",
    "Checkin",
    "CheckinAlarm",
    "Event",
    "Greeting",
    "LineKind",
    "LineStatus",
    "Member",
    "MemberStatus",
    "RecordingState",
    "Report",
    "ReportStatus",
    "RiskSignal",
    "SafetyNumber",
    "SignInWindow",
    "Staff",
    "StaffCall",
    "StaffCallState",
    "StaffRole",
    "utcnow",
]


def utcnow() -> datetime:
    """Naive UTC now: one clock for every timestamp column."""
    return datetime.now(UTC).replace(tzinfo=None)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

intpk = Annotated[int, mapped_column(Integer, primary_key=True, autoincrement=True)]
created = Annotated[datetime, mapped_column(DateTime, default=utcnow, nullable=False)]
# 64 hex chars of HMAC-SHA256.
blind_index = Annotated[str, mapped_column(String(64))]
ciphertext = Annotated[str, mapped_column(Text)]
e164 = Annotated[str, mapped_column(String(20))]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, bytes: LargeBinary}


def _enum(e: type[enum.StrEnum]) -> String:
    # Plain strings rather than native enums: identical DDL on SQLite and
    # PostgreSQL, and adding a value needs no ALTER TYPE.
    return String(max(len(m.value) for m in e) + 4)


def _partial_index(name: str, *columns: str, where: str, **options: Any) -> Index:
    """An index of the rows ``where`` selects, the same on PostgreSQL and SQLite."""
    return Index(name, *columns, postgresql_where=text(where), sqlite_where=text(where), **options)


class Member(Base):
    __tablename__ = "members"

    id: Mapped[intpk]
    working_name: Mapped[str | None] = mapped_column(String(80))
    phone_encrypted: Mapped[ciphertext | None]
    # Unique among live members; erased (NULL) on cancellation.
    phone_index: Mapped[blind_index | None] = mapped_column(unique=True)
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    # Keyed on a check-in call instead of the PIN: sounds the same, raises the alarm.
    duress_pin_hash: Mapped[str | None] = mapped_column(String(200))
    # Who is called when a check-in is missed; like every number, encrypted
    # and blind-indexed, never stored in the clear.
    buddy_encrypted: Mapped[ciphertext | None]
    buddy_index: Mapped[blind_index | None]
    status: Mapped[str] = mapped_column(_enum(MemberStatus), default=MemberStatus.ACTIVE)
    greeting: Mapped[str] = mapped_column(_enum(Greeting), default=Greeting.NONE)
    accept_withheld: Mapped[bool] = mapped_column(Boolean, default=True)
    caller_id_shown: Mapped[str] = mapped_column(_enum(CallerIdShown), default=CallerIdShown.SAFETY_NUMBER)
    # Codes of callflows.languages: what the member hears, and what their
    # callers may hear (the greeting, "not available").
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    caller_language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    # False: the member asked the scheme not to call them (menu or console);
    # "Call the member" is then refused.
    scheme_calls: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    pin_failures: Mapped[int] = mapped_column(Integer, default=0)
    menu_locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[created]
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)

    line: Mapped[SafetyNumber | None] = relationship(back_populates="member", uselist=False)


class SafetyNumber(Base):
    __tablename__ = "safety_numbers"

    id: Mapped[intpk]
    e164: Mapped[e164] = mapped_column(unique=True)
    # A member's Safety Number, or a members' access line (never assigned).
    kind: Mapped[str] = mapped_column(
        _enum(LineKind), default=LineKind.SAFETY, server_default=LineKind.SAFETY
    )
    status: Mapped[str] = mapped_column(_enum(LineStatus), default=LineStatus.AVAILABLE)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), unique=True)
    quarantined_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[created]

    member: Mapped[Member | None] = relationship(back_populates="line")


class AccessCall(Base):
    """One call to a members' access line, between its two Gathers: the
    Safety Number keyed (as the line it names, or none) waiting for its PIN.

    Keyed by the CallSid Twilio posts, so nothing about the keyed number
    travels in a URL, and used once: the PIN step claims the row, so a
    replayed request finds nothing to try again."""

    __tablename__ = "access_calls"

    id: Mapped[intpk]
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    # The live Safety Number keyed, or NULL for a number that is none.
    line_id: Mapped[int | None] = mapped_column(ForeignKey("safety_numbers.id", ondelete="SET NULL"))
    pin_tried: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[created]


class AccessCaller(Base):
    """Access-line failures of one calling number that is not the keyed
    member's phone, by blind index only: the per-number rate limit."""

    __tablename__ = "access_callers"

    caller_index: Mapped[blind_index] = mapped_column(primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)


# What the risk-signal count reads of a call: carried by its two indexes by time.
_SIGNAL_COUNTED = ["other_party_index", "member_id", "other_party_last3", "direction"]


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_member_created", "member_id", "created_at"),
        Index("ix_calls_member_reserved", "member_id", "reserved_at"),
        # Risk signals (storage/signals.py): one caller's recent calls; the
        # recent declines of all (a few in a month of calls); and, for the
        # periodic count, the recent calls of all from a known caller. The
        # last two carry what the count reads (INCLUDE), so it reads index
        # pages only, never the call rows scattered over the table.
        Index("ix_calls_caller_created", "other_party_index", "created_at"),
        _partial_index(
            "ix_calls_declined_created",
            "created_at",
            where="declined OR blocked",
            postgresql_include=_SIGNAL_COUNTED,
        ),
        _partial_index(
            "ix_calls_known_caller_created",
            "created_at",
            where="member_id IS NOT NULL AND other_party_index IS NOT NULL",
            postgresql_include=_SIGNAL_COUNTED,
        ),
    )

    id: Mapped[intpk]
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    parent_call_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    direction: Mapped[str] = mapped_column(_enum(CallDirection))
    safety_number_id: Mapped[int | None] = mapped_column(ForeignKey("safety_numbers.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    # The other party (caller, or masked-call destination). The encrypted
    # number is dropped after CALLER_NUMBER_RETENTION_DAYS; the index stays
    # for blocks and warnings.
    # Looked up through ix_calls_caller_created (it leads with this column).
    other_party_index: Mapped[blind_index | None] = mapped_column()
    other_party_encrypted: Mapped[ciphertext | None]
    other_party_last3: Mapped[str | None] = mapped_column(String(3))
    withheld: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default=CallStatus.INITIATED)
    last_sequence: Mapped[int] = mapped_column(Integer, default=-1)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    bridged: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    declined: Mapped[bool] = mapped_column(Boolean, default=False)
    warned: Mapped[bool] = mapped_column(Boolean, default=False)
    # A masked call's share of the member's daily minutes
    # (storage/masked_minutes.py): the seconds reserved before dialling (its
    # timeLimit), when, and the seconds it really lasted once its end was
    # reported. Until then it counts in full.
    reserved_seconds: Mapped[int | None] = mapped_column(Integer)
    reserved_at: Mapped[datetime | None] = mapped_column(DateTime)
    settled_seconds: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[created] = mapped_column(index=True)


class CallEvent(Base):
    __tablename__ = "call_events"
    __table_args__ = (UniqueConstraint("call_sid", "sequence_number"),)

    id: Mapped[intpk]
    call_sid: Mapped[str] = mapped_column(String(64))
    sequence_number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[created]


class Block(Base):
    __tablename__ = "blocks"
    __table_args__ = (
        UniqueConstraint("member_id", "caller_index"),
        # Risk signals: one caller's blocks, and the recent blocks of all.
        Index("ix_blocks_caller_created", "caller_index", "created_at"),
    )

    id: Mapped[intpk]
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    caller_index: Mapped[blind_index]
    caller_last3: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[created] = mapped_column(index=True)


class CallerWarning(Base):
    """A warning about a caller, found by the caller's blind index."""

    __tablename__ = "warnings"

    id: Mapped[intpk]
    caller_index: Mapped[blind_index] = mapped_column(index=True)
    category: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(Text)
    source_report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    created_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[created]
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)


class WarningTranslation(Base):
    """Staff's translation of a warning's summary into one language: what a
    member who hears that language is read instead of the English summary.
    Dropped when the English summary changes, so a stale one is never read."""

    __tablename__ = "warning_translations"
    __table_args__ = (UniqueConstraint("warning_id", "language"),)

    id: Mapped[intpk]
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[created]


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_status_created", "status", "created_at"),
        # Risk signals: the reports naming one caller.
        Index("ix_reports_caller_created", "caller_index", "created_at"),
    )

    id: Mapped[intpk]
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    # The member's reporting call, and the inbound call it is about.
    report_call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    caller_index: Mapped[blind_index | None]
    recording_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    recording_state: Mapped[str] = mapped_column(_enum(RecordingState), default=RecordingState.AWAITED)
    recording_path: Mapped[str | None] = mapped_column(String(300))
    recording_seconds: Mapped[int | None] = mapped_column(Integer)
    recording_error: Mapped[str | None] = mapped_column(Text)
    police_consent: Mapped[bool | None] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(_enum(ReportStatus), default=ReportStatus.NEW)
    category: Mapped[str | None] = mapped_column(String(20))
    notes: Mapped[str | None] = mapped_column(Text)
    caseworker_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    created_at: Mapped[created] = mapped_column(index=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)


class RiskSignal(Base):
    """A caller the call log points at (callflows/signals.py), by blind index only.

    Counts are distinct members within each rule's window; no member is
    named, and erasing a member takes their part out at the next count.
    """

    __tablename__ = "risk_signals"
    __table_args__ = (Index("ix_risk_signals_status_seen", "status", "last_seen", "id"),)

    id: Mapped[intpk]
    caller_index: Mapped[blind_index] = mapped_column(unique=True)
    caller_last3: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(_enum(SignalStatus), default=SignalStatus.OPEN)
    # The rules fired at the last count, comma-separated (callflows.signals.Rule).
    rules: Mapped[str] = mapped_column(String(40), default="")
    reached_members: Mapped[int] = mapped_column(Integer, default=0)
    blocked_members: Mapped[int] = mapped_column(Integer, default=0)
    reported_members: Mapped[int] = mapped_column(Integer, default=0)
    # The first and last counted activity, within the windows.
    first_seen: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime)
    # When it last became a signal (new, or raised again after a dismissal).
    raised_at: Mapped[datetime] = mapped_column(DateTime)
    counted_at: Mapped[datetime] = mapped_column(DateTime)
    dismissed_at: Mapped[datetime | None] = mapped_column(DateTime)
    dismissed_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # Sanitised as a warning's summary is: never a number.
    dismiss_reason: Mapped[str | None] = mapped_column(Text)
    warning_id: Mapped[int | None] = mapped_column(ForeignKey("warnings.id", ondelete="SET NULL"))
    # The last alert email about this caller: at most one a day.
    alerted_at: Mapped[datetime | None] = mapped_column(DateTime)


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(_enum(StaffRole))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    totp_secret_encrypted: Mapped[ciphertext | None]
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    # The staff member's own phone, rung first by "Call the member"
    # (storage.staff_calls); encrypted like every real number, never shown
    # beyond its last three digits.
    phone_encrypted: Mapped[ciphertext | None]
    # On call for check-in alarms and risk signals (emailed when one is raised).
    on_call: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # Raised to end every session of the account (storage.staff_accounts).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The TOTP time step of the last code accepted: no code is used twice.
    last_totp_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[created]


class StaffLink(Base):
    """A one-time link for a member of staff (storage/staff_links.py): an
    invitation to set the first password, a password reset or a new TOTP
    key. Only the SHA-256 of its secret is kept; it works once, until
    ``expires_at``, and a newer link of the same purpose replaces it."""

    __tablename__ = "staff_links"

    id: Mapped[intpk]
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    # invite / password / totp (storage.staff_links.LinkPurpose)
    purpose: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[created]


class SignInWindow(Base):
    """Sign-in attempts from one client address: in the fixed window from
    ``window_start`` and in the one before it, for a sliding-window limit;
    both changed by one ``INSERT … ON CONFLICT … RETURNING`` on this one row
    (``storage.sign_in_limits``)."""

    __tablename__ = "sign_in_windows"

    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    previous_attempts: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[intpk]
    at: Mapped[created] = mapped_column(index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)


class PeriodicRun(Base):
    """A slot of a periodic job claimed by a process of an embedded
    deployment (storage/periodic_runs.py, worker/embedded_schedule.py)."""

    __tablename__ = "periodic_runs"

    job_name: Mapped[str] = mapped_column(String(60), primary_key=True)
    # The slot's start, in seconds since the epoch.
    slot: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    claimed_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class StaffCall(Base):
    """A masked call a caseworker placed from the console to a member: the
    caseworker's phone is rung first, then the member's, both showing the
    scheme's access line. Ids, states and times only: the two numbers live
    encrypted on the staff and member rows and are read when dialling."""

    __tablename__ = "staff_calls"
    __table_args__ = (Index("ix_staff_calls_staff_created", "staff_id", "created_at"),)

    id: Mapped[intpk]
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    reason: Mapped[str] = mapped_column(_enum(CallReason))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="SET NULL"), index=True)
    # The check-in alarm it is about (issue 14's table, when it exists).
    checkin_id: Mapped[int | None] = mapped_column(Integer, index=True)
    state: Mapped[str] = mapped_column(_enum(StaffCallState), default=StaffCallState.QUEUED)
    outcome: Mapped[str | None] = mapped_column(String(30))
    # The caseworker's leg (placed through the REST API) and the member's (dialled).
    call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    member_call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[created]
    connected_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    talk_seconds: Mapped[int | None] = mapped_column(Integer)


class CallbackRequest(Base):
    """A member asked, from the menu, to be called back by the scheme: a task
    for the caseworkers until a call to them connects or someone closes it."""

    __tablename__ = "callback_requests"
    __table_args__ = (
        # One open request per member: asking again keeps the first.
        _partial_index(
            "uq_callback_requests_open_member", "member_id", where="closed_at IS NULL", unique=True
        ),
    )

    id: Mapped[intpk]
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    requested_at: Mapped[created]
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    # Closed by this staff member's connected call or by their hand; NULL with
    # closed_at set: closed because the member cancelled.
    closed_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    closed_by_call_id: Mapped[int | None] = mapped_column(ForeignKey("staff_calls.id"))


class Checkin(Base):
    """One check-in timer (callflows.checkin): due, called, checked in or escalated.

    The schedule lives here, not in a queue: the periodic "fire due
    check-ins" job calls every open one whose ``next_attempt_at`` has come,
    so a lost worker or an emptied Redis loses no check-in."""

    __tablename__ = "checkins"
    __table_args__ = (
        # One open check-in per member, whatever races: starting another replaces it.
        _partial_index(
            "uq_checkins_open_member", "member_id", where="state IN ('open', 'calling')", unique=True
        ),
        Index("ix_checkins_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[intpk]
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(_enum(CheckinState), default=CheckinState.OPEN)
    set_at: Mapped[datetime] = mapped_column(DateTime)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    # When the due-check next acts: the due time, a retry, or the end of a call's window.
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    # Calls placed so far; the webhooks of a call carry its number and are
    # refused once another call has started.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    call_sid: Mapped[str | None] = mapped_column(String(64))
    pin_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_miss: Mapped[str | None] = mapped_column(String(20))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)


class CheckinAlarm(Base):
    """An alarm a check-in raised: shown to staff until they close it.

    One per check-in at most (unique ``checkin_id``): an alarm never fires twice."""

    __tablename__ = "checkin_alarms"

    id: Mapped[intpk]
    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkins.id", ondelete="CASCADE"), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(_enum(AlarmKind))
    raised_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    # The member's newest inbound call when the alarm was raised: its last
    # three digits and warnings are what staff see first.
    last_call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    staff_notified_at: Mapped[datetime | None] = mapped_column(DateTime)
    # none (no buddy) / calling / called / failed
    buddy_call: Mapped[str] = mapped_column(String(12), default="none")
    buddy_call_sid: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(20))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class Event(Base):
    """Work a webhook or a job left for later, written before anyone is told
    it was received (storage/events.py). Redis only rings a doorbell with the
    id; a worker claims the row, does the work and stamps ``done_at`` (for a
    call event, in the same transaction as the call log). ``key`` is the
    event's natural key (CallSid + SequenceNumber, RecordingSid + status …):
    a replayed callback inserts nothing. ``args`` are opaque ids only."""

    __tablename__ = "events"
    __table_args__ = (
        # The sweep's question ("what is still to do, and since when?"),
        # answered from the small set of unfinished rows only.
        _partial_index("ix_events_pending", "due_at", where="done_at IS NULL AND failed_at IS NULL"),
    )

    id: Mapped[intpk]
    job: Mapped[str] = mapped_column(String(40))
    key: Mapped[str | None] = mapped_column(String(120), unique=True)
    args: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[created]
    # When it should be done by: now, or its delay from now; pushed on by
    # each failure's backoff and by each re-ring of the sweep.
    due_at: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The exception's type only: a message may quote a row.
    last_error: Mapped[str | None] = mapped_column(String(200))
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime)


class KeptForm(Base):
    """A console form posted just after its session timed out, kept so its
    author can send it again once signed in (``storage.kept_forms``): one
    per staff account at most, for an hour at most. The fields are
    encrypted as one JSON token: they may hold a report's notes or a
    caller's number. ``handle`` is random and is what the browser's session
    cookie names."""

    __tablename__ = "kept_forms"

    handle: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), unique=True)
    # The path the form was posted to (inside /staff/).
    action: Mapped[str] = mapped_column(String(300))
    fields_encrypted: Mapped[ciphertext]
    kept_at: Mapped[datetime] = mapped_column(DateTime, index=True)
