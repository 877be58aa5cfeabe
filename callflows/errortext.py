"""What an exception may say in a log: where it happened, never what it held.

An exception's message can quote the data it choked on. A database error's
does: psycopg's text carries PostgreSQL's DETAIL (``Key (phone_index)=(…)
already exists``) and SQLAlchemy appends the statement's parameters — a
member's name, encrypted phone, blind index and PIN hash (issue 12). So logs
get the stack (file, line, function and source line, which are code), each
exception's type and, for database errors, the SQLSTATE and the statement
with its placeholders; never a message. Only this project's domain errors
keep theirs: callflows/errors.py promises they name no person or number.

No imports of SQLAlchemy or Flask: the attributes are read by name, so the
web app and the worker share this.
"""

from __future__ import annotations

import traceback

from callflows.errors import SafetyNumberError

# How much of a failing statement's SQL to show (placeholders only, no values).
STATEMENT_CHARS = 300
# How many chained exceptions (``raise … from``, or raised while handling) to show.
CHAIN_LIMIT = 5


def describe(exc: BaseException) -> str:
    """One line naming the exception without its message."""
    kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
    if isinstance(exc, SafetyNumberError):
        return f"{kind}: {exc}"
    parts = [kind]
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        parts.append(f"SQLSTATE {sqlstate}")
    statement = getattr(exc, "statement", None)
    if isinstance(statement, str):
        parts.append("statement: " + " ".join(statement.split())[:STATEMENT_CHARS])
    return " | ".join(parts)


def safe_traceback(exc: BaseException) -> str:
    """A traceback like Python's, each exception described by :func:`describe`."""
    chain: list[tuple[BaseException, str]] = []
    current: BaseException | None = exc
    link = ""
    while current is not None and len(chain) < CHAIN_LIMIT:
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "The above exception was the direct cause of:"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, "During handling of the above exception, another occurred:"
        else:
            current = None
    blocks = []
    for position, (item, _) in enumerate(reversed(chain)):
        frames = "".join(traceback.format_list(traceback.extract_tb(item.__traceback__)))
        block = f"Traceback (most recent call last):\n{frames}{describe(item)}"
        if position:
            block = f"{chain[len(chain) - position][1]}\n\n{block}"
        blocks.append(block)
    return "\n\n".join(blocks)
