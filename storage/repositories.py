"""Repositories: queries and writes over a Session the caller owns.

Nothing here commits; the request, command or job that opened the session
decides. Numbers come in as E.164 strings and leave only as tokens/indexes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from callflows.errors import (
    DuplicateMember,
    DuplicateSafetyNumber,
    DuplicateStaff,
    NumberPoolEmpty,
    UnknownCategory,
    UnknownMember,
)
from callflows.languages import ENGLISH
from callflows.languages import language as language_named
from callflows.pin_quality import check_pin_quality
from callflows.sanitise import sanitise_summary
from callflows.status import CATEGORIES, CheckinState, LineKind, LineStatus, MemberStatus, StaffRole
from storage import callback_requests, checkin_setup, checkins
from storage.crypto import FieldCipher
from storage.erasure import MEMBER_PERSONAL_COLUMNS, Erased, erase_member_data
from storage.hashing import hash_secret
from storage.models import (
    AuditEntry,
    Block,
    CallerWarning,
    Member,
    SafetyNumber,
    Staff,
    WarningTranslation,
    utcnow,
)
from storage.recordings import RecordingStore
from storage.staff_accounts import check_password_rule
from storage.vault import NumberVault

# --- the number pool ------------------------------------------------------


def add_numbers(
    session: Session, numbers: Iterable[str], kind: LineKind = LineKind.SAFETY
) -> list[SafetyNumber]:
    """Add E.164 numbers to the pool as Safety Numbers, or as members'
    access lines (``kind``); all or nothing."""
    wanted = list(dict.fromkeys(numbers))
    existing = session.scalars(select(SafetyNumber.e164).where(SafetyNumber.e164.in_(wanted))).all()
    if existing:
        raise DuplicateSafetyNumber(f"already in the pool: {', '.join(existing)}")
    lines = [SafetyNumber(e164=n, kind=kind, status=LineStatus.AVAILABLE) for n in wanted]
    session.add_all(lines)
    session.flush()
    return lines


def line_by_number(session: Session, e164: str) -> SafetyNumber | None:
    """The pool entry for a Safety Number, with its member loaded."""
    return session.scalars(select(SafetyNumber).where(SafetyNumber.e164 == e164)).first()


def free_line(session: Session) -> SafetyNumber:
    line = session.scalars(
        select(SafetyNumber)
        # An access line is never a member's number.
        .where(SafetyNumber.status == LineStatus.AVAILABLE, SafetyNumber.kind == LineKind.SAFETY)
        .order_by(SafetyNumber.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if line is None:
        raise NumberPoolEmpty("no free Safety Number: add numbers to the pool first")
    return line


# --- members --------------------------------------------------------------


def check_pin(pin: str, min_length: int, own_phone_e164: str | None) -> None:
    """Refuse a PIN too short or too easy to guess (``callflows.pin_quality``)."""
    check_pin_quality(pin, min_length, own_phone_e164)


def enrol_member(
    session: Session,
    vault: NumberVault,
    *,
    name: str,
    phone_e164: str,
    pin: str,
    pin_min_length: int = 4,
    language: str = ENGLISH.code,
    duress_pin: str | None = None,
    buddy_e164: str | None = None,
) -> tuple[Member, SafetyNumber]:
    """Create a member and assign them a free Safety Number. ``language`` is
    what they hear (:class:`UnknownLanguage` for a code not offered); with a
    duress PIN and a buddy (already judged by ``callflows.checkin.check_buddy``) if given."""
    check_pin(pin, pin_min_length, phone_e164)
    spoken = language_named(language)
    name = " ".join(name.split())
    if not name:
        raise ValueError("the working name is empty")
    protected = vault.protect(phone_e164)
    if session.scalars(select(Member.id).where(Member.phone_index == protected.index)).first():
        raise DuplicateMember("a member with that phone is already enrolled")
    line = free_line(session)
    member = Member(
        working_name=name[:80],
        phone_encrypted=protected.token,
        phone_index=protected.index,
        pin_hash=hash_secret(pin),
        status=MemberStatus.ACTIVE,
        language=spoken.code,
    )
    if duress_pin is not None:
        checkin_setup.set_duress_pin(member, duress_pin, pin_min_length, phone_e164)
    if buddy_e164 is not None:
        checkin_setup.set_buddy(member, vault, buddy_e164)
    session.add(member)
    session.flush()
    line.member_id = member.id
    line.status = LineStatus.ASSIGNED
    session.flush()
    return member, line


def member_by_phone(session: Session, vault: NumberVault, phone_e164: str) -> Member | None:
    return session.scalars(
        select(Member).where(
            Member.phone_index == vault.index(phone_e164), Member.status == MemberStatus.ACTIVE
        )
    ).first()


def active_member(session: Session, member_id: int) -> Member:
    member = session.get(Member, member_id)
    if member is None or member.status != MemberStatus.ACTIVE:
        raise UnknownMember(f"no active member with id {member_id}")
    return member


def list_members(session: Session) -> Sequence[tuple[Member, str | None]]:
    """(member, Safety Number) pairs, oldest first; never the real number."""
    rows = session.execute(
        select(Member, SafetyNumber.e164)
        .outerjoin(SafetyNumber, SafetyNumber.member_id == Member.id)
        .order_by(Member.id)
    ).all()
    return [(m, n) for m, n in rows]


def cancel_member(
    session: Session,
    member: Member,
    recordings: RecordingStore | None = None,
    now: datetime | None = None,
) -> Erased:
    """Erase the member's personal data at once, quarantine their number, keep counts.

    The member row stays (anonymous) so call and report counts survive; the
    phone, name, PIN, duress PIN, buddy, open check-ins, blocks, recordings (from ``recordings``) and callers'
    numbers go (storage/erasure.py says exactly what is kept). The number is
    quarantined, not freed, so the member's old clients do not reach a new
    member straight away.
    """
    now = now or utcnow()
    member.status = MemberStatus.CANCELLED
    member.cancelled_at = now
    for column in MEMBER_PERSONAL_COLUMNS:
        setattr(member, column, None)
    member.menu_locked_until = None
    checkin_setup.erase_safety_net(member)
    checkins.end_checkins(session, member.id, now, CheckinState.CANCELLED)
    erased = erase_member_data(session, member.id, recordings)
    # Nobody is to call a cancelled member back (storage/callback_requests.py).
    callback_requests.close_unwanted(session, member.id, now)
    line = session.scalars(select(SafetyNumber).where(SafetyNumber.member_id == member.id)).first()
    if line is not None:
        line.member_id = None
        line.status = LineStatus.QUARANTINED
        line.quarantined_at = now
    session.flush()
    return erased


# --- blocks and warnings ----------------------------------------------------


def block_caller(session: Session, member_id: int, caller_index: str, last3: str | None) -> Block:
    """Block a caller for a member; blocking twice is harmless."""
    existing = session.scalars(
        select(Block).where(Block.member_id == member_id, Block.caller_index == caller_index)
    ).first()
    if existing is not None:
        return existing
    block = Block(member_id=member_id, caller_index=caller_index, caller_last3=last3)
    session.add(block)
    session.flush()
    return block


def is_blocked(session: Session, member_id: int, caller_index: str) -> bool:
    return (
        session.scalars(
            select(Block.id).where(Block.member_id == member_id, Block.caller_index == caller_index)
        ).first()
        is not None
    )


def check_category(category: str) -> str:
    if category not in CATEGORIES:
        raise UnknownCategory(f"category must be one of: {', '.join(CATEGORIES)}")
    return category


def add_warning(
    session: Session,
    *,
    caller_index: str,
    category: str,
    summary: str,
    expires_at: datetime | None = None,
    staff_id: int | None = None,
    report_id: int | None = None,
) -> CallerWarning:
    check_category(category)
    clean = sanitise_summary(summary)
    if not clean:
        raise ValueError("the summary is empty")
    warning = CallerWarning(
        caller_index=caller_index,
        category=category,
        summary=clean,
        expires_at=expires_at,
        created_by_staff_id=staff_id,
        source_report_id=report_id,
    )
    session.add(warning)
    session.flush()
    return warning


def _live_warnings(now: datetime):  # type: ignore[no-untyped-def]
    return (CallerWarning.expires_at.is_(None)) | (CallerWarning.expires_at > now)


def warnings_for(session: Session, caller_index: str, now: datetime | None = None) -> list[CallerWarning]:
    """Unexpired warnings about one caller, newest first."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(CallerWarning)
            .where(CallerWarning.caller_index == caller_index, _live_warnings(now))
            .order_by(CallerWarning.created_at.desc())
        )
    )


