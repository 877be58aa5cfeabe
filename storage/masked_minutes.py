"""A member's daily masked-call budget: minutes reserved before dialling,
settled from the call's real duration when it ends.

Masked calls are paid for by the scheme, so a stolen PIN must not buy more
than the daily caps (docs/members-and-callers.md, the member menu, key 1). Reading today's usage and then
dialling would let parallel calls all see the same budget (the attack that
got 24 dials of an hour each against caps of 20 calls and 120 minutes). So:

- ``reserve`` locks the member's row, reads today's usage under that lock and
  writes the reservation on the call row in the same transaction; parallel
  destinations of one member queue on the lock and each sees every
  reservation committed before it.
- A call counts with its full reservation until its end is reported
  (``settle``: the Dial's ``DialCallDuration``, or the dialled leg's final
  status callback); then with what it really lasted. A call whose end is
  never reported keeps its reservation until the day rolls over.
- The day is the UTC day of the reservation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from callflows.menu import DailyUsage, MaskedCallCaps
from storage.models import Call, Member


def _midnight(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def usage_today(session: Session, member_id: int, now: datetime) -> DailyUsage:
    """Masked calls reserved since midnight UTC, and their seconds: settled
    calls by what they lasted, open ones by what they reserved."""
    held = func.coalesce(Call.settled_seconds, Call.reserved_seconds)
    calls, seconds = session.execute(
        select(func.count(Call.id), func.coalesce(func.sum(held), 0)).where(
            Call.member_id == member_id, Call.reserved_at >= _midnight(now)
        )
    ).one()
    return DailyUsage(int(calls or 0), int(seconds or 0))


def reserve(session: Session, call: Call, caps: MaskedCallCaps, now: datetime) -> int | None:
    """Reserve the next masked call's seconds on ``call``; its ``timeLimit``.

    None, and nothing written, when today's caps are used up or this call
    already made its one masked call. The caller commits (which releases the
    member's lock) once the call row is complete.
    """
    if call.member_id is None:
        return None
    session.execute(select(Member.id).where(Member.id == call.member_id).with_for_update())
    # Re-read under the lock: a parallel request on the same CallSid may have reserved.
    session.refresh(call, ["reserved_at"])
    if call.reserved_at is not None:
        return None
    seconds = caps.time_limit(usage_today(session, call.member_id, now))
    if seconds is not None:
        call.reserved_seconds, call.reserved_at = seconds, now
        session.flush()
    return seconds


def settle(session: Session, call_sid: str, seconds: int) -> bool:
    """The masked call ``call_sid`` lasted ``seconds``: count that instead of
    its reservation (never more than it). The first report wins, so a repeated
    or late one changes nothing; True when this one settled it."""
    lasted = max(0, seconds)
    result = session.execute(
        update(Call)
        .where(
            Call.call_sid == call_sid,
            Call.reserved_seconds.is_not(None),
            Call.settled_seconds.is_(None),
        )
        .values(settled_seconds=case((Call.reserved_seconds < lasted, Call.reserved_seconds), else_=lasted))
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)
