#!/usr/bin/env bash
# Install everything and run the whole test suite (lint, types, tests)
# against real PostgreSQL and Redis on 127.0.0.1, starting them if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh

ensure_services
ensure_test_extras

"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"
exec "$VENV/bin/python" -m pytest "$@"
