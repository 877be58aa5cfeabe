"""Risk signals in the database: counting, keeping, and what staff do with them.

Everything is counted by the caller's blind index (``calls.other_party_index``,
``blocks.caller_index``, ``reports.caller_index``); no number is ever read or
decrypted here. Only rows inside the rules' windows are touched, through
the indexes on (caller index, time) and on time, so the cost follows recent
activity, not the size of the call log. A cancelled member's calls, blocks
and reports lose their caller index at once (storage/erasure.py), so the
next count no longer includes them. The decision itself is
``callflows.signals.decide``; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from callflows.sanitise import sanitise_summary
from callflows.signals import Change, MemberCounts, Rule, SignalRules, SignalStatus, decide, rules_fired
from callflows.status import CallDirection
from storage import repositories as repo
from storage.models import Block, Call, CallerWarning, Report, RiskSignal, utcnow
from storage.staff_accounts import on_call_emails

# The periodic count's statement timeout; it takes seconds over 10,000,000
# calls (BENCHMARKS.md, "Risk signals").
WHOLE_COUNT_TIMEOUT_MS = 120_000
WHOLE_COUNT_WORK_MEM = "64MB"
# Signals raised or dropped by one count after which their statistics are renewed.
ANALYZE_AFTER = 1000
# Caller indexes per IN (...) list: well under every driver's parameter limit.
CHUNK = 1000


@dataclass(frozen=True)
class Activity:
    """One caller's counted activity within the windows."""

    caller_index: str
    counts: MemberCounts
    # Counts of what happened after the caller's signal was dismissed.
    since_dismissal: MemberCounts
    first_seen: datetime
    last_seen: datetime
    last3: str | None


def _activity(rules: SignalRules, now: datetime, callers: Sequence[str] | None) -> Any:
    """(caller_index, member_id, rule, at, last3): every member's counted act
    towards a caller, each within its rule's window."""

    def mine(column: Any) -> ColumnElement[bool]:
        return column.in_(callers) if callers is not None else column.is_not(None)

    def since(rule: Rule, column: Any) -> ColumnElement[bool]:
        return column >= rules.window_start(rule, now)

    inbound = and_(Call.direction == CallDirection.INBOUND, Call.member_id.is_not(None))
    # The first select names the union's columns.
    reached = select(
        Call.other_party_index.label("caller"),
        Call.member_id.label("member"),
        literal(Rule.REACHED.value).label("rule"),
        Call.created_at.label("at"),
        Call.other_party_last3.label("last3"),
    ).where(inbound, mine(Call.other_party_index), since(Rule.REACHED, Call.created_at))
    declined = select(
        Call.other_party_index,
        Call.member_id,
        literal(Rule.BLOCKED.value),
        Call.created_at,
        Call.other_party_last3,
    ).where(
        inbound,
        mine(Call.other_party_index),
        since(Rule.BLOCKED, Call.created_at),
        # Spelt as the partial index ix_calls_declined_created is, so it is used.
        or_(Call.declined, Call.blocked),
    )
    # Blocks made from the menu ("block my last caller") leave no call flag.
    blocked = select(
        Block.caller_index, Block.member_id, literal(Rule.BLOCKED.value), Block.created_at, Block.caller_last3
    ).where(mine(Block.caller_index), since(Rule.BLOCKED, Block.created_at))
    reported = select(
        Report.caller_index,
        Report.member_id,
        literal(Rule.REPORTED.value),
        Report.created_at,
        null().cast(String(3)),
    ).where(mine(Report.caller_index), Report.member_id.is_not(None), since(Rule.REPORTED, Report.created_at))
    return union_all(reached, declined, blocked, reported).subquery("activity")


