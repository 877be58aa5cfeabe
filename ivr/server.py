"""Hooks for the gunicorn web server (loaded by ``gunicorn.conf.py`` at the
repository root, which gunicorn reads from its working directory)."""

from __future__ import annotations

import gc
import os
import tempfile
from typing import Any

METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def on_starting(_server: Any) -> None:
    """Give the workers one fresh directory for their metrics (core/metrics.py),
    unless the operator named one: each worker writes its counters there and
    a scrape, whichever worker answers it, sums them all. Set here, in the
    master before any worker starts, because prometheus_client reads it
    once, when first imported."""
    if not os.environ.get(METRICS_DIR):
        os.environ[METRICS_DIR] = tempfile.mkdtemp(prefix="safety-metrics-")


def post_worker_init(worker: Any) -> None:
    """Start the embedded schedule (ivr/schedule.py), then take what the app
    allocated at start-up out of the garbage collector's scans.

    Modules, the SQLAlchemy metadata and cached statements, the Flask app:
    about 130,000 objects that live as long as the worker. Every full
    collection scanned them all, pausing the whole process — every thread's
    webhook — for about 65 ms, every few seconds under load: the slowest
    webhooks (BENCHMARKS.md, "Profile"). Frozen, they are left alone; what a
    request allocates is still collected as before.
    """
    from ivr.schedule import start_schedule

    app = getattr(worker, "wsgi", None)
    if app is not None:
        start_schedule(app)
    gc.freeze()
