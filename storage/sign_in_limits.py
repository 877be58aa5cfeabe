"""The counters that guard staff sign-in, each changed by one atomic statement.

A check of a password or code is *reserved* before the slow hash runs, and the
reservation is committed at once; so of N parallel attempts no more than the
limit ever reach the hash, on one web process or many (docs/architecture.md:
counters that guard access or money change atomically).

- Per account: ``failed_logins`` counts checks taken since the last lock or
  success. ``reserve_check`` takes one only while the account is not locked;
  the check that reaches ``max_attempts`` locks the account in the same
  statement (the count starts again, ``callflows.lockout``'s policy), so no
  check can be lost between a count and a lock. A right password or code
  clears the lock again (``_start_session``).
- Per client address: attempts in a sliding window (``callflows.sliding_window``:
  this fixed window's count plus the last one's, weighted), both counts on
  one row per address, taken by one ``INSERT … ON CONFLICT … RETURNING``
  before anything else happens. Parallel attempts queue on that row, so a
  burst straddling a window's edge gets no more than the limit in all (with
  fixed windows alone it got the limit twice). A successful sign-in gives
  its attempt back, so only failures add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Table, case, delete, or_, select, update
from sqlalchemy.orm import Session

from callflows.lockout import LockoutPolicy
from callflows.sliding_window import SlidingWindow, window_start
from storage.models import SignInWindow, Staff
from storage.upsert import dialect_insert

# Addresses are at most 45 characters (IPv6 with an IPv4 tail); longer is not an address.
MAX_CLIENT_LENGTH = 64

# The counters are taken on a connection whose statements commit on their
# own (``Database.standalone_connection``), so a row is locked only while
# PostgreSQL runs the statement: with a separate COMMIT, a web process busy
# with other threads held the lock until it got round to sending it, and 40
# parallel attempts queued past the statement timeout. A session works too.
Executor = Session | Connection


def _dialect_name(executor: Executor) -> str:
    bind = executor if isinstance(executor, Connection) else executor.get_bind()
    return bind.dialect.name


@dataclass(frozen=True, slots=True)
class Reserved:
    """A check the account allowed at ``at``; ``locked_now`` when taking it locked the account."""

    locked_now: bool
    at: datetime


def reserve_check(session: Executor, staff_id: int, policy: LockoutPolicy, now: datetime) -> Reserved | None:
    """Take one of the account's checks, or None when the account is locked.

    One UPDATE … RETURNING: of N parallel attempts at most ``max_attempts``
    get a check before the lock holds. The SQL is the lockout policy's
    ``after_failure``, counted before the check (tests/test_sign_in_limits.py
    holds the two equal)."""
    reaches_limit = Staff.failed_logins + 1 >= policy.max_attempts
    locked_now = session.execute(
        update(Staff)
        .where(Staff.id == staff_id, or_(Staff.locked_until.is_(None), Staff.locked_until <= now))
        .values(
            failed_logins=case((reaches_limit, 0), else_=Staff.failed_logins + 1),
            locked_until=case((reaches_limit, now + policy.duration), else_=Staff.locked_until),
        )
        .returning(Staff.locked_until.is_not(None) & (Staff.failed_logins == 0))
        .execution_options(synchronize_session=False)
    ).scalar()
    return None if locked_now is None else Reserved(bool(locked_now), now)


def give_back_check(session: Session, staff_id: int, reserved: Reserved, policy: LockoutPolicy) -> None:
    """The password was right and a TOTP code is still to come: that check
    was no failure. Undo its count, or the lock it took (only that lock)."""
    if reserved.locked_now:
        statement = (
            update(Staff)
            .where(Staff.id == staff_id, Staff.locked_until == reserved.at + policy.duration)
            .values(failed_logins=policy.max_attempts - 1, locked_until=None)
        )
    else:
        statement = (
            update(Staff)
            .where(Staff.id == staff_id, Staff.failed_logins > 0)
            .values(failed_logins=Staff.failed_logins - 1)
        )
    session.execute(statement.execution_options(synchronize_session=False))


@dataclass(frozen=True, slots=True)
class CountedAttempt:
    """An attempt counted from a client address: the fixed window it went into."""

    window_start: datetime
    window: timedelta


def take_client_attempt(
    session: Executor, client: str, now: datetime, *, limit: int, window: timedelta
) -> CountedAttempt | None:
    """Count one attempt from ``client``; where it was counted, or None when
    it is over ``limit`` in the sliding window ending ``now`` (then nothing
    may be checked). Refused attempts count too: an address that keeps
    trying stays refused."""
    policy = SlidingWindow(limit, window)
    start = policy.start_of(now)
    table: Table = SignInWindow.__table__  # type: ignore[assignment]
    insert = dialect_insert(_dialect_name(session), table).values(
        client=client[:MAX_CLIENT_LENGTH], window_start=start, attempts=1, previous_attempts=0
    )
    kept = table.c.window_start
    # This window, or a clock a little behind another process's: count it in
    # the row's window. The next window: roll the row on. Later: start afresh.
    same = insert.excluded.window_start <= kept
    rolled = kept == start - window
    counted = session.execute(
        insert.on_conflict_do_update(
            index_elements=[table.c.client],
            set_={
                "window_start": case((same, kept), else_=insert.excluded.window_start),
                "attempts": case((same, table.c.attempts + 1), else_=1),
                "previous_attempts": case(
                    (same, table.c.previous_attempts), (rolled, table.c.attempts), else_=0
                ),
            },
        ).returning(table.c.window_start, table.c.attempts, table.c.previous_attempts)
    ).one()
    if not policy.allows(counted.attempts, counted.previous_attempts, counted.window_start, now):
        return None
    return CountedAttempt(counted.window_start, window)


def forget_finished_windows(session: Executor, now: datetime, window: timedelta) -> None:
    """Delete the rows of addresses whose two windows are both over: they can
    never count again. Run after the attempt is committed, so it never
    lengthens the time an address's row is locked. A row another request is
    rolling on right now is skipped (``SKIP LOCKED``): waiting for it could
    deadlock with that request doing the same for this one."""
    finished = (
        select(SignInWindow.client)
        .where(SignInWindow.window_start < window_start(now, window) - window)
        .with_for_update(skip_locked=True)
    )
    session.execute(
        delete(SignInWindow)
        .where(SignInWindow.client.in_(finished))
        .execution_options(synchronize_session=False)
    )


def give_back_client_attempt(session: Session, client: str, attempt: CountedAttempt) -> None:
    """A sign-in succeeded: its attempt was no failure. It is taken back
    from the window it went into, which the row may since have rolled into
    its previous one."""
    row = SignInWindow
    for column, row_start in (
        (row.attempts, attempt.window_start),
        (row.previous_attempts, attempt.window_start + attempt.window),
    ):
        session.execute(
            update(row)
            .where(row.client == client[:MAX_CLIENT_LENGTH], row.window_start == row_start, column > 0)
            .values({column: column - 1})
            .execution_options(synchronize_session=False)
        )
