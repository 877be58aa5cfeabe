"""Benchmark data: a fresh database, a few real members whose lookups hit,
and millions of filler rows made inside PostgreSQL with generate_series.

Filler rows look real to the planner: 64-hex blind indexes and CallSids from
md5(), a valid Fernet token as the encrypted phone, dates spread over a year.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, make_url, text

from benchmarks.config import DATA_KEY, INDEX_KEY, pg_url
from storage.crypto import BlindIndex, FieldCipher
from storage.hashing import hash_secret
from storage.migrate import upgrade
from storage.vault import NumberVault

# Real members: 020 7946 0xxx is Ofcom's drama range (valid to phonenumbers):
# lines +44 20 7946 0000-0049, member phones +44 20 7946 0100-0149.
REAL_MEMBERS = 50


def vault() -> NumberVault:
    return NumberVault(FieldCipher([DATA_KEY]), BlindIndex(INDEX_KEY))


def recreate_database(server_url: str, name: str) -> str:
    """Drop and create ``name`` on the server of ``server_url``; migrate it; return its URL."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def settle(url: str) -> None:
    """Statistics up to date and dirty pages written out, so what is measured
    next does not share the disk and CPU with the seeding's aftermath (the
    previous section's checkpoint, autovacuum of the seeded tables)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
        conn.execute(text("CHECKPOINT"))
    engine.dispose()


def drop_database(server_url: str, name: str) -> None:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@dataclass
class Seeded:
    lines: list[str]  # Safety Numbers of the real members
    member_phones: list[str]
    callers: list[str]  # callers the load uses
    warned_callers: list[str]
    blocked_pairs: list[tuple[str, str]]  # (line, caller)


def real_members(engine: Engine, callers: list[str]) -> Seeded:
    """Members the load calls: real encrypted phones, blocks, warnings on a few callers."""
    v = vault()
    pin = hash_secret("4821")
    lines, phones = [], []
    with engine.begin() as conn:
        for i in range(REAL_MEMBERS):
            phone = f"+44207946{i + 100:04d}"
            line = f"+4420794600{i:02d}"
            p = v.protect(phone)
            member_id = conn.execute(
                text(
                    "INSERT INTO members (working_name, phone_encrypted, phone_index, pin_hash, status,"
                    " greeting, accept_withheld, caller_id_shown, pin_failures, created_at)"
                    " VALUES (:n, :t, :i, :h, 'active', :g, true, 'safety_number', 0, now()) RETURNING id"
                ),
                {
                    "n": f"Bench member {i}",
                    "t": p.token,
                    "i": p.index,
                    "h": pin,
                    "g": "none" if i % 2 else "logged",
                },
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO safety_numbers (e164, status, member_id, created_at)"
                    " VALUES (:e, 'assigned', :m, now())"
                ),
                {"e": line, "m": member_id},
            )
            lines.append(line)
            phones.append(phone)
        warned = callers[::10]  # one caller in ten has warnings on file
        for caller in warned:
            for category in ("threats", "robbery"):
                conn.execute(
                    text(
                        "INSERT INTO warnings (caller_index, category, summary, created_at)"
                        " VALUES (:i, :c, 'Bench warning', now())"
                    ),
                    {"i": v.index(caller), "c": category},
                )
        blocked = [(lines[k % len(lines)], callers[k]) for k in range(5, len(callers), 20)]
        for line, caller in blocked:
            conn.execute(
                text(
                    "INSERT INTO blocks (member_id, caller_index, caller_last3, created_at)"
                    " SELECT member_id, :i, :l, now() FROM safety_numbers WHERE e164 = :e"
                ),
                {"i": v.index(caller), "l": caller[-3:], "e": line},
            )
    return Seeded(lines, phones, callers, warned, blocked)


def _filler_token() -> str:
    return vault().protect("+442079460999").token


# Constraints and indexes are dropped before a bulk fill and rebuilt after:
# one sort per index instead of ten million random B-tree inserts.
_CONSTRAINTS = (
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
    " WHERE conrelid = CAST(:t AS regclass) AND contype IN ('u', 'f')"
)
# plain indexes only: those behind a constraint go with it
_INDEXES = (
    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t"
    " AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass))"
)


def _detach_indexes(conn, table: str) -> list[str]:  # type: ignore[no-untyped-def]
    constraints = conn.execute(text(_CONSTRAINTS), {"t": table}).all()
    indexes = conn.execute(text(_INDEXES), {"t": table}).all()
    drops = [f'ALTER TABLE {table} DROP CONSTRAINT "{name}"' for name, _ in constraints]
    drops += [f'DROP INDEX "{name}"' for name, _ in indexes]
    for statement in drops:
        conn.execute(text(statement))
    restore = [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {rule}' for name, rule in constraints]
    restore += [definition for _, definition in indexes]
    # unique constraints first (FKs may need them), then FKs and plain indexes
    return sorted(restore, key=lambda s: (" FOREIGN KEY " in s, s))


def _bulk(engine: Engine, table: str, sql: str, params: dict[str, object]) -> None:
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        restore = _detach_indexes(conn, table)
        conn.execute(text(sql), params)
        for statement in restore:
            conn.execute(text(statement))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM ANALYZE {table}"))


def _scalar(engine: Engine, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def filler_members(engine: Engine, count: int) -> float:
    """``count`` members, each with an assigned line, none of which the load calls."""
    started = time.monotonic()
    token, pin = _filler_token(), hash_secret("0000")
    first = _scalar(engine, "SELECT coalesce(max(id), 0) FROM members")
    _bulk(
        engine,
        "members",
        "INSERT INTO members (working_name, phone_encrypted, phone_index, pin_hash, status, greeting,"
        " accept_withheld, caller_id_shown, pin_failures, created_at)"
        " SELECT 'Filler ' || g, :t, md5('m' || g) || md5('n' || g), :h, 'active', 'none', true,"
        " 'safety_number', 0, now() - (g % 365) * interval '1 day'"
        " FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) AS g",
        {"t": token, "h": pin, "a": first + 1, "b": first + count},
    )
    _bulk(
        engine,
        "safety_numbers",
        "INSERT INTO safety_numbers (e164, status, member_id, created_at)"
        " SELECT '+4433' || lpad(m.id::text, 9, '0'), 'assigned', m.id, now()"
        " FROM members m WHERE m.id > :a",
        {"a": first},
    )
    return time.monotonic() - started


def filler_warnings(engine: Engine, count: int) -> float:
    started = time.monotonic()
    _bulk(
        engine,
        "warnings",
        "INSERT INTO warnings (caller_index, category, summary, created_at, expires_at)"
        " SELECT md5('w' || g) || md5('x' || g),"
        " (ARRAY['threats','robbery','stalking','nuisance'])[1 + g % 4],"
        " 'Filler warning ' || g, now() - (g % 365) * interval '1 day', NULL"
        " FROM generate_series(1, CAST(:n AS bigint)) AS g",
        {"n": count},
    )
    return time.monotonic() - started


# Completed inbound calls numbered :a to :b, spread over :m members and a year.
_CALLS_SELECT = (
    "INSERT INTO calls (call_sid, direction, safety_number_id, member_id, other_party_index,"
    " other_party_encrypted, other_party_last3, withheld, status, last_sequence, duration_seconds,"
    " started_at, ended_at, bridged, blocked, declined, warned, created_at)"
    " SELECT 'CA' || md5('c' || g), 'inbound', NULL, 1 + (g * 7919) % :m,"
    " md5('p' || (g % 3000000)) || md5('q' || (g % 3000000)), :t, '999', false, 'completed', 3, 60,"
    " ts, ts + interval '1 minute', true, false, false, false, ts"
    " FROM (SELECT g, now() - (g % 525600) * interval '1 minute' AS ts"
    "       FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) AS g) s"
)


def filler_calls(engine: Engine, count: int, start: int = 1) -> float:
    """``count`` completed inbound calls spread over members and a year."""
    started = time.monotonic()
    token = _filler_token()
    members = _scalar(engine, "SELECT max(id) FROM members")
    _bulk(
        engine,
        "calls",
        _CALLS_SELECT,
        {"m": members, "t": token, "a": start, "b": start + count - 1},
    )
    return time.monotonic() - started


def filler_reports(engine: Engine, count: int) -> float:
    started = time.monotonic()
    members = _scalar(engine, "SELECT max(id) FROM members")
    _bulk(
        engine,
        "reports",
        "INSERT INTO reports (member_id, report_call_sid, recording_sid, recording_state, status, category,"
        " police_consent, created_at)"
        " SELECT 1 + (g * 31) % :m, 'CR' || md5('r' || g), 'RE' || md5('s' || g), 'stored',"
        " (ARRAY['new','assigned','in_review','closed'])[1 + g % 4],"
        " (ARRAY['threats','robbery','stalking','nuisance','other'])[1 + g % 5], g % 2 = 0,"
        " now() - (g % 525600) * interval '1 minute'"
        " FROM generate_series(1, CAST(:n AS bigint)) AS g",
        {"m": members, "n": count},
    )
    return time.monotonic() - started


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608 - fixed names
            for t in ("members", "safety_numbers", "warnings", "calls", "blocks", "reports")
        }


def bench_url() -> str:
    return pg_url()


def filler_calls_within(
    engine: Engine, target: int, budget_seconds: float, chunk: int = 1_000_000
) -> dict[str, float]:
    """Up to ``target`` call rows, in chunks, stopping before ``budget_seconds``
    would be exceeded (index builds are estimated from the insert rate).

    Indexes are dropped once, rebuilt once at the end."""
    token = _filler_token()
    members = _scalar(engine, "SELECT max(id) FROM members")
    start = _scalar(engine, "SELECT count(*) FROM calls") + 1
    started = time.monotonic()
    done = 0
    with engine.begin() as conn:
        restore = _detach_indexes(conn, "calls")
    per_row = None
    while done < target:
        n = min(chunk, target - done)
        if per_row is not None:
            # inserting n more rows, then indexing all of them (about as long again)
            projected = time.monotonic() - started + per_row * n + per_row * (done + n)
            if projected > budget_seconds:
                break
        t0 = time.monotonic()
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL synchronous_commit = off"))
            conn.execute(
                text(_CALLS_SELECT), {"m": members, "t": token, "a": start + done, "b": start + done + n - 1}
            )
        per_row = (time.monotonic() - t0) / n
        done += n
    inserted_at = time.monotonic()
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
        for statement in restore:
            conn.execute(text(statement))
    indexed_at = time.monotonic()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE calls"))
    return {
        "rows": done,
        "insert_seconds": round(inserted_at - started, 1),
        "index_seconds": round(indexed_at - inserted_at, 1),
        "analyze_seconds": round(time.monotonic() - indexed_at, 1),
    }


def ringing_calls(engine: Engine, prefix: str, count: int) -> None:
    """``count`` inbound calls logged by the webhook and not yet ended, with
    CallSids ``prefix`` + 8 digits from 1: what status callbacks then update."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO calls (call_sid, direction, safety_number_id, member_id, withheld, status,"
                " last_sequence, bridged, blocked, declined, warned, created_at)"
                " SELECT :prefix || lpad(g::text, 8, '0'), 'inbound', 1, 1, true, 'ringing', -1,"
                " false, false, false, false, now() FROM generate_series(1, CAST(:n AS int)) AS g"
            ),
            {"prefix": prefix, "n": count},
        )
