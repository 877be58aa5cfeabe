"""A local stand-in for Twilio: places calls and texts against the app, offline.

- :mod:`.engine` — the simulator: plays TwiML as Twilio does, rings dialled
  phones (whisper before bridging), fires status and recording callbacks;
- :mod:`.twiml_schema` — what Twilio accepts, and a strict parser;
- :mod:`.transport` — signed webhooks, in-process or over HTTP;
- :mod:`.keypad` — what people press (scripts or prompts);
- :mod:`.transcript` — the readable, number-masked record of a call;
- :mod:`.audio` — the short WAV a ``<Record>`` produces;
- :mod:`.fake_twilio` — Twilio's REST and media API on loopback;
- :mod:`.harness` — a simulator in front of an app, running queued jobs;
- :mod:`.scenarios` — the canonical journeys as data, and their runner;
- :mod:`.console` — what a caseworker then sees in the staff console;
- :mod:`.cli` — ``flask --app ivr simulate call|sms``;
- :mod:`.demo` — ``flask --app ivr demo``: every scenario, then the console served;
- :mod:`.errors` — what the simulator raises (none of it the service's own errors).

The web app (:mod:`ivr`) never imports this package: ``simulate`` and ``demo``
join the ``flask`` command through the ``flask.commands`` entry points of
setup.cfg.
"""
