"""The gunicorn hook of ivr/server.py, as gunicorn finds it."""

from __future__ import annotations

import gc
import runpy
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def test_gunicorn_freezes_the_apps_start_up_objects_in_each_worker(app: Flask) -> None:
    """Full garbage collections must not rescan the app's long-lived objects
    (each scan paused every thread of a worker for tens of milliseconds)."""
    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert "post_worker_init" in hooks  # gunicorn calls it once the worker loaded the app
    try:
        hooks["post_worker_init"](object())
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # imports, models, the app: all out of the collector's scans
        before = len(gc.get_objects())
        assert before < frozen
    finally:
        gc.unfreeze()


def test_gunicorn_gives_each_worker_its_own_listening_socket() -> None:
    """The kernel then spreads callers' connections evenly over the workers."""
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["reuse_port"] is True
