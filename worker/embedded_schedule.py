"""The periodic jobs in the embedded mode (no Redis): run by the web processes.

Without Redis there is no RQ scheduler and no worker, yet events not done
must be run again (the events sweep), abandoned reports handed off and,
above all, retention applied (callers' numbers must not be kept forever). Each web process runs this
schedule in a daemon thread: every ``tick_seconds`` it looks at the current
slot of each periodic job (the slots of worker/schedule.py, aligned to the
epoch) and runs the slot only if its row in ``periodic_runs`` is claimed
here (storage/periodic_runs.py), so however many processes run, each slot
runs once. A process that starts after a slot began still runs it if no
one has: retention runs on the day even if nothing was up at midnight.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from core.queue import JOBS, resolve
from core.services import Services, bound
from storage import periodic_runs

log = logging.getLogger(__name__)

# A claimed slot not finished within this long (a process died mid-run, or
# the job failed) may be claimed again; never longer than the period.
MAX_LEASE = timedelta(minutes=15)
# Rows of slots older than this are deleted (they only record that a slot ran).
KEEP_ROWS = timedelta(days=7)


def current_slot(period: int, now: float) -> int:
    """The start of the slot ``now`` falls in (epoch seconds)."""
    return int(now) // period * period


class EmbeddedSchedule:
    """Runs the periodic jobs of ``periods`` (job name -> seconds) for one process."""

    def __init__(self, services: Services, periods: Mapping[str, int], tick_seconds: float) -> None:
        unknown = set(periods) - set(JOBS)
        if unknown:
            raise KeyError(f"unknown periodic jobs: {sorted(unknown)}")
        self.services = services
        self.periods = dict(periods)
        self.tick_seconds = tick_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    def run_due(self, now: float | None = None) -> list[tuple[str, int]]:
        """Run every job whose current slot no process has run; the (job, slot) pairs run here."""
        now = self.services.settings.clock() if now is None else now
        ran = []
        for name, period in self.periods.items():
            slot = current_slot(period, now)
            if self._run_slot(name, slot, period, now):
                ran.append((name, slot))
        return ran

    def _run_slot(self, name: str, slot: int, period: int, now: float) -> bool:
        at = datetime.fromtimestamp(now, UTC).replace(tzinfo=None)
        lease = min(MAX_LEASE, timedelta(seconds=period))
        with self.services.db.session() as session:
            if not periodic_runs.claim_slot(session, name, slot, at, lease):
                return False
        log.info("periodic %s: slot %d runs in this process", name, slot)
        try:
            with bound(self.services):
                resolve(JOBS[name])()
        except Exception as exc:
            # Left unfinished: another tick claims it again once the lease
            # is over. The type only: a database error's text quotes its row.
            log.error("periodic %s: slot %d failed (%s); retried later", name, slot, type(exc).__name__)
            return True
        with self.services.db.session() as session:
            periodic_runs.finish_slot(session, name, slot, at)
            periodic_runs.forget_before(session, at - KEEP_ROWS)
        return True

    def start(self) -> None:
        """Run the schedule in a daemon thread of this process (once, however
        many request threads call this at once)."""
        if self._thread is not None:
            return
        with self._starting:
            if self._thread is None:
                thread = threading.Thread(target=self._loop, name="embedded-schedule", daemon=True)
                thread.start()
                self._thread = thread
                log.info("started: %s every %.2f s", ", ".join(sorted(self.periods)), self.tick_seconds)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
            except Exception as exc:  # the database is down: try again next tick
                log.error("embedded schedule: tick failed (%s)", type(exc).__name__)
            self._stop.wait(self.tick_seconds)
