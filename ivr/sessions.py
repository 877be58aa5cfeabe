"""Cookie sessions for the staff console only.

Twilio's webhooks carry no cookie and must never be answered with one, yet
Flask opens a signed-cookie session for every request, which was a
measurable part of an inbound call's CPU (BENCHMARKS.md, "Profile"). Under
the Twilio-facing prefixes the session is Flask's null session: nothing is
read from a cookie and nothing is written back.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

TWILIO_PREFIXES = ("/voice/", "/sms/")


class StaffSessions(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(TWILIO_PREFIXES):
            return None  # Flask substitutes its null session
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    app.session_interface = StaffSessions()
