"""URL converters: an ``<int:…>`` path part is ASCII digits only.

Werkzeug's own integer converter matches ``\\d``, which in Python takes the
digits of every script (``/staff/reports/٣`` would open report 3). Installed
in ``create_app`` before any blueprint, it replaces ``int`` for every route;
each route still gives its ``max`` (the id column's range, ``storage.ids``).
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter


class AsciiIntegerConverter(IntegerConverter):
    """Werkzeug's ``int`` converter, matching ASCII digits only."""

    regex = r"[0-9]+"


def init_app(app: Flask) -> None:
    """Use the ASCII converter for every ``<int:…>`` route registered after this."""
    app.url_map.converters["int"] = AsciiIntegerConverter
