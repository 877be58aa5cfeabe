"""The periodic jobs without Redis: the web processes run them, each slot once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from ivr import services_of
from ivr.schedule import schedule_of
from storage.db import Database
from storage.models import Call, CallDirection, Event, PeriodicRun, utcnow
from tests.support.live_server import migrated_database
from tests.support.suite import PG_URL, SuiteConfig
from worker.embedded_schedule import EmbeddedSchedule
from worker.schedule import PERIODIC

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_ARGS = ("--workers", "2", "ivr:create_app()")
T = 1_800_000_030.0  # 30 s into a minute, 00:00:30 UTC of its day


def _old_and_new_calls(app: Flask, db: Database) -> tuple[int, int]:
    """A call from 40 days ago (past CALLER_NUMBER_RETENTION_DAYS, 30) and one from today."""
    vault = services_of(app).vault
    ids: list[int] = []
    with db.session() as s:
        for age, caller in ((timedelta(days=40), "+447700900111"), (timedelta(0), "+447700900222")):
            protected = vault.protect(caller)
            call = Call(
                call_sid=f"CA{len(ids):032d}",
                direction=CallDirection.INBOUND,
                other_party_index=protected.index,
                other_party_encrypted=protected.token,
                other_party_last3=protected.last3,
                created_at=utcnow() - age,
            )
            s.add(call)
            s.flush()
            ids.append(call.id)
    return ids[0], ids[1]


def test_retention_erases_callers_numbers_on_schedule_in_embedded_mode(
    make_app: Callable[..., Flask], db: Database
) -> None:
    """No Redis, no worker: the app's own schedule drops a caller's number
    once it is older than CALLER_NUMBER_RETENTION_DAYS."""
    app = make_app(REDIS_URL=None)
    schedule = schedule_of(app)
    assert schedule is not None
    assert schedule.periods["apply_retention"] == 86400
    old, new = _old_and_new_calls(app, db)
    ran = schedule.run_due(T)
    assert ("apply_retention", int(T) // 86400 * 86400) in ran
    with db.session() as s:
        assert s.get(Call, old).other_party_encrypted is None  # type: ignore[union-attr]
        kept = s.get(Call, new)
        assert kept is not None and kept.other_party_encrypted is not None
        assert kept.other_party_last3 == "222"  # the index and last digits stay for blocks and the console


def test_a_slot_runs_once_and_the_next_slot_runs_again(make_app: Callable[..., Flask], db: Database) -> None:
    app = make_app(REDIS_URL=None)
    schedule = schedule_of(app)
    assert schedule is not None
    first = schedule.run_due(T)
    assert sorted(name for name, _ in first) == sorted(PERIODIC)
    # A second process (its own schedule, the same database) in the same slots: nothing.
    other = EmbeddedSchedule(services_of(app), schedule.periods, tick_seconds=1)
    assert other.run_due(T + 5) == []
    assert schedule.run_due(T + 20) == []
    # The next minute: only the slots of the events sweep and of the due check-ins (every 30 s) are new.
    assert sorted(other.run_due(T + 60)) == [
        ("fire_due_checkins", int(T + 60) // 30 * 30),
        ("sweep_events", int(T + 60) // 60 * 60),
    ]
    with db.session() as s:
        rows = s.scalars(select(PeriodicRun).where(PeriodicRun.job_name == "sweep_events")).all()
        assert len(rows) == 2 and all(row.finished_at is not None for row in rows)


def test_a_failed_slot_is_tried_again_once_its_lease_is_over(
    make_app: Callable[..., Flask], db: Database
) -> None:
    """A slot whose run failed, or whose process died mid-run, is not lost:
    once its lease is over (15 minutes at most) a tick runs it again."""
    app = make_app(REDIS_URL=None)
    services = services_of(app)
    with pytest.raises(KeyError):
        EmbeddedSchedule(services, {"not a job": 60}, 1)
    # "ping" needs a token: run with none, every run of it fails.
    failing = EmbeddedSchedule(services, {"ping": 3600}, 1)
    hour = int(T) // 3600 * 3600
    assert failing.run_due(T) == [("ping", hour)]
    assert failing.run_due(T + 60) == []  # claimed, lease running
    assert failing.run_due(T + 15 * 60 + 1) == [("ping", hour)]  # lease over: tried again
    with db.session() as s:
        assert s.get(PeriodicRun, ("ping", hour)).finished_at is None  # type: ignore[union-attr]

    sweep = EmbeddedSchedule(services, {"sweep_events": 600}, 1)
    slot = int(T) // 600 * 600
    with db.session() as s:
        # A process claimed this slot and died before finishing it.
        s.add(PeriodicRun(job_name="sweep_events", slot=slot, claimed_at=utcnow().replace(year=2000)))
        # An event whose in-process run was lost long ago.
        lost = Event(job="ping", args=["tok"], due_at=utcnow().replace(year=2000))
        s.add(lost)
    assert sweep.run_due(T) == [("sweep_events", slot)]
    assert sweep.run_due(T + 1) == []  # finished: never again
    with db.session() as s:
        assert s.get(Event, lost.id).done_at is not None  # type: ignore[union-attr]


def _gunicorn_config(tmp_path: Path) -> Path:
    """gunicorn with two workers, INFO logs of the app on stderr with each line's pid."""
    config = tmp_path / "gunicorn.conf.py"
    # gunicorn's own loggers name the handlers "console" and "error_console".
    config.write_text(
        "from ivr.server import post_worker_init\n"
        "reuse_port = True\n"
        "handler = {'class': 'logging.StreamHandler', 'formatter': 'pid', 'stream': 'ext://sys.stderr'}\n"
        "logconfig_dict = {'version': 1, 'disable_existing_loggers': False,\n"
        " 'formatters': {'pid': {'format': 'pid=%(process)d %(name)s: %(message)s'}},\n"
        " 'handlers': {'console': handler, 'error_console': handler},\n"
        " 'root': {'level': 'INFO', 'handlers': ['console']}}\n"
    )
    return config


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_two_web_processes_run_each_slot_once(tmp_path: Path) -> None:
    """The embedded app under gunicorn with two workers, every periodic job
    due every second and each process looking twenty times a second: the
    logs of both show every (job, slot) run by exactly one of them."""
    suite = SuiteConfig()
    port = _free_port()
    with migrated_database(PG_URL, f"sn_embedded_schedule_{os.getpid()}", pool_size=2) as db:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SAFETY_", "DATABASE_", "REDIS_"))}
        env.update(
            SAFETY_INSTANCE_PATH=str(tmp_path / "instance"),
            DATABASE_URL=db.engine.url.render_as_string(hide_password=False),
            TWILIO_AUTH_TOKEN=suite.auth_token,
            SCHEDULE_PERIODS="sweep_events=1,sweep_abandoned_reports=1,apply_retention=2",
            SCHEDULE_TICK_SECONDS="0.05",
            PYTHONUNBUFFERED="1",
        )
        log = tmp_path / "gunicorn.log"
        bind = f"--bind=127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(_gunicorn_config(tmp_path)), *GUNICORN_ARGS, bind],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
            start_new_session=True,
        )
        try:
            started: set[str] = set()
            deadline = time.monotonic() + 90
            # Each worker starts its schedule once it has loaded the app.
            while len(started) < 2 and time.monotonic() < deadline and server.poll() is None:
                with ThreadPoolExecutor(8) as pool:
                    list(pool.map(lambda _: _get(f"http://127.0.0.1:{port}/healthz"), range(16)))
                started = set(re.findall(r"pid=(\d+) worker.embedded_schedule: started", log.read_text()))
                time.sleep(0.2)
            assert len(started) == 2, log.read_text()[-3000:]
            time.sleep(4)
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    runs = re.findall(r"pid=(\d+) worker.embedded_schedule: periodic (\w+): slot (\d+) runs", log.read_text())
    per_slot = Counter((name, slot) for _, name, slot in runs)
    assert per_slot, log.read_text()[-3000:]
    assert {key: n for key, n in per_slot.items() if n > 1} == {}
    assert len({slot for name, slot in per_slot if name == "sweep_events"}) >= 3
    assert {name for name, _ in per_slot} == set(PERIODIC)
    assert "Traceback" not in log.read_text()


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (a loopback http URL)
            return int(response.status)
    except OSError:
        return 0
