"""``GET /metrics``: Prometheus text for operators (docs/reference.md).

404 while ``METRICS_TOKEN`` is unset (and then no webhook is timed either);
401 without ``Authorization: Bearer <METRICS_TOKEN>``. The token is compared
in constant time. What is shown is core/metrics.py's registry.
"""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, Flask, Response, abort, g, request
from prometheus_client import Histogram

# Importing them registers their gauges.
from core import checkin_metrics, queue_metrics, signal_metrics  # noqa: F401
from core.metrics import CONTENT_TYPE, WEBHOOK_SECONDS, exposition
from core.settings import Settings
from ivr.services import current_services

bp = Blueprint("metrics", __name__)

# The blueprints Twilio posts to: their views are the webhooks timed.
WEBHOOK_BLUEPRINTS = frozenset({"voice", "access", "menu", "sms"})


@bp.get("/metrics")
def metrics() -> Response:
    """The exposition, to a scraper holding the token."""
    token = current_services().settings.metrics_token
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response("a bearer token is required\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"'})
    return Response(exposition(current_services()), content_type=CONTENT_TYPE)


def _start_timer() -> None:
    if request.blueprint in WEBHOOK_BLUEPRINTS:
        g.webhook_started = time.perf_counter()


# Each endpoint's histogram, bound once: ``labels()`` takes a lock and
# builds a key on every call, half the middleware's cost per request
# (BENCHMARKS.md, "Metrics middleware").
_BY_ENDPOINT: dict[str, Histogram] = {}


def _observe(_exc: BaseException | None) -> None:
    started = g.pop("webhook_started", None)
    # The endpoint's name ("voice.incoming") is a fixed vocabulary, unlike
    # the path (never used: a bad path would make a series of its own).
    endpoint = request.endpoint
    if started is None or not endpoint:
        return
    histogram = _BY_ENDPOINT.get(endpoint)
    if histogram is None:
        histogram = _BY_ENDPOINT[endpoint] = WEBHOOK_SECONDS.labels(endpoint)
    histogram.observe(time.perf_counter() - started)


def init_app(app: Flask, settings: Settings) -> None:
    app.register_blueprint(bp)
    if settings.metrics_token:
        app.before_request(_start_timer)
        app.teardown_request(_observe)
