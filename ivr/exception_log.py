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

from types import TracebackType

from flask import Flask, request

from callflows.errortext import safe_traceback

ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]


class SafetyFlask(Flask):
    """Flask, logging unhandled exceptions without their messages."""

    def log_exception(self, exc_info: ExcInfo) -> None:
        """Called by Flask for an unhandled exception (the 500 it answers)."""
        exc = exc_info[1]
        trace = safe_traceback(exc) if exc is not None else "(no exception)"
        self.logger.error("Exception on %s [%s]\n%s", request.path, request.method, trace)
