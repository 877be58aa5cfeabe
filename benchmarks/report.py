"""Render ``BENCHMARKS.md`` from ``benchmarks/results.json`` through the
template ``benchmarks/templates/BENCHMARKS.md.j2``.

The prose is in the template and every figure in it comes from the results:
the last run of each section, and ``trials`` (dated hand-run trials that no
section repeats); the sizes and settings of the harness it names come from
the benchmark modules themselves. This module decides which targets were met and works out
the arithmetic the analysis of a missed target needs; the analysis itself
is shown only when the target is missed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from benchmarks import results
from benchmarks.config import ROOT

OUT = ROOT / "BENCHMARKS.md"
TEMPLATE = Path(__file__).resolve().parent / "templates" / "BENCHMARKS.md.j2"
COMMAND = "bash benchmarks/run.sh"
NO_FIGURE = "\N{EN DASH}"  # where a run gave none

# The targets of issue 7, in one place for both the verdicts and their labels.
LIMITS = {
    "webhook_ratio": 0.5,  # inbound-call req/s at least this share of bare Flask's
    "webhook_p99_ms": 50,
    "workers_ratio": 0.5,  # call-event jobs/s at least this share of RQ no-op jobs/s
    "scale_p50_ratio": 1.3,  # p50 latency, large database over small, at most
    "inbox_p95_ms": 200,
    "postgres_answer_s": 2,  # every answer while PostgreSQL is down within this
    # issue 15: the periodic signal count over 10,000,000 calls, and the signals page
    "signals_count_s": 60,
    "signals_page_p95_ms": 200,
    # issue 17: inbound-webhook req/s with the metrics middleware over without, at least
    "metrics_ratio": 0.97,
    # issue 20: the inbound webhook against its floor (benchmarks/floor_app.py)
    "floor_throughput": 0.9,  # req/s at 50 connections, at least this share of the floor's
    "floor_p99": 1.2,  # p99 at 50 connections, at most this multiple of the floor's
    "floor_lone_p50": 1.2,  # a lone caller's median, at most this multiple of the floor's
}
# issue 19: what durable events may add to a status callback: one indexed insert.
STATUS_STATEMENTS = {"INSERT INTO events": 1.0}


def write() -> None:
    OUT.write_text(render(results.load()))


def render(data: dict[str, Any]) -> str:
    """The Markdown of ``BENCHMARKS.md`` for these results."""
    sections = {key.replace("-", "_"): data.get(key, {}) for key in _SECTIONS}
    context = {
        **sections,
        "machine": data.get("machine", {}),
        "trials": data.get("trials", {}),
        "command": COMMAND,
        "limits": LIMITS,
        "checks": _checks(data),
        "derived": _derived(data),
        "harness": _harness(),
        "missed": _webhook_missed(data),
        "workers_missed": _workers_missed(data.get("workers", {})),
        "redis_phases": _redis_phases(data.get("drill-redis", {})),
    }
    text = _environment().get_template(TEMPLATE.name).render(context)
    # one blank line between blocks, however the template's conditions fell
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


_SECTIONS = (
    "webhook",
    "webhook-before",
    "profile",
    "profile-before",
    "workers",
    "status",
    "metrics",
    "scale",
    "signals",
    "drill-redis",
    "drill-postgres",
    "drill-worker-kill",
)


def _environment() -> Environment:
    env = Environment(  # noqa: S701 - Markdown of our own figures, not HTML
        loader=FileSystemLoader(TEMPLATE.parent),
        undefined=StrictUndefined,  # a figure missing from the results fails the render
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        num=number,
        fixed=lambda value, digits=1: f"{value:.{digits}f}",
        percent=lambda value: f"{value:.0%}",
        met=lambda ok: NO_FIGURE if ok is None else ("**met**" if ok else "**missed**"),
        top=lambda text, n: "\n".join(text.splitlines()[: n + 1]),
        runs=lambda runs: ", ".join(f"{number(r['rps'], 0)} ({number(r['p99_ms'])})" for r in runs),
        listing=_listing,
    )
    return env


def number(value: Any, digits: int = 1) -> str:
    """A figure as the tables show it: thousands separated, floats to ``digits``."""
    if value is None:
        return NO_FIGURE
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _listing(values: Iterable[float], digits: int = 1) -> str:
    """``1.0, 2.0 and 3.0``."""
    shown = [f"{v:.{digits}f}" for v in values]
    return ", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else "".join(shown)


def _checks(data: dict[str, Any]) -> dict[str, bool]:
    """Whether each target was met, for the sections that have results."""
    checks: dict[str, bool] = {}
    w = data.get("webhook", {})
    if "app" in w:
        checks["webhook_ratio"] = w["ratio"] >= LIMITS["webhook_ratio"]
        checks["webhook_p99"] = w["app"]["p99_ms"] < LIMITS["webhook_p99_ms"]
        checks["webhook_errors"] = w["app"]["errors"] == 0
    if "floor_ratio" in w:
        checks["floor_throughput"] = w["floor_ratio"] >= LIMITS["floor_throughput"]
        checks["floor_p99"] = w["p99_over_floor"] <= LIMITS["floor_p99"]
        checks["floor_lone_p50"] = w["unloaded_p50_over_floor"] <= LIMITS["floor_lone_p50"]
    k = data.get("workers", {})
    if "ratio" in k:
        checks["workers_ratio"] = k["ratio"] >= LIMITS["workers_ratio"]
    st = data.get("status", {})
    if "statements_per_callback" in st:
        checks["status_statements"] = (
            st["statements_per_callback"] == STATUS_STATEMENTS and st["after"]["errors"] == 0
        )
    m = data.get("metrics", {})
    if "with_over_without" in m:
        checks["metrics_ratio"] = m["with_over_without"]["rps_by_round"] >= LIMITS["metrics_ratio"]
    if "with_over_without_median" in m.get("in_process", {}):
        checks["metrics_cpu"] = m["in_process"]["with_over_without_median"] <= 1 / LIMITS["metrics_ratio"]
    s = data.get("scale", {})
    if "p50_ratio" in s:
        checks["scale_p50"] = s["p50_ratio"] <= LIMITS["scale_p50_ratio"]
        if "admin" in s.get("staff_inbox", {}):
            checks["staff_inbox"] = _inbox_worst_p95(s) < LIMITS["inbox_p95_ms"]
    sg = data.get("signals", {})
    if "first_count" in sg:
        checks["signals_count"] = _slowest_count(sg) < LIMITS["signals_count_s"]
        checks["signals_page"] = sg["page_p95_ms"] < LIMITS["signals_page_p95_ms"]
    r = data.get("drill-redis", {})
    if "events_lost" in r:
        checks["drill_redis"] = r["failed_webhooks"] == 0 and r["events_lost"] == 0
    p = data.get("drill-postgres", {})
    if "while_down" in p:
        checks["drill_postgres"] = (
            _unsafe_answers(p) == 0
            and (p["all_answers"]["max_ms"] or 0) < 1000 * LIMITS["postgres_answer_s"]
            and p["recovered_after_s"] is not None
        )
    kk = data.get("drill-worker-kill", {})
    if "events_lost" in kk:
        checks["drill_worker_kill"] = (
            kk["events_lost"] == 0
            and kk["duplicate_rows"] == 0
            and kk["calls_in_right_final_state"] == kk["calls"]
        )
    return checks


def _inbox_worst_p95(scale: dict[str, Any]) -> float:
    inbox = scale["staff_inbox"]
    return float(max(inbox["admin"]["p95_ms"], inbox["caseworker"]["p95_ms"]))


def _slowest_count(signals: dict[str, Any]) -> float:
    return float(max(signals["first_count"]["seconds"], signals["steady_count"]["seconds"]))


def _unsafe_answers(drill: dict[str, Any]) -> int:
    """Answers while PostgreSQL was down that were not safe TwiML."""
    answers = drill["while_down"]["answers"]
    return sum(n for kind, n in answers.items() if kind.startswith(("HTTP", "socket", "not")))


def _derived(data: dict[str, Any]) -> dict[str, Any]:
    """Figures the prose needs that are sums or ratios of the results."""
    derived: dict[str, Any] = {"cores": data.get("machine", {}).get("cores") or 2}
    s = data.get("scale", {})
    if "small" in s:
        derived["scale_growth"] = s["large"]["counts"]["members"] / s["small"]["counts"]["members"]
    if "admin" in s.get("staff_inbox", {}):
        derived["inbox_worst_p95_ms"] = _inbox_worst_p95(s)
    if "first_count" in data.get("signals", {}):
        derived["signals_slowest_count_s"] = _slowest_count(data["signals"])
    if "while_down" in data.get("drill-postgres", {}):
        derived["postgres_unsafe"] = _unsafe_answers(data["drill-postgres"])
    r = data.get("drill-redis", {})
    if "worker_drain" in r:
        after_sweep = r.get("worker_drain_after_sweep", {}).get("jobs", 0)
        derived["redis_extra_jobs"] = r["worker_drain"]["jobs"] + after_sweep - r["events_sent"]
    k = data.get("drill-worker-kill", {})
    derived["stranded"] = k.get("stranded_in_intermediate_queue", 0) + k.get(
        "stranded_in_scheduled_registry", 0
    )
    return derived


def _harness() -> dict[str, Any]:
    """The sizes and settings of the harness that the prose names."""
    from benchmarks import drills, scale, seed, signals, workers
    from benchmarks.config import PG_DATABASE, REDIS_URL

    return {
        "redis_db": REDIS_URL.rsplit("/", 1)[-1],
        "bench_database": PG_DATABASE,
        "redis_drill_port": drills.REDIS_PORT,
        "postgres_drill_port": drills.POSTGRES_PORT,
        "drill_clients": drills.CLIENTS,
        "call_every_ms": round(1000 * drills.CALL_EVERY_SECONDS),
        "call_seconds": workers.CALL_SECONDS,
        "last_sequence": len(workers.EVENTS) - 1,
        "real_members": seed.REAL_MEMBERS,
        "scale_connections": scale.LATENCY_CONNECTIONS,
        "scale_calls_target": scale.CALLS,
        "signals_members": signals.MEMBERS,
        "signals_calls_target": signals.CALLS,
        "signals_seeded": signals.SIGNALS,
        "signals_rounds": signals.ROUNDS,
        "signals_pages_walked": signals.PAGES_WALKED,
    }


def _redis_phases(drill: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The Redis drill's windows in the order they happened."""
    order = ["redis up", "redis killed", "redis restarting and back", "redis back"]
    phases = drill.get("phases", {})
    return sorted(phases.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))