def count_activity(
    session: Session, rules: SignalRules, now: datetime, callers: Sequence[str] | None = None
) -> list[Activity]:
    """Activity of the callers that cross a threshold or already have a
    signal: all such callers, or only ``callers``."""
    act = _activity(rules, now, callers)
    # One row per caller, member and rule: when that member first and last
    # did it. A member counts as *new* after a dismissal when their first
    # act of that kind came after it: the members staff already judged
    # calling again never raise the signal again by themselves.
    per_member = (
        select(
            act.c.caller,
            act.c.rule,
            func.min(act.c.at).label("first"),
            func.max(act.c.at).label("last"),
            func.max(act.c.last3).label("last3"),
        )
        .group_by(act.c.caller, act.c.member, act.c.rule)
        .subquery("per_member")
    )
    pm = per_member.c

    def members(of: Rule, new: bool = False) -> Any:
        cond = pm.rule == of.value
        return func.count().filter(and_(cond, pm.first > RiskSignal.dismissed_at) if new else cond)

    counted = {r: members(r) for r in Rule}
    crosses = [counted[r] >= rules.of(r).members for r in Rule]
    stmt = (
        select(
            pm.caller,
            *counted.values(),
            *(members(r, new=True) for r in Rule),
            func.min(pm.first),
            func.max(pm.last),
            func.max(pm.last3),
        )
        .outerjoin(RiskSignal, RiskSignal.caller_index == pm.caller)
        .group_by(pm.caller)
        .having(or_(*crosses, func.count(RiskSignal.id) > 0))
    )
    return [
        Activity(
            caller_index=row[0],
            counts=MemberCounts(row[1], row[2], row[3]),
            since_dismissal=MemberCounts(row[4], row[5], row[6]),
            first_seen=row[7],
            last_seen=row[8],
            last3=row[9],
        )
        for row in session.execute(stmt)
    ]


@dataclass
class Recount:
    """What one count changed: the ids of the signals raised (to alert on)."""

    raised: list[int]
    updated: int = 0
    dropped: int = 0


def recount(
    session: Session, rules: SignalRules, now: datetime | None = None, callers: Sequence[str] | None = None
) -> Recount:
    """Count again and bring the signals in line: every caller (the periodic
    job) or only ``callers`` (after a block, decline or report)."""
    now = now or utcnow()
    result = Recount(raised=[])
    batch = callers is None and session.get_bind().dialect.name == "postgresql"
    if batch:
        # The whole count is a batch job's, not a webhook's: the engines'
        # 5-second statement timeout (storage/db.py) is for requests.
        session.execute(text(f"SET LOCAL statement_timeout = {WHOLE_COUNT_TIMEOUT_MS}"))
        # Room to group a week of calls by caller and member in memory: with
        # the default 4 MB the grouping and its sort spill to disk.
        session.execute(text(f"SET LOCAL work_mem = '{WHOLE_COUNT_WORK_MEM}'"))
    if callers is not None:
        for start in range(0, len(callers), CHUNK):
            _apply(session, rules, now, list(callers[start : start + CHUNK]), result)
    else:
        _apply(session, rules, now, None, result)
    if batch and len(result.raised) + result.dropped >= ANALYZE_AFTER:
        # The console's keyset page is planned from the table's statistics:
        # stale ones (10,000 new rows still counted as none) make it sort
        # the whole list instead of reading 50 rows down its index.
        session.execute(text("ANALYZE risk_signals"))
    return result


@dataclass(frozen=True)
class _Known:
    """What a count needs of a caller's signal: never the whole row."""

    id: int
    status: SignalStatus
    last3: str | None


def _apply(
    session: Session, rules: SignalRules, now: datetime, callers: list[str] | None, result: Recount
) -> None:
    """Decide each counted caller's change, then write them as three batches
    (new rows, changed rows, rows dropped): statements sent as one pipeline
    each, not a unit of work over 10,000 objects (BENCHMARKS.md)."""
    found = count_activity(session, rules, now, callers)
    known = _signals_of(session, [a.caller_index for a in found])
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    gone_ids: list[int] = []
    for act in found:
        signal = known.get(act.caller_index)
        change = decide(signal.status if signal else None, act.counts, act.since_dismissal, rules)
        if change is Change.NOTHING:
            continue
        if change is Change.DROP:
            gone_ids.extend([signal.id] if signal is not None else [])
            continue
        row = _counted(act, rules, now, signal)
        if change is Change.RAISE:
            row.update(_RAISED, raised_at=now)
        if signal is None:
            new.append({"caller_index": act.caller_index, **row})
        elif change is Change.RAISE:
            changed.append({"id": signal.id, **row})
            result.raised.append(signal.id)
        else:
            changed.append({"id": signal.id, **row})
            result.updated += 1
    if changed:
        session.execute(update(RiskSignal), changed)
    if new:
        session.execute(insert(RiskSignal), new)
        result.raised.extend(_ids_of(session, [row["caller_index"] for row in new]))
    for start in range(0, len(gone_ids), CHUNK):
        session.execute(delete(RiskSignal).where(RiskSignal.id.in_(gone_ids[start : start + CHUNK])))
    result.dropped += len(gone_ids)
    # A signal whose caller has no activity left in any window was not
    # counted at all: nothing is left to show.
    gone = delete(RiskSignal).where(RiskSignal.counted_at < now)
    if callers is not None:
        gone = gone.where(RiskSignal.caller_index.in_(callers))
    dropped = session.execute(gone.execution_options(synchronize_session=False))
    result.dropped += int(getattr(dropped, "rowcount", 0) or 0)


