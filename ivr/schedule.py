"""The periodic jobs of an embedded deployment (no ``REDIS_URL``) run in the
web processes (worker/embedded_schedule.py).

``init_app`` builds the schedule; :func:`start_schedule` starts it, and only
a process that serves requests calls it: each gunicorn worker once it has
loaded the app (ivr/server.py's ``post_worker_init``: after the fork, which
a thread would not survive) and the demo's server. Not ``create_app``,
which every CLI command also calls: a short command would start jobs and
exit in the middle of them. Tests run ``schedule_of(app).run_due(now)``.
"""

from __future__ import annotations

from flask import Flask

from core.queue import InlineQueue
from core.services import Services
from worker.embedded_schedule import EmbeddedSchedule
from worker.schedule import periods

EXTENSION = "embedded_schedule"


def init_app(app: Flask, services: Services) -> None:
    settings = services.settings
    if isinstance(services.queue, InlineQueue) and settings.embedded_schedule:
        schedule = EmbeddedSchedule(services, periods(settings), settings.schedule_tick_seconds)
        app.extensions[EXTENSION] = schedule


def schedule_of(app: Flask) -> EmbeddedSchedule | None:
    """The app's embedded schedule; None with Redis (RQ's scheduler runs the jobs) or when turned off."""
    schedule: EmbeddedSchedule | None = app.extensions.get(EXTENSION)
    return schedule


def start_schedule(app: Flask) -> None:
    """Start the app's embedded schedule in this process, if it has one."""
    schedule = schedule_of(app)
    if schedule is not None:
        schedule.start()
