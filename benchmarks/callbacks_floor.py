"""The status callback and the member's whisper, each against a floor of
its own (``benchmarks/floor_app.py``: signature, the one statement, one
Redis command for the status callback's doorbell, TwiML as a string), on
the servers the webhook section already runs, rounds interleaved.

Every status callback run gets callbacks of its own (a CallSid and sequence
already written costs the event INSERT nothing and rings nobody); the
whispers read calls the inbound runs logged, so one set serves every run.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from benchmarks import seed, signed
from benchmarks.config import WORK

Load = Callable[[Any, Path, int], dict[str, Any]]
STATUS_PER_RUN = 6000  # more than a 10 s run of either server sends
WHISPERS = 3000


def whisper_requests(url: str, count: int = WHISPERS, seed_: int = 23) -> list[signed.SignedRequest]:
    """``POST /voice/whisper?call=<CallSid>`` for inbound calls the runs logged
    (a caller with a number; one in ten of them has warnings on file)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        sids = list(
            conn.execute(
                text(
                    "SELECT call_sid FROM calls WHERE direction = 'inbound' AND member_id IS NOT NULL"
                    " AND other_party_index IS NOT NULL ORDER BY id DESC LIMIT :n"
                ),
                {"n": count},
            ).scalars()
        )
    engine.dispose()
    rng = random.Random(seed_)
    return [whisper(rng.choice(sids)) for _ in range(count)]


def whisper(parent: str) -> signed.SignedRequest:
    """The member's leg asking for its whisper, as Twilio posts it."""
    form = [
        ("AccountSid", signed.ACCOUNT_SID),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", signed.call_sid()),
        ("CallStatus", "in-progress"),
        ("Direction", "outbound-dial"),
        ("ParentCallSid", parent),
    ]
    return signed.sign(f"/voice/whisper?call={parent}", form)


def measure(
    subjects: list[Any],
    seeded: seed.Seeded,
    url: str,
    load: Load,
    rounds: int,
    status_callbacks: Callable[[seed.Seeded, int, int], list[signed.SignedRequest]],
    warm_up: Callable[[Any, list[signed.SignedRequest]], dict[str, int]],
) -> dict[str, Any]:
    """``rounds`` interleaved rounds of status callbacks, then of whispers,
    on each of ``subjects`` (the floor and the project); medians and every run."""
    whispers = whisper_requests(url)
    whisper_file = signed.write_wrk_file(whispers, WORK / "whisper.req")
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {"status": {}, "whisper": {}}
    answers: dict[str, dict[str, dict[str, int]]] = {"status": {}, "whisper": {}}
    for k, subject in enumerate(subjects):
        answers["whisper"][subject.name] = warm_up(subject, whispers[:50])
        answers["status"][subject.name] = warm_up(subject, status_callbacks(seeded, 50, 900 + k))
    for i in range(rounds):
        order = subjects[i % len(subjects) :] + subjects[: i % len(subjects)]
        for k, subject in enumerate(order):
            callbacks = status_callbacks(seeded, STATUS_PER_RUN, 1000 + 10 * i + k)
            path = signed.write_wrk_file(callbacks, WORK / f"status-{subject.name}{i}.req")
            runs["status"].setdefault(subject.name, []).append(load(subject, path, i))
        for subject in order:
            runs["whisper"].setdefault(subject.name, []).append(load(subject, whisper_file, i))
    result: dict[str, Any] = {}
    for endpoint, by_server in runs.items():
        medians = {name: _median(r) for name, r in by_server.items()}
        floor, app = medians["floor"], medians["app"]
        result[endpoint] = {
            "runs": by_server,
            "median": medians,
            "warm_up_answers": answers[endpoint],
            "floor_ratio": app["rps"] / floor["rps"] if floor["rps"] else 0.0,
            "p99_over_floor": app["p99_ms"] / floor["p99_ms"] if floor["p99_ms"] else 0.0,
        }
    return result


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda run: run["rps"])
    middle = dict(ordered[len(ordered) // 2])
    middle["p99_ms_median"] = statistics.median(r["p99_ms"] for r in runs)
    return middle
