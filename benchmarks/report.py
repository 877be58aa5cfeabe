# ruff: noqa: RUF001, S608, E501 - a report renderer: typographic prose, SQL named in prose, wide table rows
"""Render ``BENCHMARKS.md`` from ``benchmarks/results.json``.

Figures come from the last run of each section; the analysis of a missed
target (its measured cause and what would close it) is written here, next to
the numbers it explains, and shown only when the target is missed.
"""

from __future__ import annotations

import math
from typing import Any

from benchmarks import results
from benchmarks.config import ROOT

OUT = ROOT / "BENCHMARKS.md"
COMMAND = "bash benchmarks/run.sh"


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _met(ok: bool | None) -> str:
    return "–" if ok is None else ("**met**" if ok else "**missed**")


def _section_head(data: dict[str, Any], name: str) -> str:
    s = data.get(name, {})
    if not s:
        return "_Not run yet._\n"
    bits = [f"measured {s.get('measured_at', '?')} at commit `{s.get('commit', '?')}`"]
    if "wall_seconds" in s:
        bits.append(f"section took {_f(s['wall_seconds'])} s")
    if "load_average_at_start" in s:
        bits.append(f"load average at start {s['load_average_at_start']}")
    head = "_" + "; ".join(bits) + "._\n"
    if "failed" in s:
        head += f"\n**This section failed:** `{s['failed']}`\n"
    return head


