"""Job functions: top-level, importable by path, taking opaque ids only.

Also the failure hook RQ calls on every failed attempt of every job
(core/queue.py attaches it): once no retry is left it makes the failure
visible where staff look, instead of leaving it only in RQ's failed registry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from core import services
from core.queue import JOBS, RECORD_AND_RUN, RUN_EVENT

log = logging.getLogger(__name__)


def ping(token: str) -> str:
    """A no-op job for health checks and queue benchmarks."""
    services.current()
    return token


def _ingestion_gave_up(args: Sequence[Any]) -> None:
    from worker.recordings import on_final_failure

    on_final_failure(*args)


# dotted job path -> what to do once its event is given up on.
FINAL_FAILURE: dict[str, Callable[[Sequence[Any]], None]] = {
    "worker.recordings.ingest_recording": _ingestion_gave_up,
}


def gave_up(func_name: str, args: Sequence[Any]) -> None:
    """Run the final-failure handler of a job, if it has one."""
    handler = FINAL_FAILURE.get(func_name)
    if handler is not None:
        handler(args)


def job_failed(job: Any, connection: Any, exc_type: Any = None, exc: Any = None, tb: Any = None) -> None:
    """RQ on_failure callback: acts only when this was the last attempt."""
    if job.retries_left:
        return
    # The exception text may come from a library; log its type only.
    error = str(getattr(exc_type, "__name__", exc_type) or "worker lost")
    log.error("job %s (%s) failed for good: %s", job.id, job.func_name, error)
    if job.func_name == RUN_EVENT:
        from worker.events import gave_up_on_event  # it imports this module

        gave_up_on_event(job.args[0], error)
    elif job.func_name == RECORD_AND_RUN:
        # The database never came back for it: only its handler can say so.
        name, _key, *args = job.args
        gave_up(JOBS.get(name, ""), args)
    else:
        gave_up(job.func_name, job.args)
