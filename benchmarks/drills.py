"""Long fault drills on private servers: a redis-server SIGKILLed and
restarted under load, a PostgreSQL cluster stopped and started while calls
come in, and RQ workers SIGKILLed during a burst of call-event jobs.

Every server and client is on 127.0.0.1; every loop is bounded in time.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import create_engine, text

from benchmarks import seed, servers, signed, webhook
from benchmarks import workers as job_bench
from benchmarks.config import APP_PORT, REDIS_URL, ROOT, WORK, app_environ

APP = "ivr:create_app()"
REDIS_PORT = 6390  # the drills' own servers, which they kill
POSTGRES_PORT = 5440
CLIENTS = 8  # concurrent clients of the Redis drill
CALL_EVERY_SECONDS = 0.05  # the PostgreSQL drill's one client places a call this often


def _classify(status: int, body: bytes) -> str:
    if status != 200:
        return f"HTTP {status}"
    try:
        root = ET.fromstring(body)  # noqa: S314 (our own server's answer)
    except ET.ParseError:
        return "not XML"
    if root.tag != "Response":
        return "not TwiML"
    if webhook.APOLOGY_MARKER.encode() in body:
        return "apology"
    return "+".join(child.tag for child in root) or "empty"


def _answer(port: int, request: signed.SignedRequest) -> str:
    """Send one request to the app and classify what came back, or how the socket failed."""
    try:
        status, body = servers.post(port, request.path, request.signature, request.body, timeout=15)
    except OSError as exc:
        return f"socket {type(exc).__name__}"
    return _classify(status, body)


def _send_all(
    port: int,
    requests: list[signed.SignedRequest],
    threads: int = CLIENTS,
    on_progress: Any = None,
) -> list[dict[str, Any]]:
    """Send each request exactly once from ``threads`` clients; keep every answer.

    ``on_progress(n)`` is called (by the client that got it) after the n-th answer."""
    answers: list[dict[str, Any]] = [{} for _ in requests]
    cursor = iter(range(len(requests)))
    lock = threading.Lock()
    done = [0]

    def client() -> None:
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                return
            r = requests[i]
            started = time.perf_counter()
            kind = _answer(port, r)
            ms = 1000 * (time.perf_counter() - started)
            answers[i] = {"kind": kind, "ms": ms, "at": time.monotonic() - ms / 1000}
            with lock:
                done[0] += 1
                n = done[0]
            if on_progress is not None:
                on_progress(n)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return answers


def _summary(answers: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = sorted(a["ms"] for a in answers)
    return {
        "requests": len(answers),
        "answers": dict(Counter(a["kind"] for a in answers)),
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 1) if latencies else None,
    }


def _drain(url: str, redis_url: str) -> dict[str, Any]:
    return servers.run_module("benchmarks.burst", env=app_environ(url, redis_url))


SWEEP = """
from datetime import timedelta
from core.services import bound
from storage.models import utcnow
from worker.__main__ import services_from_environment
from worker.events import GRACE, sweep_events
with bound(services_from_environment()):
    print(sweep_events(now=utcnow() + GRACE + timedelta(seconds=1)))
