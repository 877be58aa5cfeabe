"""Row ids as URLs and forms carry them: ASCII digits within the id column's range.

Every id column is a PostgreSQL ``integer``. ``str.isdigit`` and ``int`` also
take other scripts' digits (``"٣"`` is 3) and ``isdigit`` passes ``"²"``,
which ``int`` then refuses; a number past the column's range makes the
database raise. Reading ids through :func:`parse_id` keeps both away from a
query: what is not an id is refused where it is read, with a 400 or a 404.
"""

from __future__ import annotations

MAX_ID = 2**31 - 1
_ASCII_DIGITS = frozenset("0123456789")
# Ten digits hold MAX_ID; a longer run is refused before int() reads it.
_MAX_ID_DIGITS = len(str(MAX_ID))


def parse_id(text: str, minimum: int = 1) -> int | None:
    """``text`` as an int in ``minimum..MAX_ID`` when it is plain ASCII digits, else None."""
    if not text or len(text) > _MAX_ID_DIGITS or not _ASCII_DIGITS.issuperset(text):
        return None
    value = int(text)
    return value if minimum <= value <= MAX_ID else None