def recent_warnings(session: Session, limit: int = 5, now: datetime | None = None) -> list[CallerWarning]:
    now = now or utcnow()
    return list(
        session.scalars(
            select(CallerWarning)
            .where(_live_warnings(now))
            .order_by(CallerWarning.created_at.desc(), CallerWarning.id.desc())
            .limit(limit)
        )
    )


def summary_translations(session: Session, warning_ids: Sequence[int], language: str) -> dict[int, str]:
    """Staff's translations of these warnings' summaries into ``language``, by warning id."""
    if not warning_ids:
        return {}
    rows = session.execute(
        select(WarningTranslation.warning_id, WarningTranslation.summary).where(
            WarningTranslation.warning_id.in_(warning_ids), WarningTranslation.language == language
        )
    )
    return {warning_id: summary for warning_id, summary in rows}


def set_summary_translation(session: Session, warning: CallerWarning, language: str, summary: str) -> bool:
    """Keep ``summary`` (sanitised like the English one) as the warning's
    translation into ``language``; an empty one removes it. Whether one is kept."""
    if language_named(language) is ENGLISH:
        raise ValueError("the English summary is the warning's own")
    clean = sanitise_summary(summary)
    existing = session.scalars(
        select(WarningTranslation).where(
            WarningTranslation.warning_id == warning.id, WarningTranslation.language == language
        )
    ).first()
    if not clean:
        if existing is not None:
            session.delete(existing)
        return False
    if existing is None:
        session.add(WarningTranslation(warning_id=warning.id, language=language, summary=clean))
    else:
        existing.summary = clean
    return True


