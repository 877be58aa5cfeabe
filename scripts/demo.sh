#!/usr/bin/env bash
# Run Safety Number on embedded defaults (SQLite, in-process queue) in a
# throw-away instance folder and show it doing its job.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh

ensure_venv
export SAFETY_INSTANCE_PATH="${SAFETY_INSTANCE_PATH:-$PWD/instance/demo}"
unset DATABASE_URL REDIS_URL
exec "$VENV/bin/flask" --app ivr demo "$@"