def _workers_missed(workers: dict[str, Any]) -> dict[str, float] | None:
    """Per-job costs behind a missed worker target, in ms."""
    if "ratio" not in workers or workers["ratio"] >= LIMITS["workers_ratio"]:
        return None
    ping_ms = 1000 / workers["ping"]["jobs_per_second"]
    return {"ping_ms": ping_ms, "extra_ms": 1000 / workers["call_event"]["jobs_per_second"] - ping_ms}


def _webhook_missed(data: dict[str, Any]) -> dict[str, Any] | None:
    """The arithmetic of a missed webhook target's cause, from the run's figures."""
    w = data.get("webhook", {})
    missed = "app" in w and (
        w["ratio"] < LIMITS["webhook_ratio"] or w["app"]["p99_ms"] >= LIMITS["webhook_p99_ms"]
    )
    cpu = w.get("cpu_us_per_request")
    if not missed or not cpu:
        return None
    bare, app = cpu["baseline"], cpu["app"]
    bare_total, app_total = sum(bare.values()), sum(app.values())
    cores = data.get("machine", {}).get("cores") or 2
    connections = w["connections"]
    rps, p99, mean = w["app"]["rps"], w["app"]["p99_ms"], w["app"]["mean_ms"]
    tail = p99 / mean if mean else 1.0
    # Little's law: the throughput at which the p99 would just meet its target
    needed = connections / (LIMITS["webhook_p99_ms"] / tail) * 1000 if tail else 0.0
    return {
        "cores": cores,
        "connections": connections,
        "bare_busy": w["baseline"]["rps"] * bare_total / (cores * 1e6),
        "app_busy": rps * app_total / (cores * 1e6),
        "p99": p99,
        "mean": mean,
        "bare_total": bare_total,
        "app_total": app_total,
        "app_web": app["web"],
        "pg": app["postgres"],
        "floor": app["postgres"] + bare_total,
        "budget": cores * 1e6 / (LIMITS["webhook_ratio"] * w["baseline"]["rps"]),
        "little": connections / rps * 1000 if rps else 0.0,
        "tail": tail,
        "needed": needed,
        "needed_cpu": cores * 1e6 / needed if needed else 0.0,
        "per_core": f"{1e6 / app['web']:,.0f}" if app["web"] else "?",
        "cores_needed": math.ceil(needed * app_total / 1e6),
    }
