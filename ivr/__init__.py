"""Safety Number: the Flask app answering Twilio's webhooks.

``create_app`` builds everything; there is no module-level app.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from ivr.exception_log import SafetyFlask
from ivr.settings import Settings, load_settings
from worker import services as worker_services
from worker.services import Services, build_services

__all__ = ["create_app", "services_of"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides the environment (tests use it).

    A ``database`` entry (a ``storage.db.Database``) replaces the engine the
    settings would create; tests use it to run inside one transaction. An
    ``instance_path`` entry (or ``SAFETY_INSTANCE_PATH``) moves the instance
    folder, where development secrets, SQLite and recordings live.
    """
    overrides = dict(config or {})
    database = overrides.pop("database", None)
    app = SafetyFlask(
        __name__,
        instance_relative_config=True,
        instance_path=overrides.pop("instance_path", None) or os.environ.get("SAFETY_INSTANCE_PATH"),
    )
    settings: Settings = load_settings(os.environ, app.instance_path, overrides)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        MAX_CONTENT_LENGTH=64 * 1024,
        TESTING=bool(overrides.get("TESTING", False)),
    )
    services = build_services(settings, db=database)
    app.extensions["safety"] = services
    worker_services.install(services)
    _quiet_third_party_loggers()

    from ivr import cli, converters, health, hsts, menu, proxies, requestdb, sessions, sms, staff, voice

    proxies.init_app(app, settings.trusted_proxies)
    hsts.init_app(app, settings.production)
    converters.init_app(app)
    requestdb.init_app(app)
    sessions.init_app(app)
    for blueprint in (health.bp, voice.bp, menu.bp, sms.bp, staff.bp):
        app.register_blueprint(blueprint)
    staff.init_app(app)
    cli.register(app)
    return app


def services_of(app: Flask) -> Services:
    services: Services = app.extensions["safety"]
    return services


def _quiet_third_party_loggers() -> None:
    # Werkzeug's access log prints full URLs and query strings; Twilio's HTTP
    # client logs request bodies at DEBUG. Neither may reach our logs with a
    # phone number in them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
