"""The one way web code reaches the app's services (settings, database, vault, queue)."""

from __future__ import annotations

from flask import Flask, current_app

from core.services import Services

# Key of the app's Services in ``app.extensions`` (set by ``create_app``).
EXTENSION = "safety"


def current_services() -> Services:
    """The services of the app handling this request or CLI command."""
    return services_of(current_app)


def services_of(app: Flask) -> Services:
    """The services ``app`` was built with (launchers and tests, outside a request)."""
    services: Services = app.extensions[EXTENSION]
    return services