# A signal raised (new, or again after a dismissal): open, any dismissal forgotten.
_RAISED: dict[str, Any] = {
    "status": SignalStatus.OPEN,
    "dismissed_at": None,
    "dismissed_by_staff_id": None,
    "dismiss_reason": None,
}


def _signals_of(session: Session, callers: list[str]) -> dict[str, _Known]:
    found: dict[str, _Known] = {}
    for start in range(0, len(callers), CHUNK):
        chunk = callers[start : start + CHUNK]
        rows = session.execute(
            select(RiskSignal.caller_index, RiskSignal.id, RiskSignal.status, RiskSignal.caller_last3).where(
                RiskSignal.caller_index.in_(chunk)
            )
        )
        for caller, signal_id, status, last3 in rows:
            found[caller] = _Known(signal_id, SignalStatus(status), last3)
    return found


def _ids_of(session: Session, callers: list[str]) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(callers), CHUNK):
        chunk = callers[start : start + CHUNK]
        ids.extend(session.scalars(select(RiskSignal.id).where(RiskSignal.caller_index.in_(chunk))))
    return ids


def _counted(act: Activity, rules: SignalRules, now: datetime, signal: _Known | None) -> dict[str, Any]:
    """A signal's columns as this count finds them."""
    return {
        "caller_last3": act.last3 or (signal.last3 if signal else None),
        "rules": ",".join(rule_fired.value for rule_fired in rules_fired(act.counts, rules)),
        "reached_members": act.counts.reached,
        "blocked_members": act.counts.blocked,
        "reported_members": act.counts.reported,
        "first_seen": act.first_seen,
        "last_seen": act.last_seen,
        "counted_at": now,
    }


# --- what triggers a count ----------------------------------------------------


def caller_of(session: Session, source: str, row_id: int) -> str | None:
    """The caller index behind a decline (a call), a block or a report; None
    when the row is gone or names nobody (withheld, erased)."""
    column = {"call": Call.other_party_index, "block": Block.caller_index, "report": Report.caller_index}
    if source not in column:
        raise ValueError(f"unknown signal source {source!r}")
    model = column[source].class_
    return session.scalar(select(column[source]).where(model.id == row_id))


# --- the console ----------------------------------------------------------------


# Which signals a page lists.
NEW, WARNED, DISMISSED = "new", "warned", "dismissed"
VIEWS = (NEW, WARNED, DISMISSED)


def _live(now: datetime) -> ColumnElement[bool]:
    return or_(CallerWarning.expires_at.is_(None), CallerWarning.expires_at > now)


def _under_warning(now: datetime) -> ColumnElement[bool]:
    return exists().where(CallerWarning.caller_index == RiskSignal.caller_index, _live(now))


def _in_view(view: str, now: datetime) -> ColumnElement[bool]:
    """A caller under a live warning is shown as such, whatever its status."""
    warned = _under_warning(now)
    if view == WARNED:
        return warned
    status = SignalStatus.DISMISSED if view == DISMISSED else SignalStatus.OPEN
    return and_(RiskSignal.status == status, ~warned)


def signals_page(
    session: Session, view: str, after: int | None, limit: int, now: datetime | None = None
) -> list[RiskSignal]:
    """One page of ``view``, latest activity first, keyset-paged after the
    signal ``after`` (a cursor that has since gone starts from the top)."""
    now = now or utcnow()
    stmt = select(RiskSignal).where(_in_view(view, now))
    cursor = session.get(RiskSignal, after) if after is not None else None
    if cursor is not None:
        stmt = stmt.where(tuple_(RiskSignal.last_seen, RiskSignal.id) < (cursor.last_seen, cursor.id))
    return list(
        session.scalars(stmt.order_by(RiskSignal.last_seen.desc(), RiskSignal.id.desc()).limit(limit))
    )


