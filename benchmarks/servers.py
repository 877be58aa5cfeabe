"""Start and stop the processes a benchmark needs, all on 127.0.0.1:
gunicorn (app or bare baseline), wrk, a private redis-server and a private
PostgreSQL cluster for the drills that kill them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.config import (
    GUNICORN_CLASS,
    GUNICORN_THREADS,
    GUNICORN_WORKERS,
    HOST,
    ROOT,
    VENV_BIN,
    WORK,
)


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {HOST}:{port} after {timeout}s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def worker_pids(self) -> list[int]:
        return child_pids(self.process.pid)

    def peak_rss_kib(self) -> dict[int, int]:
        """VmHWM (peak resident set) of each worker, in KiB."""
        peaks = {}
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[pid] = int(line.split()[1])
        return peaks


def gunicorn_args(app: str, port: int) -> list[str]:
    """Identical server settings for the app and the baseline."""
    args = [
        str(VENV_BIN / "gunicorn"),
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(GUNICORN_WORKERS),
        "--worker-class",
        GUNICORN_CLASS,
        "--timeout",
        "10",
        "--graceful-timeout",
        "5",
        "--backlog",
        "2048",
        "--log-level",
        "warning",
    ]
    if GUNICORN_CLASS == "gthread":
        args += ["--threads", str(GUNICORN_THREADS), "--keep-alive", "5"]
    return [*args, app]


def gunicorn_description() -> str:
    threads = f", {GUNICORN_THREADS} threads each" if GUNICORN_CLASS == "gthread" else ""
    return f"gunicorn {GUNICORN_WORKERS} workers, worker class `{GUNICORN_CLASS}`{threads}, timeout 10 s"


@contextmanager
def gunicorn(app: str, port: int, env: Mapping[str, str], name: str, cwd: Path = ROOT) -> Iterator[Gunicorn]:
    """gunicorn serving ``app`` from ``cwd`` (whose ``gunicorn.conf.py`` it reads)."""
    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / f"gunicorn-{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            gunicorn_args(app, port), cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_port(port)
        # let both workers boot (imports, app factory) before any timing
        deadline = time.monotonic() + 30
        server = Gunicorn(process, port, log)
        while len(server.worker_pids()) < GUNICORN_WORKERS and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        yield server
    finally:
        terminate(process, timeout=15)


def terminate(*processes: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM all ``processes`` at once, then wait for each in turn, killing
    (and reaping) any still running ``timeout`` seconds into its wait."""
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def warm_up(port: int, requests: list[tuple[str, str, str]], count: int = 200) -> list[tuple[int, bytes]]:
    """Send a few requests first (connection pools, caches) and return the answers."""
    answers = []
    for path, signature, body in requests[:count]:
        answers.append(post(port, path, signature, body))
    return answers


def post(port: int, path: str, signature: str, body: str, timeout: float = 10.0) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"http://{HOST}:{port}{path}",
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback only)
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    non2xx: int
    apologies: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def errors(self) -> int:
        return self.non2xx + self.apologies + self.socket_errors


def wrk(port: int, request_file: Path, seconds: int, connections: int, marker: str = "") -> WrkResult:
    """wrk with one thread (the other core serves), latency percentiles from its histogram."""
    args = [
        shutil.which("wrk") or "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(ROOT / "benchmarks" / "rotate.lua"),
        f"http://{HOST}:{port}",
        "--",
        str(request_file),
    ]
    if marker:
        args.append(marker)
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    raw = json.loads(line[len("WRKJSON ") :])
    return WrkResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        non2xx=raw["non2xx"],
        apologies=raw["apologies"],
        socket_errors=raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"],
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        mean_ms=raw["mean_us"] / 1000,
    )


def child_pids(pid: int) -> list[int]:
    """The processes ``pid`` started (its direct children)."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def run_module(module: str, cwd: Path = ROOT, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``python -m module`` in a fresh interpreter; its last output line, read as JSON."""
    import sys

    out = subprocess.run(
        [sys.executable, "-m", module],
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


# --- where the CPU went during a load run ----------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads); 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                if (entry / "comm").read_text().strip().startswith("postgres"):
                    pids.append(int(entry.name))
    return pids


@contextmanager
def cpu_accounting(server: Gunicorn) -> Iterator[dict[str, float]]:
    """CPU seconds spent during the block by the web workers, by every
    PostgreSQL process, and by finished child processes (wrk)."""
    import resource

    spent: dict[str, float] = {}
    workers, postgres = server.worker_pids(), _postgres_pids()
    web0 = sum(cpu_of(p) for p in workers)
    pg0 = {p: cpu_of(p) for p in postgres}
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    yield spent
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent["web"] = sum(cpu_of(p) for p in workers) - web0
    # Backends started during the block count from zero.
    spent["postgres"] = sum(cpu_of(p) - pg0.get(p, 0.0) for p in _postgres_pids())
    spent["load_generator"] = (children1.ru_utime - children0.ru_utime) + (
        children1.ru_stime - children0.ru_stime
    )


# --- a private redis-server the drills may kill ---------------------------


@dataclass
class PrivateRedis:
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    # False: no snapshot, no append-only file, so a kill empties it, as an
    # out-of-memory kill of a cache-configured Redis or a failover would.
    persistent: bool = True

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # AOF with fsync on every write: a SIGKILLed Redis keeps every job it
        # acknowledged (a queue without persistence loses them on a crash).
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        )
        command = ["redis-server", "--bind", HOST, "--port", str(self.port), "--save", ""]
        self.process = subprocess.Popen(
            [*command, "--dir", str(self.directory), *persistence],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


# --- a private PostgreSQL cluster the drills may stop ---------------------


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    return shutil.which(name) or name


@dataclass
class PrivateCluster:
    """``initdb`` into a temp folder, run as the ``postgres`` user when we are root."""

    port: int
    directory: Path

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(_quote(a) for a in cmd)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{HOST}:{self.port}/postgres"

    def init(self) -> None:
        if self.directory.exists():
            shutil.rmtree(self.directory)
        self.directory.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(_pg_bin("initdb"), "-D", str(self.directory / "data"), "-U", "postgres", "-A", "trust")

    def start(self) -> None:
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.directory / "data"),
            "-l",
            str(self.directory / "server.log"),
            "-o",
            f"-p {self.port} -k {self.directory} -c listen_addresses={HOST} -c fsync=off",
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
