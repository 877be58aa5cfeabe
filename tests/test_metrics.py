"""``GET /metrics``: the token, the exposition, and no person in any label."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from callflows.status import AlarmKind
from core import metrics
from storage import checkins
from storage.db import Database
from storage.models import Event, Member, RiskSignal, utcnow
from tests.support.people import EnrolledMember
from tests.support.suite import SuiteConfig
from tests.support.twilio import TwilioClient

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "metrics-token-for-tests-0123456789"
CALLER = "+447700900456"
# Label values come from fixed vocabularies: outcome and state names,
# endpoint names, histogram bounds.
SAFE_LABEL = re.compile(r"^([a-z_]+(\.[a-z_]+)?|[0-9.]+|\+Inf)$")


def _scrape(app: Flask, token: str | None = TOKEN) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = app.test_client().get("/metrics", headers=headers)
    assert response.status_code == 200, response.status_code
    assert response.content_type == metrics.CONTENT_TYPE
    return response.get_data(as_text=True)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_is_a_404_without_a_token_configured(make_app: Callable[..., Flask], redis: Redis) -> None:
    app = make_app()
    assert app.test_client().get("/metrics").status_code == 404
    assert app.test_client().get("/metrics", headers={"Authorization": "Bearer x"}).status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN])
def test_metrics_refuses_a_missing_or_wrong_token(
    make_app: Callable[..., Flask], redis: Redis, header: str | None
) -> None:
    app = make_app(METRICS_TOKEN=TOKEN)
    response = app.test_client().get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "safety_" not in response.get_data(as_text=True)


@pytest.mark.usefixtures("empty_events")  # counts events: only this test's
def test_a_scrape_shows_calls_latency_and_queues_and_no_person(
    make_app: Callable[..., Flask],
    redis: Redis,
    db: Database,
    suite: SuiteConfig,
    member: EnrolledMember,
) -> None:
    app = make_app(METRICS_TOKEN=TOKEN)
    twilio = TwilioClient(app.test_client(), suite)
    before = _samples(_scrape(app))
    ring = ("safety_inbound_calls_total", (("outcome", "ring"),))
    timed = ("safety_webhook_duration_seconds_count", (("endpoint", "voice.incoming"),))
    twilio.post("/voice/incoming", CallSid="CA" + "1" * 32, From=CALLER, To=member.line, CallStatus="ringing")
    twilio.post("/voice/incoming", CallSid="CA" + "2" * 32, From=CALLER, To="+442079469999")
    with db.session() as s:
        now = utcnow()
        s.add(Event(job="ping", args=["x"], due_at=now))
        s.add(Event(job="ping", args=["y"], due_at=now, attempts=6, failed_at=now, last_error="X"))
        s.add(RiskSignal(caller_index="i" * 64, first_seen=now, last_seen=now, raised_at=now, counted_at=now))
        checkins.start_checkin(s, s.get_one(Member, member.id), 60, now)
        s.flush()
        late = checkins.start_checkin(s, s.get_one(Member, member.id), 15, now)  # replaces the first
        checkins.raise_alarm(s, late, AlarmKind.MISSED, now)
        checkins.start_checkin(s, s.get_one(Member, member.id), 30, now)
    text = _scrape(app)
    after = _samples(text)
    assert after[ring] == before.get(ring, 0) + 1
    assert after[("safety_inbound_calls_total", (("outcome", "unavailable"),))] >= 1
    assert after[timed] == before.get(timed, 0) + 2
    assert after[("safety_events", (("state", "waiting"),))] == 1
    assert after[("safety_events", (("state", "failed"),))] == 1
    assert after[("safety_risk_signals", (("state", "open"),))] == 1
    assert after[("safety_risk_signals", (("state", "dismissed"),))] == 0
    assert after[("safety_checkins", (("state", "open"),))] == 1
    assert after[("safety_checkins", (("state", "calling"),))] == 0
    assert after[("safety_checkin_alarms", (("state", "open"),))] == 1
    assert ("safety_jobs", (("state", "queued"),)) in after  # Redis configured: RQ's registries
    # No person in any label, nor anywhere in the text.
    ours = {value for name, pairs in after if name.startswith("safety_") for _, value in pairs}
    assert ours and {value for value in ours if not SAFE_LABEL.match(value)} == set()
    # Nor in the library's own (python_info and the like): no run of digits a number or id would be.
    assert [pairs for _, pairs in after if re.search(r"\d{4}", str(pairs))] == []
    for secret in (member.phone, member.phone[-9:], CALLER, CALLER[-9:], member.line, "CA" + "1" * 32):
        assert secret not in text
    assert not re.search(r'member[^"]*="\d+"', text)


def test_metrics_without_redis_reads_the_database_only(make_app: Callable[..., Flask]) -> None:
    app = make_app(METRICS_TOKEN=TOKEN, REDIS_URL=None)
    after = _samples(_scrape(app))
    assert ("safety_events", (("state", "waiting"),)) in after
    assert not any(name == "safety_jobs" for name, _ in after)


def test_a_gauge_another_module_registers_is_scraped(make_app: Callable[..., Flask], redis: Redis) -> None:
    """The registry other features add to (check-ins, signals): a reader of
    the services returning one number per label value."""

    @metrics.scraped_gauge("safety_test_gauge", "A gauge registered by a test", label="kind")
    def read(_services: object) -> dict[str, float]:
        return {"a": 2.0, "b": 3.0}

    try:
        after = _samples(_scrape(make_app(METRICS_TOKEN=TOKEN)))
        assert after[("safety_test_gauge", (("kind", "a"),))] == 2.0
        assert after[("safety_test_gauge", (("kind", "b"),))] == 3.0
    finally:
        metrics.SCRAPED[:] = [gauge for gauge in metrics.SCRAPED if gauge.name != "safety_test_gauge"]


def test_under_gunicorn_every_scrape_counts_every_workers_webhooks(tmp_path: Path) -> None:
    """Two workers, forty webhooks spread over them: whichever worker answers
    a scrape, it counts all forty (gunicorn.conf.py gives them one directory
    of metrics; without it each would count only its own)."""
    port = _free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SAFETY_", "DATABASE_", "REDIS_", "PROM"))
    }
    env.update(SAFETY_INSTANCE_PATH=str(tmp_path / "instance"), METRICS_TOKEN=TOKEN)
    log = tmp_path / "gunicorn.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", f"--bind=127.0.0.1:{port}", "--workers=2", "ivr:create_app()"],
        cwd=ROOT,  # the repository's gunicorn.conf.py
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while _request(base + "/healthz")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        # Unsigned: refused with 403, timed all the same (the signature check is part of the answer).
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: _request(base + "/voice/incoming", b"x=1")[0], range(40)))
        assert codes == [403] * 40
        counts = set()
        for _ in range(8):
            status, text = _request(base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            assert status == 200, log.read_text()[-2000:]
            counts.add(_samples(text)[WEBHOOK_COUNT])
        assert counts == {40.0}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


WEBHOOK_COUNT = ("safety_webhook_duration_seconds_count", (("endpoint", "voice.incoming"),))


def _request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310 (loopback http)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), ""
    except OSError:
        return 0, ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