def drop_summary_translations(session: Session, warning: CallerWarning) -> None:
    """The English summary changed: its translations no longer say the same."""
    session.execute(delete(WarningTranslation).where(WarningTranslation.warning_id == warning.id))


# --- staff and audit --------------------------------------------------------


def add_staff(
    session: Session, *, email: str, password: str | None, role: str, phone_encrypted: str | None = None
) -> Staff:
    """A new account. ``password`` None: invited, no password yet (an empty
    hash, which matches nothing) until the invitation link sets one."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 200:
        raise ValueError("that is not an email address")
    if role not in (StaffRole.CASEWORKER, StaffRole.ADMIN):
        raise ValueError("role must be caseworker or admin")
    if password is not None:
        check_password_rule(password)
    if session.scalars(select(Staff.id).where(Staff.email == email)).first():
        raise DuplicateStaff("staff with that email already exist")
    staff = Staff(
        email=email,
        password_hash=hash_secret(password) if password is not None else "",
        role=role,
        phone_encrypted=phone_encrypted,
    )
    session.add(staff)
    session.flush()
    return staff


def audit(
    session: Session,
    action: str,
    *,
    staff_id: int | None = None,
    target_type: str | None = None,
    target_id: int | None = None,
    detail: str | None = None,
) -> None:
    session.add(
        AuditEntry(
            staff_id=staff_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            detail=detail,
        )
    )


# --- key rotation -------------------------------------------------------------


@dataclass
class RotationResult:
    rotated: int
    already_current: int


def rotate_encrypted_fields(session: Session, cipher: FieldCipher) -> RotationResult:
    """Re-encrypt every encrypted column under the newest data key."""
    from storage.models import Call, KeptForm, Staff

    targets = (
        (Member, Member.phone_encrypted),
        (Member, Member.buddy_encrypted),
        (Call, Call.other_party_encrypted),
        (Staff, Staff.totp_secret_encrypted),
        (Staff, Staff.phone_encrypted),
        (KeptForm, KeptForm.fields_encrypted),
    )
    rotated = current = 0
    for model, column in targets:
        for row in session.scalars(select(model).where(column.is_not(None))):
            token = getattr(row, column.key)
            if cipher.is_current(token):
                current += 1
                continue
            setattr(row, column.key, cipher.rotate(token))
            rotated += 1
    session.flush()
    return RotationResult(rotated, current)


def count_rows(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0
