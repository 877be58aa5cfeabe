"""``GET /healthz``: the state of the database and the queue, as JSON."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from core.queue import RedisQueue
from ivr.services import current_services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Report whether the database and the queue answer; 503 if the database does not."""
    services = current_services()
    state = {"database": "ok", "queue": "inline"}
    try:
        with services.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "down"
        state["database"] = f"down: {type(exc).__name__}"
    if isinstance(services.queue, RedisQueue):
        try:
            services.queue.redis.ping()
            state["queue"] = "ok"
        except Exception as exc:
            state["queue"] = f"down (events wait in the database): {type(exc).__name__}"
    status = 200 if state["database"] == "ok" else 503
    return jsonify(state), status