def view_counts(session: Session, now: datetime | None = None) -> dict[str, int]:
    """How many signals each list holds, in one pass over the signals joined
    once to the callers under a live warning (an EXISTS per list and row
    cost a page of 10,000 signals tens of milliseconds)."""
    now = now or utcnow()
    live = select(CallerWarning.caller_index).where(_live(now)).distinct().subquery("live")
    warned = live.c.caller_index.is_not(None)

    def unwarned(status: SignalStatus) -> Any:
        return func.count().filter(and_(RiskSignal.status == status, ~warned))

    row = session.execute(
        select(unwarned(SignalStatus.OPEN), func.count().filter(warned), unwarned(SignalStatus.DISMISSED))
        .select_from(RiskSignal)
        .outerjoin(live, live.c.caller_index == RiskSignal.caller_index)
    ).one()
    return {view: int(count or 0) for view, count in zip(VIEWS, row, strict=True)}


def report_categories(session: Session, callers: Sequence[str]) -> dict[str, list[str]]:
    """The categories of the reports still linked to each caller."""
    found: dict[str, list[str]] = {}
    if not callers:
        return found
    rows = session.execute(
        select(Report.caller_index, Report.category)
        .where(Report.caller_index.in_(list(callers)), Report.category.is_not(None))
        .distinct()
        .order_by(Report.caller_index, Report.category)
    )
    for caller, category in rows:
        if caller is not None and category is not None:
            found.setdefault(caller, []).append(category)
    return found


def dismiss(
    session: Session, signal: RiskSignal, *, staff_id: int, reason: str, now: datetime | None = None
) -> None:
    """Staff judged it nothing: it stays dismissed until activity after now
    crosses a threshold by itself (``callflows.signals.decide``)."""
    clean = sanitise_summary(reason)
    if not clean:
        raise ValueError("the reason is empty")
    signal.status = SignalStatus.DISMISSED
    signal.dismissed_at = now or utcnow()
    signal.dismissed_by_staff_id = staff_id
    signal.dismiss_reason = clean
    session.flush()


def warn(
    session: Session,
    signal: RiskSignal,
    *,
    staff_id: int,
    category: str,
    summary: str,
    expires_at: datetime | None = None,
) -> CallerWarning:
    """Turn the signal into a warning about its caller (by blind index), which
    every member then hears at ring time and in the menu's warnings."""
    warning = repo.add_warning(
        session,
        caller_index=signal.caller_index,
        category=category,
        summary=summary,
        expires_at=expires_at,
        staff_id=staff_id,
    )
    signal.warning_id = warning.id
    session.flush()
    return warning


def signal_of_warnings(session: Session, warning_ids: Sequence[int]) -> dict[int, int]:
    """warning id -> the signal it was made from, for the warnings that were."""
    if not warning_ids:
        return {}
    rows = session.execute(
        select(RiskSignal.warning_id, RiskSignal.id).where(RiskSignal.warning_id.in_(list(warning_ids)))
    )
    return {warning_id: signal_id for warning_id, signal_id in rows if warning_id is not None}


# --- alerts -------------------------------------------------------------------

ALERT_EVERY = timedelta(days=1)


def _alert_due(now: datetime) -> ColumnElement[bool]:
    """An alert is due for a signal that is open, raised since the last alert
    about its caller, with no alert about that caller in the last day, and
    whose caller is not under a live warning (staff have decided already)."""
    return and_(
        RiskSignal.status == SignalStatus.OPEN,
        or_(
            RiskSignal.alerted_at.is_(None),
            and_(RiskSignal.alerted_at < RiskSignal.raised_at, RiskSignal.alerted_at <= now - ALERT_EVERY),
        ),
        ~_under_warning(now),
    )


def alerts_due(session: Session, now: datetime | None = None) -> bool:
    """Whether any signal waits for an alert (the periodic count asks, so a
    signal raised again too soon after its last alert is mailed a day on)."""
    return bool(session.scalar(select(exists().where(_alert_due(now or utcnow())))))


def claim_due_alerts(session: Session, now: datetime | None = None) -> list[RiskSignal]:
    """Every signal an alert is due for, locked for this transaction (two
    runs at once never mail the same signal), first raised first."""
    return list(
        session.scalars(
            select(RiskSignal)
            .where(_alert_due(now or utcnow()))
            .order_by(RiskSignal.raised_at, RiskSignal.id)
            .with_for_update(skip_locked=True)
        )
    )


def alert_recipients(session: Session) -> list[str]:
    """Who hears of new signals: the staff on call, as for check-in alarms;
    when nobody is on call, every active caseworker and admin (both handle
    signals), so no signal goes unannounced."""
    return on_call_emails(session)
