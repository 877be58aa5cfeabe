"""Risk signals: when the call log says a caller is a risk to many members.

The rules are decided here, once, on plain counts; ``storage.signals``
counts (over blind indexes only, never a number) and ``worker.signals``
runs the counting on a schedule and after each block, decline or report.

A signal counts *distinct members*, never calls: one member rung fifty
times is one member's business (they can block); three members rung once
each is a pattern nobody but the scheme can see.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class Rule(enum.StrEnum):
    """Why a caller is a signal; the values are stored in ``risk_signals.rules``."""

    # Phoned at least N distinct members in the window.
    REACHED = "reached"
    # Declined or blocked by at least M distinct members.
    BLOCKED = "blocked"
    # The linked last caller of reports by at least K distinct members.
    REPORTED = "reported"


class SignalStatus(enum.StrEnum):
    OPEN = "open"
    # Staff looked and decided it is nothing; it stays so until activity
    # *after* the dismissal crosses a threshold on its own.
    DISMISSED = "dismissed"


RULE_WORDS: dict[Rule, str] = {
    Rule.REACHED: "phoned many members",
    Rule.BLOCKED: "declined or blocked by several members",
    Rule.REPORTED: "named by several members' reports",
}

# A signal is about several members: one member's calls, blocks or reports
# are already theirs to act on (and a report already reaches a caseworker).
MIN_MEMBERS = 2


@dataclass(frozen=True)
class Threshold:
    """At least ``members`` distinct members within the last ``days`` days."""

    members: int
    days: int


@dataclass(frozen=True)
class SignalRules:
    """The three thresholds (settings ``SIGNAL_*``; docs/operations.md, Settings)."""

    reached: Threshold = Threshold(3, 7)
    blocked: Threshold = Threshold(2, 30)
    reported: Threshold = Threshold(2, 90)

    def of(self, rule: Rule) -> Threshold:
        return {Rule.REACHED: self.reached, Rule.BLOCKED: self.blocked, Rule.REPORTED: self.reported}[rule]

    def window_start(self, rule: Rule, now: datetime) -> datetime:
        return now - timedelta(days=self.of(rule).days)

    def longest_window_start(self, now: datetime) -> datetime:
        return min(self.window_start(rule, now) for rule in Rule)

    def limited_to(self, retention_days: int) -> SignalRules:
        """The same rules with no window longer than ``retention_days``: what
        retention has deleted cannot be counted, and must not be pretended."""

        def clip(t: Threshold) -> Threshold:
            return Threshold(t.members, min(t.days, retention_days))

        return SignalRules(clip(self.reached), clip(self.blocked), clip(self.reported))


@dataclass(frozen=True)
class MemberCounts:
    """Distinct members per rule, each within its own window."""

    reached: int = 0
    blocked: int = 0
    reported: int = 0

    def of(self, rule: Rule) -> int:
        return {Rule.REACHED: self.reached, Rule.BLOCKED: self.blocked, Rule.REPORTED: self.reported}[rule]

    @property
    def any(self) -> bool:
        return bool(self.reached or self.blocked or self.reported)


def rules_fired(counts: MemberCounts, rules: SignalRules) -> list[Rule]:
    """The rules whose threshold ``counts`` reach, in the order of ``Rule``."""
    return [rule for rule in Rule if counts.of(rule) >= rules.of(rule).members]


class Change(enum.Enum):
    """What one computation does to a caller's signal."""

    NOTHING = "nothing"
    RAISE = "raise"  # a new signal, or a dismissed one raised again: alert staff
    UPDATE = "update"  # still a signal (or still dismissed): new counts
    DROP = "drop"  # nothing left to show: the row goes


def decide(
    status: SignalStatus | None,
    counts: MemberCounts,
    since_dismissal: MemberCounts,
    rules: SignalRules,
) -> Change:
    """What happens to a caller's signal, given its current ``status`` (None:
    no signal yet), the counts over the windows, and — for a dismissed one —
    the counts of activity after it was dismissed."""
    fired = rules_fired(counts, rules)
    if status is None:
        return Change.RAISE if fired else Change.NOTHING
    if status is SignalStatus.OPEN:
        return Change.UPDATE if fired else Change.DROP
    # Dismissed: only new activity that crosses a threshold by itself raises
    # it again; old activity that staff have already judged never does.
    if rules_fired(since_dismissal, rules):
        return Change.RAISE
    # Kept while anything is left in the windows, so activity ageing out
    # cannot reset the judgement; once nothing is, a fresh start is fair.
    return Change.UPDATE if counts.any else Change.DROP
