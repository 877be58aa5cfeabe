"""Issue 20: where the project's inbound call spends CPU the floor's does
not, measured in the same run as the HTTP figures.

Both apps serve the same kind of ``POST /voice/incoming`` (each a new
signed call to a provisioned line from a random caller) in this process,
called as WSGI apps with a fresh environ per request (no HTTP server, no
test client, so only the apps' own work is counted), against the
benchmark database:

- **CPU per request**, unprofiled: interleaved rounds, each app's CPU time
  (``time.process_time``) over its slice of calls, medians;
- **by component**, from cProfile: each function's own time summed by
  where it lives (a module of this project, a library, Python's standard
  library, the built-ins), per request, project beside floor. The
  profiler's overhead inflates every figure alike, so read them as shares.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from typing import Any

from benchmarks import seed, signed
from benchmarks.config import ROOT, in_process_app

ROUNDS = 9
PER_ROUND = 250
PROFILED = 1500
WARM_UP = 200
TOP = 12

Environ = dict[str, Any]
WsgiApp = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]


def measure(url: str, seeded: seed.Seeded) -> dict[str, Any]:
    from benchmarks import floor_app
    from ivr import services_of

    project = in_process_app(url)
    with _environment(DATABASE_URL=url):
        floor = floor_app.create_app()
    apps: dict[str, WsgiApp] = {"app": project, "floor": floor}
    needed = WARM_UP + ROUNDS * PER_ROUND + PROFILED
    calls = {
        name: signed.incoming_calls(seeded.lines, seeded.callers, needed, seed=41 + k)
        for k, name in enumerate(apps)
    }
    for name, app in apps.items():
        _serve(app, calls[name][:WARM_UP])
    cpu: dict[str, list[float]] = {name: [] for name in apps}
    for i in range(ROUNDS):
        start = WARM_UP + i * PER_ROUND
        for name, app in _rotated(list(apps.items()), i):
            environs = [_environ(r) for r in calls[name][start : start + PER_ROUND]]
            began = time.process_time()
            _serve_environs(app, environs)
            cpu[name].append(1e6 * (time.process_time() - began) / PER_ROUND)
    own: dict[str, Counter[str]] = {}
    for name, app in apps.items():
        environs = [_environ(r) for r in calls[name][-PROFILED:]]
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        _serve_environs(app, environs)
        profiler.disable()
        own[name] = _by_component(profiler, PROFILED)
    services_of(project).db.engine.dispose()
    gap = Counter({key: own["app"][key] - own["floor"][key] for key in own["app"] | own["floor"]})
    median = {name: statistics.median(rounds) for name, rounds in cpu.items()}
    return {
        "cpu_us": median,
        "cpu_ratio": median["app"] / median["floor"] if median["floor"] else 0.0,
        "cpu_rounds": cpu,
        "profiled_us": {name: sum(counter.values()) for name, counter in own.items()},
        "components": [
            {"component": key, "app_us": own["app"][key], "floor_us": own["floor"][key], "more_us": more}
            for key, more in gap.most_common(TOP)
        ],
        "requests_profiled": PROFILED,
    }


def _rotated(items: list[Any], i: int) -> list[Any]:
    return items[i % len(items) :] + items[: i % len(items)]


def _environ(r: signed.SignedRequest) -> Environ:
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(
        path=r.path,
        method="POST",
        data=r.body,
        content_type="application/x-www-form-urlencoded",
        headers=[("X-Twilio-Signature", r.signature)],
    )
    try:
        return builder.get_environ()
    finally:
        builder.close()


def _serve(app: WsgiApp, requests: list[signed.SignedRequest]) -> None:
    _serve_environs(app, [_environ(r) for r in requests])


def _serve_environs(app: WsgiApp, environs: list[Environ]) -> None:
    def start_response(status: str, _headers: Any, _exc_info: Any = None) -> None:
        if not status.startswith("200"):
            raise AssertionError(f"the benchmark's call was answered {status}")

    for environ in environs:
        body = app(environ, start_response)
        b"".join(body)
        close = getattr(body, "close", None)
        if close is not None:
            close()


def _by_component(profiler: cProfile.Profile, requests: int) -> Counter[str]:
    stats = pstats.Stats(profiler, stream=io.StringIO())
    per_component: Counter[str] = Counter()
    for (filename, _line, _function), row in stats.stats.items():  # type: ignore[attr-defined]
        own_seconds = row[2]
        per_component[_component(filename)] += 1e6 * own_seconds / requests
    return per_component


_STDLIB = os.path.dirname(os.__file__)


def _component(filename: str) -> str:
    """Where a profiled function lives: this project's module, a library's
    top-level package, the standard library's module, or the built-ins."""
    if filename == "~" or filename.startswith("<"):
        return "built-ins"
    if "site-packages" in filename:
        return filename.split("site-packages" + os.sep, 1)[1].split(os.sep, 1)[0]
    root = str(ROOT) + os.sep
    if filename.startswith(root):
        return filename[len(root) :]
    if filename.startswith(_STDLIB):
        return "stdlib " + os.path.relpath(filename, _STDLIB)
    return filename


@contextmanager
def _environment(**values: str) -> Any:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


if __name__ == "__main__":  # a look on its own: python -m benchmarks.floor_profile
    import json

    from benchmarks import webhook

    database, seeded_db = webhook.prepare()
    json.dump(measure(database, seeded_db), sys.stdout, indent=1)
