#!/usr/bin/env bash
# Run every benchmark and long fault drill, then write BENCHMARKS.md.
#   bash benchmarks/run.sh                 # everything (about 30 minutes on 2 cores)
#   bash benchmarks/run.sh webhook workers # only some sections (see python -m benchmarks --help)
# Needs: PostgreSQL and Redis on 127.0.0.1 (started if installed), wrk (installed
# with apt-get when missing). Uses Redis database 7 and a database sn_bench it
# drops and recreates; drills start their own redis-server and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh

ensure_services
if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
exec "$VENV/bin/python" -m benchmarks "$@"
