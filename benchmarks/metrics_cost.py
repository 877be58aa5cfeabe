"""What the metrics middleware costs the inbound webhook (issue 17).

The same app twice, in one run, under the same ``POST /voice/incoming``
load (benchmarks/paired.py, rounds interleaved): once with
``METRICS_TOKEN`` set, which registers the middleware (a timer before each
Twilio webhook, a histogram observation after it, written to the
multiprocess files gunicorn.conf.py gives the workers), and once without,
which registers neither (ivr/metrics.py). The issue's bound: at most 3 % of
throughput.
"""

from __future__ import annotations

import re
from typing import Any

from benchmarks import paired, servers, signed, webhook
from benchmarks.config import HOST, LOAD_CONNECTIONS, WORK, app_environ
from benchmarks.metrics_in_process import SETUP

TOKEN = "bench-metrics-token"  # noqa: S105 - bench only
PER_RUN = 1000 * paired.SECONDS  # more than a run can send: every request a new call
OBSERVED = re.compile(r'^safety_webhook_duration_seconds_count\{endpoint="voice\.incoming"\} (\S+)$', re.M)


def run() -> dict[str, Any]:
    url, seeded = webhook.prepare()
    env = app_environ(url)
    with_metrics = paired.Contender("metrics-on", webhook.APP, {**env, "METRICS_TOKEN": TOKEN})
    without = paired.Contender("metrics-off", webhook.APP, env)

    def calls(count: int, seed: int) -> list[signed.SignedRequest]:
        return signed.incoming_calls(seeded.lines, seeded.callers, count, seed)

    scraped: dict[str, Any] = {}

    def scrape(contender: paired.Contender) -> None:
        """What /metrics says after the load: the middleware did observe
        every webhook with the token, and is absent without it (404)."""
        status, body = _get_metrics(contender.port)
        found = OBSERVED.search(body.decode())
        scraped[contender.name] = {"status": status, "observed": float(found.group(1)) if found else None}

    webhook.flush_redis()
    # Both loaded at once in each round: a 3 % difference is far below the
    # machine's drift between two runs, even back to back.
    paired.compare([with_metrics, without], calls, PER_RUN, after_load=scrape, together=True)
    webhook.flush_redis()
    in_process = _in_process(url, seeded)
    webhook.flush_redis()
    on, off = with_metrics.summary(), without.summary()
    sent = sum(run["requests"] for run in on["runs"]) + paired.WARM_UP
    return {
        "rounds": paired.ROUNDS,
        "seconds": paired.SECONDS,
        "connections": LOAD_CONNECTIONS,
        "with_metrics": on,
        "without_metrics": off,
        "with_over_without": paired.ratio(on, off),
        "scraped": scraped,
        "requests_with_metrics": sent,
        "in_process": in_process,
    }


def _in_process(url: str, seeded: Any) -> dict[str, Any]:
    """benchmarks/metrics_in_process.py in a process of its own, with the
    multiprocess directory gunicorn.conf.py would give it."""
    import json
    import tempfile

    setup = WORK / "metrics-in-process.json"
    setup.write_text(json.dumps({"url": url, "lines": seeded.lines, "callers": seeded.callers}))
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as directory:
        env = {**app_environ(url), "PROMETHEUS_MULTIPROC_DIR": directory, SETUP: str(setup)}
        return servers.run_module("benchmarks.metrics_in_process", env=env)


def _get_metrics(port: int) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"http://{HOST}:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback only)
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
