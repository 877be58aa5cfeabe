"""The repository's gunicorn.conf.py: its hook of ivr/server.py, and a real
gunicorn started with it."""

from __future__ import annotations

import gc
import os
import runpy
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def test_gunicorn_freezes_the_apps_start_up_objects_in_each_worker(app: Flask) -> None:
    """Full garbage collections must not rescan the app's long-lived objects
    (each scan paused every thread of a worker for tens of milliseconds)."""
    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert "post_worker_init" in hooks  # gunicorn calls it once the worker loaded the app
    try:
        hooks["post_worker_init"](object())
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # imports, models, the app: all out of the collector's scans
        before = len(gc.get_objects())
        assert before < frozen
    finally:
        gc.unfreeze()


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening_sockets(port: int) -> int:
    """How many TCP sockets listen on 127.0.0.1:``port`` (from /proc/net/tcp)."""
    local = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return sum(1 for row in rows if row[1] == local and row[3] == "0A")  # 0A: LISTEN


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
def test_gunicorn_gives_each_worker_its_own_listening_socket(tmp_path: Path) -> None:
    """Two workers, two listening sockets: the kernel then spreads callers'
    connections evenly over the workers (a shared socket would be one)."""
    port = _free_loopback_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAFETY_", "DATABASE_", "REDIS_"))}
    env["SAFETY_INSTANCE_PATH"] = str(tmp_path / "instance")
    bind = f"127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", "2", "ivr:create_app()"],
        cwd=ROOT,  # where gunicorn finds the repository's gunicorn.conf.py
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "gunicorn.log").open("wb"),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _listening_sockets(port) < 2 and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # a third socket, were there one, would be open by now
        assert _listening_sockets(port) == 2, (tmp_path / "gunicorn.log").read_text()[-2000:]
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