"""


def _sweep_events(url: str, redis_url: str) -> int:
    """The periodic events sweep, run once as if its grace period had passed."""
    out = subprocess.run(
        [sys.executable, "-c", SWEEP],
        cwd=ROOT,
        env=app_environ(url, redis_url),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    return int(out.strip().splitlines()[-1])


# --- Redis SIGKILLed under load ---------------------------------------------


def redis_killed(requests_total: int = 4500) -> dict[str, Any]:
    """Status callbacks and inbound calls sent without pause while Redis is
    SIGKILLed (a third of the way in) and restarted (two thirds in)."""
    url, seeded = webhook.prepare()
    private = servers.PrivateRedis(port=REDIS_PORT, directory=WORK / "redis-drill")
    if private.directory.exists():
        import shutil

        shutil.rmtree(private.directory)
    private.start()
    rng = random.Random(3)
    batch: list[signed.SignedRequest] = []
    events: list[tuple[str, int]] = []
    for i in range(requests_total):
        line, caller = rng.choice(seeded.lines), rng.choice(seeded.callers)
        if i % 4 == 0:
            batch.append(signed.incoming_call(line, caller))
        else:
            sid = signed.call_sid()
            batch.append(signed.status_callback(sid, i % 7, "completed", line, caller))
            events.append((sid, i % 7))
    marks: dict[str, float] = {}

    def chaos(n: int) -> None:
        if n == requests_total // 3:
            marks["killed"] = time.monotonic()
            private.kill()  # SIGKILL, like a crash or an OOM kill, with requests in flight
        elif n == 2 * requests_total // 3:
            marks["restarting"] = time.monotonic()
            private.start()
            marks["back"] = time.monotonic()

    env = app_environ(url, private.url)
    try:
        with servers.gunicorn(APP, APP_PORT, env, "redis-drill") as app:
            started = time.monotonic()
            answers = _send_all(app.port, batch, on_progress=chaos)
            seconds = time.monotonic() - started
        engine = create_engine(url)
        with engine.connect() as conn:
            waiting = conn.execute(text("SELECT count(*) FROM events WHERE done_at IS NULL")).scalar_one()
        drained = _drain(url, private.url)  # the doorbells Redis kept
        rung = _sweep_events(url, private.url)  # the ones it never heard or lost
        drained_after_sweep = _drain(url, private.url)
        with engine.connect() as conn:
            logged = conn.execute(text("SELECT call_sid, sequence_number FROM call_events")).all()
            per_key = conn.execute(
                text(
                    "SELECT count(*) FROM (SELECT 1 FROM call_events GROUP BY call_sid, sequence_number"
                    " HAVING count(*) > 1) d"
                )
            ).scalar_one()
        engine.dispose()
    finally:
        private.kill()
    windows = {
        "redis up": (0.0, marks["killed"]),
        "redis killed": (marks["killed"], marks["restarting"]),
        "redis restarting and back": (marks["restarting"], float("inf")),
    }
    results = {
        name: _summary([a for a in answers if lo <= a["at"] < hi]) for name, (lo, hi) in windows.items()
    }
    rows = {(sid, int(seq)) for sid, seq in logged}
    sent = set(events)
    failed = sum(1 for a in answers if not _ok(a["kind"]))
    return {
        "phases": results,
        "seconds": round(seconds, 1),
        "redis_down_seconds": round(marks["back"] - marks["killed"], 2),
        "requests": len(answers),
        "events_sent": len(sent),
        "events_waiting": waiting,
        "events_rung_by_sweep": rung,
        "worker_drain": drained,
        "worker_drain_after_sweep": drained_after_sweep,
        "events_logged": len(sent & rows),
        "events_lost": len(sent - rows),
        "duplicate_event_rows": per_key,
        "failed_webhooks": failed,
        "redis": f"private redis-server on 127.0.0.1:{REDIS_PORT}, appendonly yes, appendfsync always",
    }


def _ok(kind: str) -> bool:
    return not (kind.startswith(("HTTP", "socket", "not")) or kind == "apology")


# --- PostgreSQL stopped and started --------------------------------------------


def postgres_stopped(down_seconds: float = 10.0) -> dict[str, Any]:
    cluster = servers.PrivateCluster(port=POSTGRES_PORT, directory=WORK / "pg-drill")
    cluster.init()
    cluster.start()
    try:
        url = seed.recreate_database(cluster.url, "sn_drill")
        engine = create_engine(url)
        seeded = seed.real_members(engine, webhook.callers(200))
        engine.dispose()
        requests = signed.incoming_calls(seeded.lines, seeded.callers, 2000)
        log: list[dict[str, Any]] = []
        stop = threading.Event()
        marks: dict[str, float] = {}

        def caller_loop(port: int) -> None:
            for r in requests:
                if stop.is_set():
                    return
                started = time.monotonic()
                kind = _answer(port, r)
                log.append({"at": started, "ms": 1000 * (time.monotonic() - started), "kind": kind})
                time.sleep(CALL_EVERY_SECONDS)

        with servers.gunicorn(APP, APP_PORT, app_environ(url), "pg-drill") as app:
            thread = threading.Thread(target=caller_loop, args=(app.port,))
            thread.start()
            time.sleep(3)
            marks["stop"] = time.monotonic()
            cluster.stop()
            marks["stopped"] = time.monotonic()
            time.sleep(down_seconds)
            marks["start"] = time.monotonic()
            cluster.start()
            marks["started"] = time.monotonic()
            time.sleep(8)
            stop.set()
            thread.join()
    finally:
        cluster.destroy()

    def window(a: float, b: float) -> list[dict[str, Any]]:
        return [e for e in log if a <= e["at"] < b]

    before = window(0, marks["stop"])
    down = window(marks["stopped"], marks["start"])
    after = window(marks["started"], float("inf"))
    first_ok = next((e["at"] for e in after if _ok(e["kind"])), None)
    return {
        "down_seconds": round(marks["start"] - marks["stopped"], 1),
        "before": _summary(before),
        "while_down": _summary(down),
        "after_restart": _summary(after),
        "all_answers": _summary(log),
        "recovered_after_s": None if first_ok is None else round(first_ok - marks["started"], 2),
        "postgres": f"private cluster (initdb) on 127.0.0.1:{POSTGRES_PORT}, stopped with pg_ctl -m fast",
    }


# --- workers SIGKILLed during a burst ------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def workers_killed(jobs: int = 2000, kill_seconds: float = 30.0) -> dict[str, Any]:
    url, _ = webhook.prepare()
    webhook.flush_redis()
    calls = jobs // len(job_bench.EVENTS)
    engine = create_engine(url)
    seed.ringing_calls(engine, "CAkill", calls)
    svc = job_bench.services(url)
    job_bench.enqueue_call_events(svc, "CAkill", calls)
    env = app_environ(url)
    log = (WORK / "worker-drill.log").open("wb")

    def start_worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "worker"], cwd=ROOT, env=env, stdout=log, stderr=log)

    workers = [start_worker(), start_worker()]
    rng = random.Random(5)
    kills = Counter[str]()
    deadline = time.monotonic() + kill_seconds
    redis = Redis.from_url(REDIS_URL)
    queue = Queue("safety", connection=redis)
    seen_horses: set[int] = set()
    while time.monotonic() < deadline and queue.count:
        time.sleep(rng.uniform(0.5, 1.5))
        victim = rng.randrange(len(workers))
        horses = _children(workers[victim].pid)
        seen_horses.update(horses)
        if horses and rng.random() < 0.6:
            # the work horse, mid-job
            os.kill(horses[0], signal.SIGKILL)
            kills["work horse"] += 1
        else:
            workers[victim].kill()
            workers[victim].wait()
            workers[victim] = start_worker()
            kills["worker process"] += 1
    # Let the survivors finish, retries (scheduled with backoff) included.
    from rq.job import Job

    started_registry = StartedJobRegistry(queue=queue)
    scheduled = ScheduledJobRegistry(queue=queue)

    def call_events(job_ids: list[str]) -> list[tuple[str, str, int]]:
        found = []
        for job_id in job_ids:
            job = Job.fetch(job_id, connection=redis)
            if job.func_name == "worker.calllog.record_call_event":  # not the periodic jobs
                found.append((job_id, job.args[0], job.args[1]))
        return found

    def runnable() -> list[tuple[str, str, int]]:
        """Call-event jobs live workers will still run: queued or being run."""
        return call_events([*queue.get_job_ids(), *started_registry.get_job_ids()])

    settle_deadline = time.monotonic() + 180
    while time.monotonic() < settle_deadline and runnable():
        time.sleep(1)
    settled_in = round(time.monotonic() - deadline, 1)
    # Jobs only RQ's maintenance round (every 10 minutes by default) or its
    # scheduler (held by a killed worker) would bring back.
    intermediate = queue.intermediate_queue
    stranded_intermediate = call_events(intermediate.get_job_ids())
    stranded_scheduled = call_events(scheduled.get_job_ids())
    pending = [(sid, seq) for _, sid, seq in [*runnable(), *stranded_intermediate, *stranded_scheduled]]
    left = {"queued": queue.count, "scheduled": scheduled.count, "started": started_registry.count}
    servers.terminate(*workers, timeout=20)
    log.close()
    # A work horse whose worker process was SIGKILLed is re-parented to init;
    # end any we saw that is still running, so nothing outlives the drill.
    orphans = 0
    for pid in seen_horses:
        try:
            if b"worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)
                orphans += 1
        except OSError:
            pass
    failed = FailedJobRegistry(queue=queue).count
    with engine.connect() as conn:
        rows_before_maintenance = conn.execute(
            text(
                "SELECT count(DISTINCT (call_sid, sequence_number)) FROM call_events"
                " WHERE call_sid LIKE 'CAkill%'"
            )
        ).scalar_one()
    # Fast-forward what RQ's maintenance and scheduler would do later: put the
    # stranded jobs back on the queue, then drain it with one burst worker.
    for job_id, _, _ in stranded_intermediate:
        intermediate.remove(job_id)
        queue.push_job_id(job_id)
    for job_id, _, _ in stranded_scheduled:
        scheduled.remove(job_id)
        queue.push_job_id(job_id)
    maintenance = _drain(url, REDIS_URL) if (stranded_intermediate or stranded_scheduled) else None
    with engine.connect() as conn:
        already_done = sum(
            conn.execute(
                text("SELECT count(*) FROM call_events WHERE call_sid = :s AND sequence_number = :n"),
                {"s": sid, "n": seq},
            ).scalar_one()
            for sid, seq in pending
        )
        rows = conn.execute(
            text("SELECT count(*) FROM call_events WHERE call_sid LIKE 'CAkill%'")
        ).scalar_one()
        distinct = conn.execute(
            text(
                "SELECT count(DISTINCT (call_sid, sequence_number)) FROM call_events"
                " WHERE call_sid LIKE 'CAkill%'"
            )
        ).scalar_one()
        right = conn.execute(
            text(
                "SELECT count(*) FROM calls WHERE call_sid LIKE 'CAkill%' AND status = 'completed'"
                " AND duration_seconds = :seconds AND last_sequence = :last"
            ),
            {"seconds": job_bench.CALL_SECONDS, "last": len(job_bench.EVENTS) - 1},
        ).scalar_one()
    engine.dispose()
    svc.db.engine.dispose()
    webhook.flush_redis()
    return {
        "jobs": jobs,
        "kills": dict(kills),
        "seconds_after_last_kill_until_settled": settled_in,
        "left_in_redis_incl_periodic_jobs": left,
        "failed_registry": failed,
        "jobs_still_waiting": len(pending),
        "stranded_in_intermediate_queue": len(stranded_intermediate),
        "orphaned_work_horses_ended": orphans,
        "stranded_in_scheduled_registry": len(stranded_scheduled),
        "distinct_events_before_maintenance": rows_before_maintenance,
        "maintenance_drain": maintenance,
        "waiting_jobs_whose_event_is_already_logged": already_done,
        "event_rows": rows,
        "distinct_events": distinct,
        "events_lost": jobs - distinct,
        "duplicate_rows": rows - distinct,
        "calls_in_right_final_state": right,
        "calls": calls,
        "workers": "2 x `python -m worker` (rq Worker with scheduler, fork per job), SIGKILL every 0.5-1.5 s",
    }
