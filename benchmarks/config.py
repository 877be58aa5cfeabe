"""Where the benchmarks run: fixed bench-only secrets, URLs and sizes.

Every server is on 127.0.0.1. The benchmark database is created afresh on the
local PostgreSQL server (``BENCH_PG_SERVER``) and Redis database 7 is used, so
developers' and tests' data are never touched.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(os.environ.get("SAFETY_VENV", ROOT / ".venv")) / "bin"
WORK = Path(os.environ.get("BENCH_WORK", "/tmp/sn-bench"))  # noqa: S108 - bench scratch space, recreated per run

PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "sn_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")

# Bench-only secrets: never used anywhere else.
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"  # noqa: S105 - bench only
PUBLIC_BASE_URL = "https://safety.bench.invalid"
DATA_KEY = "q4cC0eK1S7n0l4mJm6W0F1p9yVbq0Yq4l2k6N2s9b3E="
INDEX_KEY = "YmVuY2gtaW5kZXgta2V5LXRoYXQtaXMtbG9uZy1lbm91Z2gh"
SECRET_KEY = "bench-secret-key"  # noqa: S105 - bench only

HOST = "127.0.0.1"
APP_PORT = 8731
BARE_PORT = 8732
BEFORE_PORT = 8733  # the app as of an earlier commit, measured in the same run
FLOOR_PORT = 8734  # the floor: the leanest correct webhook (benchmarks/floor_app.py)
FLOOR_COPY_PORT = 8735  # a second floor, the same: what two identical servers differ by in a run

# gunicorn: identical settings for the app and the bare baseline.
GUNICORN_WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
GUNICORN_THREADS = int(os.environ.get("BENCH_THREADS", "4"))
GUNICORN_CLASS = os.environ.get("BENCH_WORKER_CLASS", "gthread")

LOAD_SECONDS = int(os.environ.get("BENCH_SECONDS", "30"))
LOAD_CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "50"))


def pg_url(database: str = PG_DATABASE) -> str:
    from sqlalchemy import make_url

    return make_url(PG_SERVER).set(database=database).render_as_string(hide_password=False)


def app_environ(database_url: str, redis_url: str | None = REDIS_URL) -> dict[str, str]:
    """The environment a benchmark web or worker process runs with."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "TWILIO_", "SAFETY_"))
    }
    env.update(
        SAFETY_ENV="production",
        DATABASE_URL=database_url,
        TWILIO_ACCOUNT_SID="ACbench000000000000000000000000000",
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        PUBLIC_BASE_URL=PUBLIC_BASE_URL,
        TWILIO_API_BASE_URL="http://127.0.0.1:9",  # nothing listens: no REST call may leave
        SAFETY_DATA_KEYS=DATA_KEY,
        SAFETY_INDEX_KEY=INDEX_KEY,
        SECRET_KEY=SECRET_KEY,
        SAFETY_INSTANCE_PATH=str(WORK / "instance"),
        RECORDINGS_PATH=str(WORK / "recordings"),
        PYTHONPATH=str(ROOT),
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def in_process_app(database_url: str, **settings: str) -> Flask:
    """The app built in this process with the benchmark environment (and
    ``settings`` on top); the process's own environment is put back afterwards."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(app_environ(database_url), **settings)
    try:
        from ivr import create_app

        return create_app()
    finally:
        os.environ.clear()
        os.environ.update(saved)
