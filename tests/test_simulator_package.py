"""The simulator is a package of its own: the web app never loads it, its
commands reach ``flask --app ivr`` through entry points, and its errors are
not the service's."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

from flask import Flask
from flask.cli import cli as flask_cli

from callflows.errors import SafetyNumberError
from simulator import errors

# Builds the app as gunicorn would and lists any simulator module it loaded.
LOADED_BY_THE_WEB_APP = """
import sys
from ivr import create_app
create_app({"instance_path": sys.argv[1], "DATABASE_URL": "sqlite://", "REDIS_URL": None})
print(sorted(m for m in sys.modules if m == "simulator" or m.startswith("simulator.")))
"""


def test_the_web_app_never_imports_the_simulator(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOADED_BY_THE_WEB_APP, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_simulate_and_demo_join_the_flask_command_through_entry_points(app: Flask) -> None:
    assert {"simulate", "demo"}.isdisjoint(app.cli.list_commands(None))  # type: ignore[arg-type]
    listed = app.test_cli_runner().invoke(flask_cli, ["--help"])
    assert listed.exit_code == 0, listed.output
    assert "simulate" in listed.output and "demo" in listed.output
    for command in (["simulate", "call", "--help"], ["demo", "--help"]):
        shown = app.test_cli_runner().invoke(flask_cli, command)
        assert shown.exit_code == 0, shown.output


def test_simulator_errors_are_not_the_services_errors() -> None:
    classes = inspect.getmembers(errors, inspect.isclass)
    raised = [cls for _, cls in classes if cls.__module__ == errors.__name__]
    assert len(raised) > 1 and all(issubclass(cls, errors.SimulatorError) for cls in raised)
    assert not any(issubclass(cls, SafetyNumberError) for cls in raised)
