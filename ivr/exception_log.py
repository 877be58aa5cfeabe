"""The Flask app class, with exception logging that carries no personal data.

Flask's own ``log_exception`` logs the full traceback with every message in
it; a database error's message quotes the statement's parameters and the
row PostgreSQL objected to (issue 12: a NUL byte in a name logged the
member's name, encrypted phone, blind index and PIN hash). This class logs
the request's method and path (ids only, by design of every route) and
:func:`callflows.errortext.safe_traceback`: stack and exception types, no
messages, no form, no query string.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from flask import Flask, request

from callflows.errortext import safe_traceback

ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]


SYNC_CACHE_LIMIT = 512


class SafetyFlask(Flask):
    """Flask, logging unhandled exceptions without their messages."""

    # Flask asks, for the view and every hook of every request, whether it
    # is a coroutine function (``inspect``, several calls each): a fixed
    # answer for a fixed set of functions, so it is remembered (every view
    # and hook here is a plain function; an ``async def`` one is wrapped
    # by Flask as before).
    _sync: dict[Callable[..., Any], Callable[..., Any]]

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        cache = self.__dict__.setdefault("_sync", {})
        found = cache.get(func)
        if found is None:
            found = super().ensure_sync(func)
            if len(cache) < SYNC_CACHE_LIMIT:  # a function made per call is not kept
                cache[func] = found
        return found

    def log_exception(self, exc_info: ExcInfo) -> None:
        """Called by Flask for an unhandled exception (the 500 it answers)."""
        exc = exc_info[1]
        trace = safe_traceback(exc) if exc is not None else "(no exception)"
        self.logger.error("Exception on %s [%s]\n%s", request.path, request.method, trace)
