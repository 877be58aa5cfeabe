"""The installed project holds every package the app and its commands import.

An editable install only maps the packages ``setup.cfg`` lists; a package
left out still imports in the test suite (the repository root is on
``sys.path``) but not from ``flask --app ivr demo`` on a fresh clone.
"""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_INSTALLED = {"tests", "benchmarks"}


def test_every_top_level_package_is_installed() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options.packages.find"]["include"].split())
    packages = {
        path.parent.name for path in ROOT.glob("*/__init__.py") if path.parent.name not in NOT_INSTALLED
    }
    assert packages, "no packages found"
    missing = {name for name in packages if name not in listed or f"{name}.*" not in listed}
    assert not missing, f"setup.cfg does not install: {sorted(missing)}"
