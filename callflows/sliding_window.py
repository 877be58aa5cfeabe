"""A limit on attempts in a sliding window, kept as two fixed windows.

Counting in fixed windows alone lets a burst straddling a window's edge get
twice the limit: the whole limit just before the edge, and all of it again
just after. So the count that decides is this window's attempts plus the
previous window's, weighted by how much of the previous window a window
ending now still covers (the usual two-bucket approximation of a sliding
window): just after the edge the previous window counts in full.

The decision only; ``storage.sign_in_limits`` keeps both counts on one row
per client and changes them in one statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

EPOCH = datetime(1970, 1, 1)
MICROSECOND = timedelta(microseconds=1)


def window_start(now: datetime, length: timedelta) -> datetime:
    """The start of the fixed window of ``length`` that ``now`` falls in
    (windows tile time from the epoch)."""
    return EPOCH + (now - EPOCH) // length * length


@dataclass(frozen=True, slots=True)
class SlidingWindow:
    limit: int
    length: timedelta

    def start_of(self, now: datetime) -> datetime:
        return window_start(now, self.length)

    def allows(self, current: int, previous: int, window_start: datetime, now: datetime) -> bool:
        """Whether an attempt at ``now`` is within the limit, given the counts
        with it included: ``current`` in the window from ``window_start``,
        ``previous`` in the window before."""
        elapsed = min(max(now - window_start, timedelta(0)), self.length)
        # current + previous * (length - elapsed) / length <= limit, in exact integers
        length = self.length // MICROSECOND
        still_covered = (self.length - elapsed) // MICROSECOND
        return current * length + previous * still_covered <= self.limit * length
