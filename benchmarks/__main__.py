"""``python -m benchmarks [SECTION...]``: run benchmark sections, then render
``BENCHMARKS.md`` from every section's latest results."""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable
from typing import Any


def _sections(before: str | None = None) -> dict[str, Callable[[], dict[str, Any]]]:
    from benchmarks import drills, metrics_cost, profiling, scale, signals, status_cost, webhook, workers

    return {
        "webhook": functools.partial(webhook.run, before=before),
        "workers": workers.run,
        "status": status_cost.run,
        "metrics": metrics_cost.run,
        "profile": profiling.run,
        "drill-redis": drills.redis_killed,
        "drill-postgres": drills.postgres_stopped,
        "drill-worker-kill": drills.workers_killed,
        "scale": scale.run,
        "signals": signals.run,
    }


def main(argv: list[str] | None = None) -> int:
    sections = _sections()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "sections", nargs="*", help=f"any of {', '.join(sections)} (default: all, in this order)"
    )
    parser.add_argument("--render-only", action="store_true", help="only rewrite BENCHMARKS.md")
    parser.add_argument(
        "--before",
        metavar="REV",
        help="webhook: also load the app as of git revision REV (served from a worktree, same "
        "database), its runs taking turns with the current app's",
    )
    args = parser.parse_args(argv)
    sections = _sections(args.before)
    unknown = [s for s in args.sections if s not in sections]
    if unknown:
        parser.error(f"unknown sections: {', '.join(unknown)}")
    from benchmarks import report, results

    chosen = [] if args.render_only else (args.sections or list(sections))
    failed = []
    for name in chosen:
        print(f"== {name}", file=sys.stderr, flush=True)
        started = time.monotonic()
        load = [round(x, 1) for x in os.getloadavg()]
        try:
            value = sections[name]()
        except Exception as exc:  # record it and go on with the other sections
            import traceback

            traceback.print_exc()
            value = {"failed": f"{type(exc).__name__}: {exc}"}
            failed.append(name)
        value["wall_seconds"] = round(time.monotonic() - started, 1)
        value["load_average_at_start"] = load
        results.save(name, value)
        print(f"   {name} done in {value['wall_seconds']} s", file=sys.stderr, flush=True)
    report.write()
    if failed:
        print(f"sections that failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
