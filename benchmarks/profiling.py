"""Profile ``POST /voice/incoming`` in-process with cProfile: where a
request's CPU time goes, by function (cumulative and own time), measured
serially through Flask's test client against PostgreSQL."""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import time
from pathlib import Path
from typing import Any

from benchmarks import checkout, webhook
from benchmarks.config import in_process_app
from ivr import services_of

REQUESTS = 2000


def profile_requests(count: int = REQUESTS, prepare: bool = True, top: int = 25) -> dict[str, Any]:
    if prepare:
        url, seeded = webhook.prepare()
    else:  # reuse the database the caller prepared
        from benchmarks import seed
        from benchmarks.config import pg_url

        url = pg_url()
        seeded = seed.Seeded(
            [f"+4420794600{i:02d}" for i in range(seed.REAL_MEMBERS)], [], webhook.callers(), [], []
        )
    reqs, _ = webhook.request_file(seeded, "profile", count)
    webhook.flush_redis()
    app = in_process_app(url)
    client = app.test_client()

    def send(r: Any) -> None:
        response = client.post(
            r.path,
            data=r.body,
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": r.signature},
        )
        assert response.status_code == 200, response.status_code

    for r in reqs[:100]:  # warm: pools, imports, caches
        send(r)
    # CPU time, not wall time: the machine is shared, waits on PostgreSQL vary.
    profiler = cProfile.Profile(time.process_time)
    started = time.process_time()
    profiler.enable()
    for r in reqs[100:]:
        send(r)
    profiler.disable()
    elapsed = time.process_time() - started
    # time without the profiler's overhead: CPU of this process, and wall
    plain_cpu, plain_wall = time.process_time(), time.perf_counter()
    for r in reqs[:1000]:
        send(r)
    n = min(1000, len(reqs))
    cpu = (time.process_time() - plain_cpu) / n
    wall = (time.perf_counter() - plain_wall) / n
    services_of(app).db.engine.dispose()
    webhook.flush_redis()

    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    cumulative = out.getvalue()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return {
        "requests_profiled": len(reqs) - 100,
        "cpu_ms_per_request_profiled": 1000 * elapsed / (len(reqs) - 100),
        "cpu_ms_per_request": 1000 * cpu,
        "wall_ms_per_request": 1000 * wall,
        "cumulative": _trim(cumulative),
        "own_time": _trim(out.getvalue()),
    }


def _trim(text: str) -> str:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + "/"
    venv = root + ".venv/lib/"
    return "\n".join(line.replace(venv, "").replace(root, "") for line in lines[start:] if line.strip())


# The code before the latest round of work on the hot path (the start of the
# session that made it; see BENCHMARKS.md, "Profile"), profiled whole from a
# git worktree: "before" and "after" differ by every change made since.
BEFORE_REV = "1d8ecc7"


def _in_subprocess(tree: Path) -> dict[str, Any]:
    """``python -m benchmarks.profiling`` run from ``tree``: its own code is
    imported (the working directory comes first on ``sys.path``)."""
    from benchmarks.servers import run_module

    return run_module("benchmarks.profiling", cwd=tree)


def run() -> dict[str, Any]:
    """Before and after, each in a fresh interpreter, on the same database, back to back."""
    from benchmarks import results
    from benchmarks.config import ROOT

    webhook.prepare()
    with checkout.worktree(BEFORE_REV) as tree:
        before = _in_subprocess(tree)
    before["note"] = f"the code as of commit {BEFORE_REV}"
    results.save("profile-before", before)
    return _in_subprocess(ROOT)


if __name__ == "__main__":
    import json

    print(json.dumps(profile_requests(prepare=False)))
