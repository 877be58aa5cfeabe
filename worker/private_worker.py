"""RQ's workers, keeping exception messages out of their log and of Redis.

RQ logs a failed job's full traceback and stores it with the job in Redis
(the failed registry). An exception's message can quote what it choked on:
PostgreSQL's quote the offending row (``Key (phone_index)=(…) already
exists``). These workers log and store :func:`callflows.errortext.safe_traceback`
instead — stack, exception types, SQLSTATE and statement — as the web app
does (ivr/exception_log.py). Messages RQ writes itself (a work horse killed,
a job stopped) carry no data and are kept.
"""

from __future__ import annotations

import sys
from typing import Any

from rq import SimpleWorker, Worker
from rq.job import Job
from rq.queue import Queue

from callflows.errortext import describe, safe_traceback


class RedactedError(Exception):
    """Stands in for a failed job's exception: its description, not its message."""


class _PrivateFailures:
    """Mixed into an RQ worker class before it."""

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        """RQ's logging of a failed job (and its exception handlers), told
        only what :func:`describe` says of the exception."""
        _type, exc, tb = exc_info
        if isinstance(exc, BaseException):
            stand_in = RedactedError(describe(exc))
            exc_info = (RedactedError, stand_in.with_traceback(tb), tb)
        super().handle_exception(job, *exc_info)  # type: ignore[misc]

    def handle_job_failure(
        self,
        job: Job,
        queue: Queue,
        started_job_registry: Any = None,
        exc_string: str = "",
    ) -> None:
        """What RQ keeps with the failed job in Redis: the safe traceback of
        the exception being handled, if any (RQ's own messages otherwise)."""
        exc = sys.exc_info()[1]
        if exc is not None:
            exc_string = safe_traceback(exc)
        super().handle_job_failure(  # type: ignore[misc]
            job, queue, started_job_registry=started_job_registry, exc_string=exc_string
        )


class PrivateWorker(_PrivateFailures, Worker):
    """The worker ``python -m worker`` runs: each job in a forked work horse."""


class PrivateSimpleWorker(_PrivateFailures, SimpleWorker):
    """The same, running jobs in its own process (tests, burst runs)."""
