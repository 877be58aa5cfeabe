"""Raw results of each section, kept in ``benchmarks/results.json`` so a
section can be re-run alone and ``BENCHMARKS.md`` re-rendered from all."""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import UTC, datetime
from typing import Any

from benchmarks.config import ROOT

PATH = ROOT / "benchmarks" / "results.json"


def load() -> dict[str, Any]:
    if PATH.exists():
        data: dict[str, Any] = json.loads(PATH.read_text())
        return data
    return {}


def save(section: str, value: dict[str, Any]) -> None:
    data = load()
    value = {**value, "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit()}
    data[section] = value
    data["machine"] = machine()
    PATH.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> dict[str, Any]:
    import os

    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((x.split(":", 1)[1].strip() for x in fh if x.startswith("model name")), cpu)
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_gib, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
