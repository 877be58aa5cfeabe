# Shared helpers of scripts/test.sh, scripts/demo.sh and benchmarks/run.sh.
# Sourced, not run.
VENV="${SAFETY_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

# What the install depends on: a change to either means pip must run again.
# (The package is installed editable: changes to the code need no reinstall.)
install_stamp() {
  cat setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1
}

ensure_venv() {
  local stamp_file="$VENV/.safety-install-stamp" stamp
  stamp="$(install_stamp)"
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp" ] \
      && "$VENV/bin/python" -c "import ivr, flask, sqlalchemy, rq, twilio" 2>/dev/null; then
    return 0  # installed, and setup.cfg has not changed since: no pip run
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    echo "Creating $VENV (a virtual environment for Safety Number)" >&2
    "$PYTHON" -m venv "$VENV"
  fi
  echo "Installing Safety Number and its dependencies into $VENV (the first time takes a minute or two)" >&2
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
  local log="$VENV/install.log"
  # Progress: one line per package pip fetches; all of its output goes to the log.
  { "$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off -e ".[test]" 2>&1
    echo "pip exit status $?"; } \
    | tee "$log" | grep --line-buffered -E "^(Collecting|Installing collected)" | sed -u -E 's/^(.{0,100}).*/  \1/' >&2 \
    || true
  if ! grep -qx "pip exit status 0" "$log"; then
    tail -n 40 "$log" >&2
    echo "pip install failed (full log: $log)" >&2
    exit 1
  fi
  "$VENV/bin/python" -c "import ivr, flask, sqlalchemy, rq, twilio" \
    || { echo "installing the package failed" >&2; exit 1; }
  echo "$stamp" >"$stamp_file"
}

ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "starting PostgreSQL" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 1; done
  fi
  echo "PostgreSQL is not running on 127.0.0.1:5432 and could not be started" >&2
  exit 1
}

ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return 0; fi
  if command -v redis-server >/dev/null 2>&1; then
    echo "starting Redis" >&2
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0; sleep 1; done
  fi
  echo "Redis is not running on 127.0.0.1:6379 and could not be started" >&2
  exit 1
}

# What the tests and the benchmarks need: the package installed, and the
# PostgreSQL and Redis on 127.0.0.1 they talk to.
ensure_services() {
  ensure_venv
  ensure_postgres
  ensure_redis
}

# Hook for test-only system packages (a browser for the staff console's
# browser tests); a no-op until something needs it.
ensure_test_extras() {
  # The staff console's browser tests drive Debian's chromium through
  # Playwright (the Python package comes with the `test` extra; Playwright's
  # own browser download is never used). Install chromium when it is missing
  # and we can: as root, with apt.
  if [ -x /usr/bin/chromium ]; then return 0; fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium for the browser tests" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
      >/tmp/safety-chromium-install.log 2>&1 \
      || { tail -n 20 /tmp/safety-chromium-install.log >&2; echo "installing chromium failed" >&2; }
  else
    echo "chromium is missing and cannot be installed here: the browser tests will be skipped" >&2
  fi
}
