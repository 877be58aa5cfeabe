"""The staff console under ``/staff/``: caseworkers and admins."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")
