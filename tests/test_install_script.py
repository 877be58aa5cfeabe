"""scripts/_env.sh's install step: progress while pip works, and no pip run
at all when setup.cfg and pyproject.toml are unchanged since the last install
(``demo.sh`` used to spend ~3 s in pip on every start)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Stands in for the virtual environment's python: logs each call and plays
# pip's part (a "Collecting" line, success), so the script's own logic runs.
FAKE_PYTHON = """#!/bin/sh
echo "$@" >> "$(dirname "$0")/../calls.log"
case "$*" in
  *"pip install"*"-e .[test]"*) echo "Collecting flask>=3.0"; echo "Successfully installed safety-number";;
esac
exit 0
"""


def _project(tmp_path: Path) -> Path:
    """A folder with the scripts, setup.cfg and pyproject.toml, and a ready .venv."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "scripts", project / "scripts")
    for name in ("setup.cfg", "pyproject.toml"):
        shutil.copy(ROOT / name, project / name)
    python = project / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return project


ENSURE_VENV = ["bash", "-c", "set -euo pipefail; source scripts/_env.sh; ensure_venv"]


def _ensure_venv(project: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the install step in ``project``; ``check=False`` lets a test look at a failure."""
    return subprocess.run(ENSURE_VENV, cwd=project, capture_output=True, text=True, timeout=60, check=check)


def _pip_runs(project: Path) -> int:
    log = project / ".venv" / "calls.log"
    return sum("-e .[test]" in line for line in log.read_text().splitlines()) if log.exists() else 0


def test_the_first_install_shows_progress(tmp_path: Path) -> None:
    project = _project(tmp_path)
    first = _ensure_venv(project)
    assert _pip_runs(project) == 1
    assert "Installing Safety Number and its dependencies" in first.stderr
    assert "  Collecting flask>=3.0" in first.stderr


def test_nothing_is_installed_again_until_setup_cfg_changes(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _ensure_venv(project)
    again = _ensure_venv(project)
    assert _pip_runs(project) == 1 and again.stderr == ""
    with (project / "setup.cfg").open("a") as cfg:
        cfg.write("\n# a new dependency\n")
    _ensure_venv(project)
    assert _pip_runs(project) == 2


def test_a_failed_install_says_so_and_stops(tmp_path: Path) -> None:
    project = _project(tmp_path)
    python = project / ".venv" / "bin" / "python"
    python.write_text(FAKE_PYTHON.replace('echo "Successfully installed safety-number";;', "exit 1;;"))
    result = _ensure_venv(project, check=False)
    assert result.returncode == 1
    assert "pip install failed (full log: .venv/install.log)" in result.stderr
    assert not (project / ".venv" / ".safety-install-stamp").exists()
