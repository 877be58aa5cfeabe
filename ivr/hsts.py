"""HTTP Strict Transport Security in production.

Every answer tells the browser to use only https for this host (and its
subdomains) for a year, so a staff member's browser never again sends the
session cookie over plain http, whatever link they follow. Development runs
on plain http and sends nothing.
"""

from __future__ import annotations

from flask import Flask, Response

HSTS = "max-age=31536000; includeSubDomains"


def init_app(app: Flask, production: bool) -> None:
    """Add the header to every response when ``production``."""
    if not production:
        return

    @app.after_request
    def strict_transport_security(response: Response) -> Response:
        response.headers["Strict-Transport-Security"] = HSTS
        return response