def _targets(data: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    rows: list[tuple[str, str, bool | None]] = []
    w = data.get("webhook", {})
    if "app" in w:
        rows.append(("Webhook throughput ≥ 0.5 × bare Flask", f"{w['ratio']:.2f} ×", w["ratio"] >= 0.5))
        rows.append(
            ("Webhook p99 < 50 ms at 50 connections", f"{_f(w['app']['p99_ms'])} ms", w["app"]["p99_ms"] < 50)
        )
        rows.append(
            (
                "Webhook errors (non-2xx, socket, apologies) = 0",
                _f(w["app"]["errors"]),
                w["app"]["errors"] == 0,
            )
        )
    k = data.get("workers", {})
    if "ratio" in k:
        rows.append(("Call-event jobs/s ≥ 0.5 × RQ no-op jobs/s", f"{k['ratio']:.2f} ×", k["ratio"] >= 0.5))
    s = data.get("scale", {})
    if "p50_ratio" in s:
        rows.append(
            ("Scale: latency large / small ≤ 1.3 (p50)", f"{s['p50_ratio']:.2f}", s["p50_ratio"] <= 1.3)
        )
        inbox = s.get("staff_inbox", {})
        if "admin" in inbox:
            worst = max(inbox["admin"]["p95_ms"], inbox["caseworker"]["p95_ms"])
            rows.append(("Staff inbox, 100,000 reports: p95 < 200 ms", f"{_f(worst)} ms", worst < 200))
    r = data.get("drill-redis", {})
    if "events_lost" in r:
        rows.append(
            (
                "Redis SIGKILLed under load: 0 failed webhooks, 0 lost events",
                f"{r['failed_webhooks']} failed, {r['events_lost']} lost",
                r["failed_webhooks"] == 0 and r["events_lost"] == 0,
            )
        )
    p = data.get("drill-postgres", {})
    if "while_down" in p:
        down = p["while_down"]
        unsafe = sum(n for kind, n in down["answers"].items() if kind.startswith(("HTTP", "socket", "not")))
        ok = unsafe == 0 and (p["all_answers"]["max_ms"] or 0) < 2000 and p["recovered_after_s"] is not None
        rows.append(
            (
                "PostgreSQL stopped: safe TwiML within 2 s, recovers by itself",
                f"max {_f(p['all_answers']['max_ms'])} ms, {unsafe} unsafe, "
                f"recovered {_f(p['recovered_after_s'], 2)} s after start",
                ok,
            )
        )
    kk = data.get("drill-worker-kill", {})
    if "events_lost" in kk:
        rows.append(
            (
                "Workers SIGKILLed in a burst: no lost, no duplicated work",
                f"{kk['events_lost']} lost, {kk['duplicate_rows']} duplicated, "
                f"{kk['calls_in_right_final_state']}/{kk['calls']} calls right"
                + (
                    f" ({kk['stranded_in_intermediate_queue'] + kk['stranded_in_scheduled_registry']} job(s) "
                    "late until RQ's maintenance round, see the drill)"
                    if kk.get("stranded_in_intermediate_queue", 0)
                    + kk.get("stranded_in_scheduled_registry", 0)
                    else ""
                ),
                kk["events_lost"] == 0
                and kk["duplicate_rows"] == 0
                and kk["calls_in_right_final_state"] == kk["calls"],
            )
        )
    return rows


def _webhook(data: dict[str, Any]) -> str:
    w = data.get("webhook", {})
    out = [_section_head(data, "webhook")]
    if "app" not in w:
        return "\n".join(out)
    b, a = w["baseline"], w["app"]
    out.append(
        f"`POST /voice/incoming`, full path (signature check, line + member + block + warnings lookup and "
        f"the call-log upsert, committed, in one statement; TwiML), {w['distinct_requests']:,} pre-signed requests "
        f"(different lines and callers, 1 caller in 10 with warnings on file; each a new CallSid, more "
        f"than a run sends, so no request is a retry of a logged call) sent in turn by "
        f"`benchmarks/rotate.lua`; wrk 1 thread, {w['connections']} connections, {w['seconds']} s, on "
        f"127.0.0.1. Server: {w['server']}, PostgreSQL and Redis on the same machine.\n"
    )
    out.append("| | req/s | p50 ms | p90 ms | p99 ms | max ms | errors |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    rows = [("bare Flask (fixed TwiML)", b), ("Safety Number", a)]
    before = data.get("webhook-before", {})
    if "app" in before:
        rows.append(
            (
                f"Safety Number before this round's changes (commit `{before['commit']}`, measured "
                f"{before['measured_at']}; its bare Flask: {_f(before['baseline']['rps'])} req/s)",
                before["app"],
            )
        )
    for name, r in rows:
        out.append(
            f"| {name} | {_f(r['rps'])} | {_f(r['p50_ms'])} | {_f(r['p90_ms'])} | {_f(r['p99_ms'])} "
            f"| {_f(r['max_ms'])} | {_f(r['errors'])} |"
        )
    st = w.get("status_callback")
    if st:
        out.append(
            f"| status callback `POST /voice/status` (signature check + RQ enqueue) | {_f(st['rps'])} "
            f"| {_f(st['p50_ms'])} | {_f(st['p90_ms'])} | {_f(st['p99_ms'])} | {_f(st['max_ms'])} "
            f"| {_f(st['errors'])} |"
        )
    if w.get("app_runs"):
        out.append(
            f"\nEach server was loaded {w['runs']} times back to back (the app with a new slice of calls "
            f"each time); the rows above are the median runs. All runs, req/s (p99 ms): bare "
            + ", ".join(f"{_f(r['rps'], 0)} ({_f(r['p99_ms'])})" for r in w["baseline_runs"])
            + "; Safety Number "
            + ", ".join(f"{_f(r['rps'], 0)} ({_f(r['p99_ms'])})" for r in w["app_runs"])
            + "."
        )
    out.append(
        f"\nThroughput ratio (inbound call / bare): **{w['ratio']:.3f}**. Answers seen while warming up: "
        f"{w['warm_up_answers']}" + (f"; status callbacks: {w['status_warm_up_answers']}." if st else ".")
    )
    out.append(
        "The inbound-call webhook itself enqueues nothing: it writes the call-log row (the whisper "
        'and "block the last caller" read it seconds later), and the queue is fed by the status '
        "callbacks, measured on the status-callback row (same server, same wrk settings, each request "
        "a new CallSid; it is also the load of the Redis drill)."
    )
    out.append(
        f"Errors count non-2xx answers ({a['non2xx']}), socket errors/timeouts ({a['socket_errors']}) and "
        f"200 answers carrying the apology of a swallowed internal failure ({a['apologies']})."
    )
    cpu = w.get("cpu_us_per_request")
    if cpu:
        out.append(
            "\nWhere the CPU went during each run (µs of CPU per request, from `/proc` and the "
            "load generator's rusage; the machine has 2 cores, so 2,000,000 µs per second in all):\n"
        )
        out.append("| | web workers | PostgreSQL | wrk | total |")
        out.append("|---|---:|---:|---:|---:|")
        for name, key in (("bare Flask", "baseline"), ("Safety Number", "app")):
            c = cpu[key]
            out.append(
                f"| {name} | {_f(c['web'], 0)} | {_f(c['postgres'], 0)} | {_f(c['load_generator'], 0)} "
                f"| {_f(sum(c.values()), 0)} |"
            )
    peaks = w.get("peak_rss_kib", {})
    if peaks:
        worst = max(peaks.values()) / 1024
        out.append(
            "\n**Memory**: peak RSS (VmHWM) of the web workers after the run: "
            + ", ".join(f"{v / 1024:.0f} MiB" for v in peaks.values())
            + f" (worst {worst:.0f} MiB)."
        )
    return "\n".join(out) + "\n"


def _profile(data: dict[str, Any]) -> str:
    before, after = data.get("profile-before", {}), data.get("profile", {})
    out = [_section_head(data, "profile")]
    if not after.get("cumulative"):
        return "\n".join(out)
    out.append(
        "cProfile (CPU time, `time.process_time`) of `POST /voice/incoming` served serially in-process "
        "through Flask's test client against the benchmark database (`python -m benchmarks profile`).\n"
    )
    out.append("| | CPU ms / request | wall ms / request |")
    out.append("|---|---:|---:|")
    if before.get("cpu_ms_per_request"):
        out.append(
            f"| before: `{before.get('note', 'statements rebuilt per request')}`, same run "
            f"| {_f(before['cpu_ms_per_request'], 2)} | {_f(before['wall_ms_per_request'], 2)} |"
        )
    out.append(
        f"| after: commit `{after.get('commit', '?')}` | {_f(after['cpu_ms_per_request'], 2)} "
        f"| {_f(after['wall_ms_per_request'], 2)} |"
    )
    out.append(FIXES)
    if before.get("cumulative"):
        out.append(
            "Before — cumulative CPU, top entries:\n\n```\n" + _top(before["cumulative"], 22) + "\n```\n"
        )
    out.append("After — cumulative CPU, top entries:\n\n```\n" + _top(after["cumulative"], 22) + "\n```\n")
    out.append("After — own CPU time, top entries:\n\n```\n" + _top(after["own_time"], 16) + "\n```\n")
    return "\n".join(out)


def _top(text: str, n: int) -> str:
    return "\n".join(text.splitlines()[: n + 1])


FIXES = """
What the figures showed and what was changed in this round (before: the code at the start of the
round; both measured in this run):

- **Round trips to PostgreSQL** were the largest cost under load: each one is psycopg and kernel
  work in the web process, PostgreSQL work, and a context switch either way on two busy cores. An
  inbound call made five: a pool pre-ping, `BEGIN`, the lookup, the upsert, `COMMIT`. Now it
  makes one (two when the caller is rejected). The lookup and the idempotent upsert are one
  statement on PostgreSQL — the insert is a data-modifying `WITH` over the lookup, written for a
  live line not called by its member (`storage/inbound_repository.py`; SQLite, which has no such
  thing, runs the same insert after the lookup). It runs on a *standalone* connection
  (`storage/db.py`: autocommit on PostgreSQL, no `BEGIN` on SQLite), since nothing else needs to
  succeed or fail with it; and a pooled connection is pinged only after sitting idle for a second
  (a restart takes longer, and the first failed statement invalidates the whole pool;
  `tests/test_fault_drills.py` cuts an idle connection and checks the next caller is served).
- **ORM machinery on the hot path:** the lookup loaded `SafetyNumber` and `Member` entities
  through the ORM session; it now selects plain columns with a Core statement on the connection
  (`storage/inbound_repository.py`).
- **The signature** was computed twice per request (twilio's `validate` tries the URL with and
  without a port); it is computed once and `validate` runs only when that fails, and the form
  gives the validator the `getall` it asks for first, so no field costs a caught
  `AttributeError` (`ivr/twilio_guard.py`).
- **TwiML serialisation** went through an ElementTree copy of the document; `ivr/twiml_text.py`
  writes the same bytes directly — checked byte for byte against `str(response)` by a hypothesis
  test and for every document the test suite serves.
- **URLs for Twilio:** `url_for` ran three times per call; endpoint paths are now built once.
- **Cookie sessions** are not opened for Twilio's paths (`ivr/sessions.py`).
- **Server settings** (`gunicorn.conf.py`, both apps): `reuse_port`, and the app's start-up
  objects frozen out of the garbage collector — see "Why these gunicorn settings".

Earlier round (kept for the record): the two statements were built per request with literal
values, and SQLAlchemy spent more CPU building them and their cache keys than the rest of the
webhook; they are built once with bound parameters (`functools.cache`), and the call-event job's
insert likewise.

What is left is spread thin: Flask's request handling, SQLAlchemy Core and psycopg for one
statement, phonenumbers parsing `From` (about 25 µs), Fernet for the caller's number and the
member's, HMAC-SHA1 of the signature, TwiML.
"""


def _workers(data: dict[str, Any]) -> str:
    k = data.get("workers", {})
    out = [_section_head(data, "workers")]
    if "ratio" not in k:
        return "\n".join(out)
    p, e = k["ping"], k["call_event"]
    out.append(
        f"Jobs enqueued through the app's own queue (`services.queue.enqueue`, same retry and TTL settings), "
        f"then drained by {k['worker']} (`python -m benchmarks.burst`), same Redis (database 7).\n"
    )
    out.append("| job | jobs | seconds | jobs/s | failed |")
    out.append("|---|---:|---:|---:|---:|")
    out.append(
        f"| `worker.jobs.ping` (no-op) | {p['jobs']:,} | {_f(p['seconds'])} | {_f(p['jobs_per_second'])} | {p['failed']} |"
    )
    out.append(
        f"| `call_event` (4 status callbacks on each of {k['calls']:,} calls) | {e['jobs']:,} | {_f(e['seconds'])} "
        f"| {_f(e['jobs_per_second'])} | {e['failed']} |"
    )
    out.append(
        f"\nRatio **{k['ratio']:.3f}**. Check: {k['call_event_rows']:,} event rows, "
        f"{k['calls_completed']:,}/{k['calls']:,} calls completed."
    )
    if k.get("ratio", 1) < 0.5:
        ping_ms = 1000 / p["jobs_per_second"]
        out.append(WORKERS_MISSED.format(ping_ms=ping_ms, extra_ms=1000 / e["jobs_per_second"] - ping_ms))
    return "\n".join(out) + "\n"


WORKERS_MISSED = """
**Missed — measured cause.** A no-op job costs RQ's own bookkeeping only (dequeue, started and
finished registries, the result, a handful of Redis round trips): {ping_ms:.2f} ms per job here. A
call-event job adds a real transaction, {extra_ms:.2f} ms more per job: `INSERT … ON CONFLICT DO
NOTHING` of the event, `SELECT … FOR UPDATE` of the call row, a `SELECT` of all its events to
recompute the row order-independently, an `UPDATE`, and a `COMMIT` that waits for the WAL flush to
disk — serially, in one process, so the worker is idle while PostgreSQL flushes. A ratio ≥ 0.5
needs the transaction to cost no more than RQ's bookkeeping. Across runs on this machine the ratio
has been 0.46 to 0.56, the commit's flush time (the disk, shared with the other sections'
checkpoints) making most of the difference.

**What would close it:** (1) more worker processes — jobs are independent and idempotent, and a
call-event job waits on PostgreSQL for much of its time, so two workers per core overlap that wait
(the ratio is for one process each); (2) `SET LOCAL synchronous_commit = off` for the call-log
transaction (a crash could lose the last few hundred ms of call-log updates — a product decision,
not taken here); (3) recomputing the row from the event just inserted plus the locked row, instead
of re-reading every event (one statement less).
"""


def _scale(data: dict[str, Any]) -> str:
    s = data.get("scale", {})
    out = [_section_head(data, "scale")]
    if "small" not in s:
        return "\n".join(out)
    small, large = s["small"], s["large"]
    out.append(
        f"The same `POST /voice/incoming` load ({s['load']}, same gunicorn settings) on the benchmark "
        f"database, first small, then grown in place with `INSERT … SELECT generate_series` "
        f"(random-looking 64-hex blind indexes and CallSids from `md5()`; the 50 members the load "
        f"calls are real, encrypted with the app's vault, so every lookup hits).\n"
    )
    out.append("| | members | warnings | calls | p50 ms | p99 ms | mean ms | req/s | errors |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, part in (("small", small), ("large", large)):
        c, lat = part["counts"], part["latency"]
        out.append(
            f"| {name} | {c['members']:,} | {c['warnings']:,} | {c['calls']:,} | {_f(lat['p50_ms'], 2)} "
            f"| {_f(lat['p99_ms'], 2)} | {_f(lat['mean_ms'], 2)} | {_f(lat['rps'])} | {lat['errors']} |"
        )
    out.append(
        f"\nRatios large/small: p50 **{s['p50_ratio']:.2f}**, p99 {s['p99_ratio']:.2f}, "
        f"mean {s['mean_ratio']:.2f}."
    )
    out.append(
        "Even 4 connections keep both web processes busy on this machine (the req/s above are close to "
        "the 50-connection figure), so these latencies include some queueing; both sizes get the same "
        "load, so the ratio compares like with like. Every query of the webhook is an index probe "
        "(unique `safety_numbers.e164`, `members` primary key, unique `blocks (member_id, caller_index)`, "
        "`warnings.caller_index`, unique `calls.call_sid`): a thousand times more rows add a B-tree "
        "level or two, which does not show against the request's CPU cost."
    )
    t = s["seeding"]
    calls = t["calls"]
    out.append(
        f"\nSeeding times: members (+ their lines) {t['members_seconds']} s, warnings {t['warnings_seconds']} s, "
        f"calls {calls['rows']:,} rows: insert {calls['insert_seconds']} s + index rebuild "
        f"{calls['index_seconds']} s + analyze {calls['analyze_seconds']} s; total {t['total_seconds']} s."
    )
    if s["large"]["counts"]["calls"] < 10_000_000:
        out.append(
            "\n**Call rows below 10,000,000**: the time budget of the run "
            "(`BENCH_SCALE_CALLS_BUDGET`, seconds) stopped the fill at the size above; the figures above "
            "give the rate, so a full 10,000,000 would take proportionally longer. Every lookup the "
            "webhook makes is an index probe (unique `safety_numbers.e164`, `members` primary key, "
            "unique `blocks (member_id, caller_index)`, `warnings.caller_index`, unique "
            "`calls.call_sid`), so its cost grows with the B-tree depth (log n), not with n."
        )
    inbox = s.get("staff_inbox", {})
    out.append("\n### Staff inbox, 100,000 reports\n")
    if "admin" in inbox:
        out.append(
            f"{inbox['reports']:,} reports (seeded in {inbox['seed_seconds']} s); pages {inbox['pages']} rendered "
            f"in-process through Flask's test client (no HTTP server), signed in.\n"
        )
        out.append("| signed in as | requests | p50 ms | p95 ms | max ms | statuses |")
        out.append("|---|---:|---:|---:|---:|---|")
        for role in ("admin", "caseworker"):
            r = inbox[role]
            out.append(
                f"| {role} | {r['requests']} | {_f(r['p50_ms'])} | {_f(r['p95_ms'])} | {_f(r['max_ms'])} "
                f"| {r['statuses']} |"
            )
    else:
        out.append(f"Not measured: {inbox.get('skipped', 'no result')}")
    return "\n".join(out) + "\n"


def _drills(data: dict[str, Any]) -> str:
    out = []
    r = data.get("drill-redis", {})
    out.append("### Redis SIGKILLed under load\n")
    out.append(_section_head(data, "drill-redis"))
    if "phases" in r:
        out.append(
            f"{r['redis']}. Eight clients send {r['requests']:,} requests without pause — "
            f"{r['events_sent']:,} distinct status callbacks and one inbound call in four — to the app under "
            f"gunicorn, each request exactly once, in {r['seconds']} s. A third of the way in, Redis is "
            f"SIGKILLed with requests in flight; two thirds in, it is restarted (it was gone for "
            f"{r['redis_down_seconds']} s). Then the outbox job replays what was kept and one SimpleWorker "
            f"drains the queue. Requests by when they started:\n"
        )
        out.append("| window | requests | answers | p99 ms | max ms |")
        out.append("|---|---:|---|---:|---:|")
        order = ["redis up", "redis killed", "redis restarting and back", "redis back"]
        for phase, p in sorted(
            r["phases"].items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 9
        ):
            out.append(
                f"| {phase} | {p['requests']:,} | {p['answers']} | {_f(p['p99_ms'])} | {_f(p['max_ms'])} |"
            )
        out.append(
            f"\nOutbox entries written while Redis was down: {r['outbox_entries_written']:,}; replayed: "
            f"{r['outbox_replayed']:,}; worker drained {r['worker_drain']['jobs']:,} jobs "
            f"({r['worker_drain']['failed']} failed). Events logged {r['events_logged']:,} of "
            f"{r['events_sent']:,} — **lost {r['events_lost']}**, duplicated rows {r['duplicate_event_rows']}; "
            f"**failed webhooks {r['failed_webhooks']}**."
        )
        extra = r["worker_drain"]["jobs"] - r["events_sent"]
        if extra > 0:
            out.append(
                f"The worker ran {extra} job(s) more than there were events: most likely a request in flight "
                f"as Redis died, whose job Redis had already written (AOF) while the app saw the connection "
                f"drop and kept it in the outbox too. At-least-once delivery: the unique "
                f"(CallSid, SequenceNumber) constraint made the second run a no-op."
            )
    p = data.get("drill-postgres", {})
    out.append("\n### PostgreSQL stopped and started\n")
    out.append(_section_head(data, "drill-postgres"))
    if "while_down" in p:
        out.append(
            f"{p['postgres']}, for {p['down_seconds']} s, while one client places an inbound call every "
            f"50 ms to the app under gunicorn.\n"
        )
        out.append("| window | requests | answers | p99 ms | max ms |")
        out.append("|---|---:|---|---:|---:|")
        for name in ("before", "while_down", "after_restart"):
            w = p[name]
            out.append(
                f"| {name.replace('_', ' ')} | {w['requests']} | {w['answers']} | {_f(w['p99_ms'])} | {_f(w['max_ms'])} |"
            )
        out.append(
            f"\nWhile PostgreSQL is down every caller hears the apology (safe TwiML, status 200) — the "
            f"connection is refused at once, and `connect_timeout=2` bounds a server that hangs (the "
            f"fast drill in the test suite covers that case with a TCP blackhole). The first normal "
            f"answer came **{_f(p['recovered_after_s'], 2)} s** after `pg_ctl start` returned, with no "
            f"restart of the app (the first statement to meet a dead connection invalidates the pool, "
            f"and connections that sat idle are pinged before use)."
        )
    k = data.get("drill-worker-kill", {})
    out.append("\n### Workers SIGKILLed during a burst\n")
    out.append(_section_head(data, "drill-worker-kill"))
    if "events_lost" in k:
        out.append(
            f"{k['jobs']:,} call-event jobs (4 on each of {k['calls']:,} calls) drained by {k['workers']}, "
            f'restarting a worker process when it was killed; kills: {k["kills"]} (a "work horse" kill hits '
            f"a child of a worker process: the horse running a job, or RQ's scheduler process). The live workers had "
            f"run everything they could {k['seconds_after_last_kill_until_settled']} s after the last kill "
            f"(a killed work horse's job comes back through RQ's retry with backoff; failed registry: "
            f"{k['failed_registry']}).\n"
        )
        stranded = k.get("stranded_in_intermediate_queue", 0) + k.get("stranded_in_scheduled_registry", 0)
        if stranded:
            out.append(
                f"At that point {stranded} job(s) were stranded — "
                f"{k.get('stranded_in_intermediate_queue', 0)} in RQ's intermediate queue (dequeued by a "
                f"worker process killed before it recorded the job as started) and "
                f"{k.get('stranded_in_scheduled_registry', 0)} call-event retries still scheduled; distinct "
                f"events logged by then: "
                f"{k.get('distinct_events_before_maintenance', 0):,} of {k['jobs']:,}. Intermediate-queue jobs "
                f"come back only in RQ's maintenance round (every minute in `python -m worker`); the drill "
                f"fast-forwards it (puts them "
                f"back on the queue and drains it with one burst worker: {k.get('maintenance_drain')}).\n"
            )
        out.append(
            f"Final: event rows {k['event_rows']:,}, distinct events {k['distinct_events']:,}: **lost "
            f"{k['events_lost']}, duplicated {k['duplicate_rows']}**; calls in the right final state "
            f"(completed, 42 s, last sequence 3): {k['calls_in_right_final_state']:,}/{k['calls']:,}."
        )
        if k.get("orphaned_work_horses_ended"):
            out.append(
                f"\n{k['orphaned_work_horses_ended']} child process(es) of SIGKILLed worker processes were "
                f"still alive at the end (re-parented to init) and were ended by the drill: RQ's scheduler "
                f"runs in a child process, which outlives its worker when the worker is SIGKILLed (an "
                f"earlier run of this drill left one running for 40 minutes). A supervisor should stop the "
                f"whole process group (or cgroup) of a worker it restarts, as systemd and container "
                f"platforms do."
            )
        if stranded:
            out.append(SCHEDULER_FINDING)
    return "\n".join(out) + "\n"


SCHEDULER_FINDING = """
**Finding (late work, not lost work):** a worker process SIGKILLed between dequeuing a job and
recording it as started leaves the job in RQ's intermediate queue, and RQ only looks there in a
worker's *maintenance round*. Nothing is lost (the drill shows every event logged exactly once
once maintenance has run). RQ's default round is every 10 minutes; `python -m worker` now runs it
every minute (`worker/__main__.py`, `MAINTENANCE_SECONDS`), so such a job is at most about a
minute late after a crash. The drill fast-forwards the round rather than wait for it.
"""


def _webhook_missed(data: dict[str, Any]) -> str:
    """The measured cause of a missed webhook target, from the figures of the run."""
    w = data["webhook"]
    cpu = w.get("cpu_us_per_request")
    if not cpu:
        return ""
    bare, app = cpu["baseline"], cpu["app"]
    bare_total, app_total = sum(bare.values()), sum(app.values())
    cores = data.get("machine", {}).get("cores") or 2
    budget = cores * 1e6 / (0.5 * w["baseline"]["rps"])
    rps, p99 = w["app"]["rps"], w["app"]["p99_ms"]
    mean = w["app"]["mean_ms"]
    tail = p99 / mean if mean else 1.0
    needed = w["connections"] / (50 / tail) * 1000 if tail else 0.0
    floor = app["postgres"] + bare_total
    verdict = (
        "So the 0.5 ratio is out of reach for any webhook that consults PostgreSQL on every call on "
        "this machine: the baseline does no I/O at all."
        if floor > budget
        else "The ratio is thus lost in the web process's own work, profiled below."
    )
    template = RATIO_MISSED + (TAIL_MET if p99 < 50 else TAIL_MISSED) + CLOSING
    return template.format(
        bare_busy=w["baseline"]["rps"] * bare_total / (cores * 1e6),
        app_busy=rps * app_total / (cores * 1e6),
        p99=p99,
        floor=floor,
        verdict=verdict,
        bare_total=bare_total,
        bare_web=bare["web"],
        budget=budget,
        pg=app["postgres"],
        app_web=app["web"],
        app_total=app_total,
        cores=cores,
        rps=rps,
        mean=mean,
        little=w["connections"] / rps * 1000 if rps else 0.0,
        tail=tail,
        needed=needed,
        needed_cpu=cores * 1e6 / needed if needed else 0.0,
        per_core=f"{1e6 / app['web']:,.0f}" if app["web"] else "?",
        cores_needed=math.ceil(needed * app_total / 1e6),
    )


RATIO_MISSED = """
**Missed — measured cause.** gunicorn, PostgreSQL and wrk share the machine's {cores} cores, and
throughput is bounded by {cores} cores ÷ the total CPU per request in the table above: the bare run
kept the cores {bare_busy:.0%} busy, the app run {app_busy:.0%} (the rest is waiting: on round trips and
on PostgreSQL's commits, which wait for the disk). The bare endpoint costs {bare_total:,.0f} µs per request in all; at half its
throughput the real webhook could spend {budget:,.0f} µs per request in all. PostgreSQL alone
spends {pg:,.0f} µs per inbound call on its one statement (the lookup, and the call-log row
written durably before the member's phone rings); add what the bare endpoint itself costs (HTTP,
Flask, wrk: {bare_total:,.0f} µs) and {floor:,.0f} µs are spent before any of the app's own work
(signature, number parsing, encryption, a database round trip, TwiML — {app_web:,.0f} µs in the
web process in all). {verdict}

"""

TAIL_MISSED = """
For the tail (median run): with 50 connections kept busy, latency is queueing — by Little's law the mean is
50 ÷ throughput = {little:.0f} ms (wrk measured {mean:.0f} ms), and p99 ran {tail:.2f} × the mean.
p99 < 50 ms at 50 connections therefore needs about {needed:,.0f} requests per second, i.e. about
{needed_cpu:,.0f} µs of CPU per request in all, against {app_total:,.0f} µs measured.

"""

TAIL_MET = """
**p99 met in the median run, with little margin.** {p99:.1f} ms against 50 ms; p99 ran {tail:.2f} ×
the mean (Little's law: mean ≈ 50 connections ÷ throughput = {little:.0f} ms). The runs differ
(listed above), and a slower minute of this machine can miss it; more cores give it margin (below).
"""

CLOSING = """
**What would close it.** The p99 target is a capacity question: web processes are stateless, and
at the {app_total:,.0f} µs per call measured here (everything on one host) {cores_needed} cores would
carry the {needed:,.0f} requests per second; in production PostgreSQL and the load (Twilio) are not
on the web host, and each core given to the web tier alone adds about 1,000,000 ÷ {app_web:,.0f} ≈
{per_core} requests per second. In code, the round trips are
already down to one per call (see Profile); what is left per call is spread thin. Not done on purpose: caching lines,
blocks or warnings in the web process (a block or a cancellation must act on the very next call,
and a copy of members' data in every web process widens what a compromise exposes), moving the
call-log write to a job (the whisper reads the row seconds later; an RQ enqueue costs more than
the insert, see the status-callback row), and `synchronous_commit = off` (a crash could lose the
record of who last called a member).
"""


def write() -> None:
    data = results.load()
    machine = data.get("machine", {})
    targets = _targets(data)
    lines = [
        "# Benchmarks",
        "",
        "Figures of real runs on this project's machine, written by the benchmark harness. "
        "The command that produced them:",
        "",
        "```sh",
        f"{COMMAND}                 # every section (about 20 minutes on 2 cores)",
        f"{COMMAND} webhook profile # only some sections; results of the others are kept",
        "```",
        "",
        "It installs what it needs (the package with gunicorn, wrk with apt-get), starts PostgreSQL and "
        "Redis on 127.0.0.1 if they are installed, uses Redis database 7 and a database `sn_bench` it "
        "drops and recreates, and starts its own redis-server (port 6390) and PostgreSQL cluster (port "
        "5440) for the drills that kill them. Raw figures: `benchmarks/results.json`. None of it is part "
        "of the test suite; the fast fault drills are (see the end).",
        "",
        f"Machine: {machine.get('cores', '?')} cores ({machine.get('cpu', '?')}), "
        f"{machine.get('memory_gib', '?')} GiB, Python {machine.get('python', '?')}, Linux "
        f"{machine.get('kernel', '?')}. Each section shows the load average when it started (it lags: a "
        f"figure above 1 is mostly the previous section's own load); nothing else ran during the runs. "
        f"Ratios are measured within one section, baseline and subject back to back.",
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
        *[f"| {name} | {value} | {_met(ok)} |" for name, value, ok in targets],
        "",
        "## Webhook throughput",
        "",
        _webhook(data),
    ]
    w = data.get("webhook", {})
    if "app" in w and (w["ratio"] < 0.5 or w["app"]["p99_ms"] >= 50):
        lines.append(_webhook_missed(data))
    lines += [
        "### Why these gunicorn settings",
        "",
        GUNICORN_WHY,
        "## Profile of the inbound webhook",
        "",
        _profile(data),
        "## Workers",
        "",
        _workers(data),
        "## Scale",
        "",
        _scale(data),
        "## Fault drills (long, on private servers)",
        "",
        _drills(data),
        "## Fault drills in the test suite (fast, run by CI)",
        "",
        FAST_DRILLS,
    ]
    OUT.write_text("\n".join(lines).rstrip() + "\n")


GUNICORN_WHY = """
Both runs use the same server settings, which the `Procfile` also uses: 2 worker processes (one
per core) of class `gthread` with 4 threads each, keep-alive 5 s, and from `gunicorn.conf.py`
(read by every gunicorn started from the repository root) `reuse_port` and a hook that freezes
the app's start-up objects out of the garbage collector. A webhook spends much of its wall time
waiting on PostgreSQL; threads let a process overlap those waits while the GIL serialises only the
Python work, and keep-alive spares wrk and the server a TCP handshake per request (the `sync`
class closes every connection).

Trials of the app on this machine (15 s each, a fresh benchmark database for each, same wrk
settings; 2026-11-29), first without `reuse_port` or the hook:

| workers × threads | req/s | p50 ms | p99 ms |
|---|---:|---:|---:|
| 2 × 4 | 1,540 | 30.7 | 71.4 |
| 2 × 2 | 992 | 49.1 | 86.8 |
| 2 × 8 | 906 | 58.0 | 159.0 |
| 3 × 4 | 1,234 | 44.8 | 130.7 |
| 4 × 4 | 1,092 | 41.7 | 153.8 |

More processes than cores only add context switches, and more threads add GIL contention. The
tail had two causes beyond throughput:

- **Uneven connections.** With one shared listening socket, whichever worker woke first accepted
  more of wrk's 50 keep-alive connections, and kept them; both processes were equally busy, but
  the one with more connections answered each more slowly (p90 up to 1.7 × p50). With
  `reuse_port` each worker has its own socket and the kernel spreads connections evenly: five
  15-second trials of 2 × 4 gave p99 45.5, 49.0, 51.3, 48.9 and 46.2 ms (p90 about 1.3 × p50),
  against 54.6 to 85.4 ms without. (The section's own 30-second runs above, with the same
  settings, came out slower: this machine's speed drifts by ±15 % from one minute to the next.)
- **Full garbage collections.** A worker holds about 130,000 long-lived objects (modules,
  SQLAlchemy metadata, the app); every full collection scanned them all while holding the GIL —
  measured at 65 ms, every few seconds under load, stalling every thread of the worker.
  `ivr/server.py` freezes them (`gc.freeze()`) once the worker has loaded the app.

Override with `BENCH_WORKERS`, `BENCH_THREADS`, `BENCH_WORKER_CLASS` (e.g. `sync`) to compare.
"""

FAST_DRILLS = """
These run in `bash scripts/test.sh` (and so in CI) in seconds, without stopping the shared
servers:

- `tests/test_fault_drills.py` — a loopback TCP relay (`Link`) in front of the real Redis or
  PostgreSQL that can forward, cut every connection and refuse new ones, or accept and never
  answer. Redis that never answers: the status webhook still answers TwiML, the event goes to the
  outbox and the outbox job replays it. Redis killed mid-call and back: every event reaches RQ
  exactly once (directly or through the outbox), the app reconnects by itself. PostgreSQL
  unreachable: every voice and menu webhook answers 200 TwiML (the caller hears the apology).
  PostgreSQL accepting but silent: the connect timeout fires and the caller hears the apology.
  PostgreSQL down then back: the app answers normally again without a restart. A pooled
  connection cut while idle: replaced before the next caller's statements run.
- `tests/test_fuzz_webhooks.py` — every POST endpoint of the voice, menu and sms blueprints (read
  from the URL map) fuzzed with hypothesis: random forms, repeated keys, digits, real, national,
  withheld and malformed numbers, unicode, invalid UTF-8, oversized values, random query strings.
  Signed: 200 TwiML, and no internal failure swallowed into the apology. Unsigned or wrongly
  signed: 403. A body over 64 KiB: 413 or 403, never 5xx. An earlier finding, `?report=` ids
  beyond PostgreSQL's integer range raising inside three menu views, is fixed (such an id names
  no report) and tested.
- `tests/test_log_scan.py` with the plugin `tests/leak_scan.py` — the whole suite logs at DEBUG to a
  file; every number the app encrypts or blind-indexes (members, callers, destinations) and every
  member name written is recorded; the test Redis database is copied before each test's teardown;
  at the end of the run the log, the Redis copy and every development mail log are scanned for
  those numbers (E.164, international, national, spaced, URL-encoded) and names. None found.
- Workers killed with SIGKILL: `tests/test_worker_kill.py` (the workers engineer's) covers a kill
  mid-ingestion in the suite; the longer burst variant is the drill above.
"""
