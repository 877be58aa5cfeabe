"""Safety Number: the Flask app answering Twilio's webhooks.

``create_app`` builds everything; there is no module-level app.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from core.services import build_services
from core.settings import Settings, fallback_problem, load_settings
from ivr.exception_log import SafetyFlask
from ivr.services import EXTENSION, services_of

__all__ = ["create_app", "services_of"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides the environment (tests use it).

    Its keys are settings (environment or field names of
    ``core.settings.Settings``; any other key is an error), plus three of the
    factory's own: ``database`` (a ``storage.db.Database``) replaces the
    engine the settings would create, which tests use to run inside one
    transaction; ``instance_path`` (or ``SAFETY_INSTANCE_PATH``) moves the
    instance folder, where development secrets, SQLite and recordings live;
    ``TESTING`` is Flask's flag.
    """
    overrides = dict(config or {})
    database = overrides.pop("database", None)
    testing = bool(overrides.pop("TESTING", False))
    app = SafetyFlask(
        __name__,
        instance_relative_config=True,
        instance_path=instance_folder(overrides.pop("instance_path", None)),
    )
    settings: Settings = load_settings(os.environ, app.instance_path, overrides)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        MAX_CONTENT_LENGTH=64 * 1024,
        TESTING=testing,
    )
    _warn_about_fallback(settings)
    app.extensions[EXTENSION] = build_services(settings, db=database)
    _quiet_third_party_loggers()

    from ivr import (
        access,
        checkin_call,
        checkin_menu,
        cli,
        converters,
        favicon,
        health,
        hsts,
        menu,
        metrics,
        proxies,
        requestdb,
        schedule,
        sessions,
        sms,
        staff,
        staff_call,
        voice,
    )

    proxies.init_app(app, settings.trusted_proxies)
    hsts.init_app(app, settings.production)
    converters.init_app(app)
    requestdb.init_app(app)
    sessions.init_app(app)
    for blueprint in (
        health.bp,
        favicon.bp,
        voice.bp,
        access.bp,
        menu.bp,
        staff_call.bp,
        checkin_menu.bp,
        checkin_call.bp,
        sms.bp,
        staff.bp,
    ):
        app.register_blueprint(blueprint)
    staff.init_app(app)
    cli.register(app)
    schedule.init_app(app, app.extensions[EXTENSION])
    metrics.init_app(app, settings)
    return app


def instance_folder(given: str | None) -> str | None:
    """The instance folder as an absolute path: ``given``, else
    ``SAFETY_INSTANCE_PATH``, else None (Flask's default). A relative path is
    taken from the working directory, as a shell user means it
    (``SAFETY_INSTANCE_PATH=instance/demo``); Flask itself refuses one."""
    path = given or os.environ.get("SAFETY_INSTANCE_PATH")
    return os.path.abspath(path) if path else None


def _warn_about_fallback(settings: Settings) -> None:
    """In production, say at start-up when the numbers' fallback would go
    down with the app (docs/operations.md, "The fallback document")."""
    problem = fallback_problem(settings)
    if settings.production and problem is not None:
        logging.getLogger(__name__).warning(
            "%s; host `flask --app ivr fallback-twiml` separately and set FALLBACK_URL", problem
        )


def _quiet_third_party_loggers() -> None:
    # Werkzeug's access log prints full URLs and query strings; Twilio's HTTP
    # client logs request bodies at DEBUG. Neither may reach our logs with a
    # phone number in them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
