"""Looks through every RQ job kept in Redis for phone numbers.

The ``redis`` fixture runs it before flushing, so every job any test
enqueued through Redis is inspected: its arguments, description, metadata
and raw serialized data. Jobs must carry opaque ids only (docs/architecture.md, Rules the code keeps).
"""

from __future__ import annotations

import re
import zlib

from redis import Redis
from rq.job import Job

# A UK number in E.164 (with or without +) or national form, standing alone:
# not inside a longer run of digits or letters (so SIDs and ids never match).
# Bounded by letters on both sides: RQ's worker names are random hex
# ("08713487450e9f…"), and a digit-only lookahead read the start of one as a
# number, failing the scan about one suite run in a dozen.
PHONE = re.compile(r"(?<![0-9A-Za-z])(?:\+?44|0)\d{9,10}(?![0-9A-Za-z])")
# Job ids are UUIDs, whose last group may be 12 decimal digits starting 44:
# taken out before scanning (a number is never written as a UUID).
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def job_texts(redis: Redis) -> dict[str, str]:
    """job id -> everything RQ keeps about it, as text."""
    texts: dict[str, str] = {}
    for key in redis.scan_iter("rq:job:*"):
        job_id = key.decode().split(":", 2)[2]
        if ":" in job_id or redis.type(key) != b"hash":
            continue
        raw = redis.hgetall(key)
        parts = [repr(v) for v in raw.values()]
        if b"data" in raw:
            try:
                parts.append(zlib.decompress(raw[b"data"]).decode("latin-1"))
            except zlib.error:
                parts.append(raw[b"data"].decode("latin-1"))
        try:
            job = Job.fetch(job_id, connection=redis)
            parts += [repr(job.args), repr(job.kwargs), job.description or "", repr(job.meta)]
        except Exception as exc:  # the raw data above was still read
            parts.append(f"(job not readable by this RQ: {type(exc).__name__})")
        texts[job_id] = "\n".join(parts)
    return texts


def phone_numbers_in_jobs(redis: Redis) -> dict[str, list[str]]:
    """job id -> the phone numbers found in it (empty when all is well)."""
    found = {}
    for job_id, text in job_texts(redis).items():
        numbers = PHONE.findall(UUID.sub("<uuid>", text))
        if numbers:
            found[job_id] = numbers
    return found
