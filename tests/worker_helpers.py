"""Helpers of the worker tests: services for jobs, and rows jobs act on."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from email import message_from_string
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from core.services import Services, bound, build_services
from core.settings import load_settings
from simulator.fake_twilio import FakeTwilio
from storage.db import Database
from storage.models import Report, Staff
from tests.support.suite import SuiteConfig

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def job_services(tmp_path: Path, db: Database, **overrides: Any) -> Iterator[Services]:
    """Bind services built from the test config (``db`` as the database) for jobs to use."""
    config = SuiteConfig().app_config(tmp_path, **overrides)
    instance = config.pop("instance_path")
    config.pop("TESTING", None)
    settings = load_settings({}, instance, config)
    with bound(build_services(settings, db=db)) as services:
        yield services


P = ParamSpec("P")
R = TypeVar("R")


def as_worker(services: Services, job: Callable[P, R]) -> Callable[P, R]:
    """``job`` run as a worker runs it, with ``services`` bound: a new thread
    starts with none, so a thread standing in for a worker binds its own."""

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with bound(services):
            return job(*args, **kwargs)

    return run


def mail_log(path: str) -> list[Any]:
    """Every message the development mail log at ``path`` holds, oldest first."""
    log = Path(path)
    if not log.exists():
        return []
    chunks = log.read_text().split("\nFrom: ")
    return [message_from_string(c if i == 0 else "From: " + c) for i, c in enumerate(chunks) if c.strip()]


def wav_bytes(seconds: int = 1, rate: int = 8000) -> bytes:
    """A silent mono 16-bit WAV of ``seconds``."""
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\x00\x00" * rate * seconds)
    return buffer.getvalue()


def add_staff(
    db: Database, email: str, role: str = "caseworker", active: bool = True, on_call: bool = False
) -> int:
    """Staff with a placeholder hash (no Argon2 cost: these tests never sign in)."""
    with db.session() as s:
        staff = Staff(email=email, password_hash="x", role=role, active=active, on_call=on_call)
        s.add(staff)
        s.flush()
        return staff.id


def add_report(db: Database, member_id: int | None, recording_sid: str | None = None, **fields: Any) -> int:
    with db.session() as s:
        report = Report(member_id=member_id, recording_sid=recording_sid, **fields)
        s.add(report)
        s.flush()
        return report.id


def delete_seeded(session: Any, ids: dict[str, int]) -> None:
    """Delete what a committing test seeded, as far as it got: the staff,
    the line and the member named in ``ids``."""
    from sqlalchemy import delete

    from storage.models import Member, SafetyNumber

    if "staff" in ids:
        session.execute(delete(Staff).where(Staff.id == ids["staff"]))
    if "line" in ids:
        session.execute(delete(SafetyNumber).where(SafetyNumber.id == ids["line"]))
    if "member" in ids:
        session.execute(delete(Member).where(Member.id == ids["member"]))


def rung_jobs(db: Database, jobs: Iterable[Any]) -> list[tuple[str, tuple[Any, ...]]]:
    """What each RQ job (a doorbell carrying an event id) asks done: the
    event's job name and ids, read from its row."""
    from storage.models import Event

    rows = []
    with db.session() as s:
        for job in jobs:
            assert job.func_name == "worker.events.run_event", job.func_name
            [event_id] = job.args
            event = s.get(Event, event_id)
            assert event is not None, f"doorbell for event {event_id}, which was never written"
            rows.append((event.job, tuple(event.args)))
    return rows


def worker_env(
    suite: SuiteConfig, pg_url: str, fake: FakeTwilio, tmp_path: Path, **settings: str
) -> dict[str, str]:
    """The environment of a ``python -m worker`` process configured as the app is in tests
    (with ``settings`` on top)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SAFETY_", "TWILIO_", "DATABASE_", "REDIS_"))
    }
    # What the app is configured with in tests, as a worker process reads it: its environment.
    config = suite.app_config(
        tmp_path,
        TESTING=None,
        instance_path=None,
        DATABASE_URL=pg_url,
        TWILIO_API_BASE_URL=fake.base_url,
        MAIL_LOG_PATH=str(tmp_path / "mail.log"),
        **settings,
    )
    env.update(config, SAFETY_INSTANCE_PATH=str(tmp_path / "instance"), PYTHONUNBUFFERED="1")
    return env


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m worker`` as the Procfile runs it, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
