"""``/favicon.ico``: browsers ask for it on every console page; a 404 there
fills the log with noise and shows a broken icon in the tab."""

from __future__ import annotations

from flask import Blueprint, current_app, send_from_directory
from werkzeug.wrappers import Response

bp = Blueprint("favicon", __name__)

# The icon never changes between releases often enough to matter.
ONE_DAY = 86400


@bp.get("/favicon.ico")
def favicon() -> Response:
    """The console's icon, cached for a day."""
    assert current_app.static_folder is not None
    return send_from_directory(
        current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=ONE_DAY
    )
