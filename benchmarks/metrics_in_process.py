"""``python -m benchmarks.metrics_in_process``: the CPU one
inbound webhook costs its thread, with the metrics middleware and without,
requests alternating one by one between two apps in one process.

Part of the ``metrics`` section (benchmarks/metrics_cost.py). Alternating
request by request leaves no drift between the two, and thread CPU time
leaves out the waits (PostgreSQL, Redis), so this resolves a cost far below
the load runs' noise. Run as its own process, with
``PROMETHEUS_MULTIPROC_DIR`` set as gunicorn.conf.py sets it, so the
histogram writes to its files as it does in production; what to call is
in the JSON file named by ``BENCH_METRICS_SETUP``. Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks import signed
from benchmarks.config import in_process_app

REQUESTS = 1500  # each app; plus a warm-up of its own
WARM_UP = 100
TOKEN = "bench-metrics-token"  # noqa: S105 - bench only
FORM = "application/x-www-form-urlencoded"
SETUP = "BENCH_METRICS_SETUP"


def measure(url: str, lines: list[str], callers: list[str], count: int = REQUESTS) -> dict[str, Any]:
    """``count`` calls to each app, alternating; the seeded ``lines`` called by ``callers``."""
    apps = {"with": in_process_app(url, METRICS_TOKEN=TOKEN), "without": in_process_app(url)}
    clients = {name: app.test_client() for name, app in apps.items()}
    calls = signed.incoming_calls(lines, callers, 2 * (count + WARM_UP), seed=41)
    spent: dict[str, list[int]] = {name: [] for name in clients}
    for k in range(count + WARM_UP):
        # Who goes first alternates too.
        order = list(clients) if k % 2 else list(reversed(clients))
        for j, name in enumerate(order):
            request = calls[2 * k + j]
            started = time.thread_time_ns()
            response = clients[name].post(
                request.path,
                data=request.body,
                headers={"X-Twilio-Signature": request.signature, "Content-Type": FORM},
            )
            used = time.thread_time_ns() - started
            assert response.status_code == 200, response.status_code
            if k >= WARM_UP:
                spent[name].append(used)
    medians = {name: statistics.median(ns) / 1000 for name, ns in spent.items()}
    means = {name: statistics.fmean(ns) / 1000 for name, ns in spent.items()}
    return {
        "requests_each": count,
        "median_us": medians,
        "mean_us": means,
        "with_over_without_median": medians["with"] / medians["without"],
        "with_over_without_mean": means["with"] / means["without"],
    }


if __name__ == "__main__":
    setup = json.loads(Path(os.environ[SETUP]).read_text())
    print(json.dumps(measure(setup["url"], setup["lines"], setup["callers"])))
