"""The staff blueprint object, apart from its views so every module can import it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")
