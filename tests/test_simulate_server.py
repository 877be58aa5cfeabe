"""``simulate --server`` against the running demo: the member's incident
report is recorded and stored, not "recording failed" (the recording is left
in the demo's own fake Twilio, where the demo's app fetches it)."""

from __future__ import annotations

import socket
from pathlib import Path

from sqlalchemy import select

from ivr import services_of
from simulator.cli import simulate_cli
from simulator.demo import DEMO_ACCESS_LINE, demo_app, seed_demo
from simulator.fake_twilio import FakeTwilio
from simulator.remote import publish_address
from storage.migrate import upgrade
from storage.models import Report
from tests.support.live_server import serving
from tests.support.suite import SuiteConfig

# The demo member's Safety Number and PIN, option 2 (a report), consent 1.
REPORT = "02079460001#,4821#,2,1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_report_made_with_server_against_the_running_demo_is_stored(tmp_path: Path) -> None:
    suite = SuiteConfig()
    instance = tmp_path / "demo"
    instance.mkdir()
    with FakeTwilio(suite.account_sid, suite.auth_token) as fake:
        port = _free_port()
        app = demo_app(instance, port, fake.base_url, suite.auth_token, suite.account_sid)
        services = services_of(app)
        upgrade(services.db.engine)
        seed_demo(services)
        with serving(app, port=port) as base:
            publish_address(instance, fake.base_url)
            member_reports = ["--from", "020 7946 0123", "--to", DEMO_ACCESS_LINE, "--digits", REPORT]
            result = app.test_cli_runner().invoke(simulate_cli, ["call", *member_reports, "--server", base])
        assert result.exit_code == 0, result.output
        assert "after the tone" in result.output.lower()
        with services.db.session() as s:
            report = s.scalars(select(Report).order_by(Report.id.desc())).first()
            assert report is not None
            assert report.recording_state == "stored", report.recording_error
            assert report.police_consent is True
        # Fetched, then deleted at "Twilio", as the app does with real recordings.
        assert fake.deleted_recordings
    services.db.engine.dispose()
