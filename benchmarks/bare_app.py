"""The baseline: a bare Flask app answering a fixed TwiML string.

Served by gunicorn with exactly the settings of the real app, it measures
what the server, Flask and loopback HTTP cost on their own.
"""

from __future__ import annotations

from flask import Flask, Response

FIXED_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response>'
    '<Say language="en-GB" voice="Polly.Amy">Connecting you.</Say>'
    '<Dial answerOnBridge="true" timeout="20"><Number>+442079460999</Number></Dial>'
    "</Response>"
)


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/voice/incoming")
    def incoming() -> Response:
        """Fixed TwiML, no work at all."""
        return Response(FIXED_TWIML, status=200, mimetype="text/xml")

    return app
