"""BENCHMARKS.md is rendered from the benchmark results through a template:
every figure comes from the data, and nothing is left unfilled. The
benchmarks themselves are not run here (they take minutes); that their
modules still import is checked, so a moved module of the app shows here."""

from __future__ import annotations

import copy
import importlib
import json
import pkgutil
from typing import Any

import pytest

import benchmarks
from benchmarks import report, results


@pytest.fixture
def committed_results() -> dict[str, Any]:
    """The results of the last benchmark runs, as committed."""
    data: dict[str, Any] = json.loads(results.PATH.read_text())
    return data


def _unfilled(text: str) -> list[str]:
    return [marker for marker in ("{{", "}}", "{%", "%}", "{#", "#}") if marker in text]


def test_figures_of_the_run_appear_in_the_report(committed_results: dict[str, Any]) -> None:
    data = copy.deepcopy(committed_results)
    data["webhook"]["app"]["p99_ms"] = 4321.5  # a figure no run has measured
    data["workers"]["ratio"] = 0.987

    text = report.render(data)

    assert "| 4,321.5 ms | **missed** |" in text
    assert "Ratio **0.987**." in text
    assert _unfilled(text) == []


def test_committed_report_is_the_rendering_of_the_committed_results(
    committed_results: dict[str, Any],
) -> None:
    """BENCHMARKS.md is never edited by hand: change the template or the
    results and render again (``python -m benchmarks --render-only``)."""
    assert report.render(committed_results) == report.OUT.read_text()


def test_a_met_target_shows_no_analysis_of_a_miss(committed_results: dict[str, Any]) -> None:
    data = copy.deepcopy(committed_results)
    webhook = data["webhook"]
    webhook["ratio"] = 0.75
    webhook["app"]["p99_ms"] = 12.5

    text = report.render(data)

    assert "| Webhook throughput ≥ 0.5 × bare Flask | 0.75 × | **met** |" in text  # noqa: RUF001
    assert "Missed — measured cause" not in text.split("## Profile")[0]


def test_the_statements_measured_on_their_own_are_reported(committed_results: dict[str, Any]) -> None:
    data = copy.deepcopy(committed_results)
    data["webhook"]["statement_cost"] = {
        "backend_cpu_us": {"app": 231.0, "floor": 210.0},
        "wall_us": {"app": 612.0, "floor": 598.0},
        "backend_cpu_ratio": 1.1,
        "rounds": 6,
        "statements_per_round": 1000,
    }

    text = report.render(data)

    assert "cost PostgreSQL **231 µs** of CPU against the floor's\n210 µs (**1.10 ×**)" in text  # noqa: RUF001
    assert "took 612 µs against 598 µs" in text
    assert _unfilled(text) == []


def test_an_earlier_commit_measured_in_the_same_run_gets_its_row(committed_results: dict[str, Any]) -> None:
    data = copy.deepcopy(committed_results)
    webhook = data["webhook"]
    slower = [webhook["app"] | {"rps": rps, "p99_ms": p99} for rps, p99 in ((600.0, 70.0), (640.4, 66.0))]
    webhook["before"] = {
        "commit": "abc1234",
        "app": slower[1],
        "app_runs": slower,
        "warm_up_answers": {"Say+Dial": 200},
        "current_over_before": 2.0,
    }

    text = report.render(data)

    assert "| Safety Number before (commit `abc1234`, same run" in text
    assert "against commit `abc1234`, same run: **2.000**" in text
    assert "; before, commit `abc1234`: 600 (70.0), 640 (66.0)." in text
    assert _unfilled(text) == []


def test_sections_not_run_yet_render_as_such() -> None:
    text = report.render({})

    assert text.count("_Not run yet._") == 10  # one a section; status and metrics added by issues 19 and 17
    assert _unfilled(text) == []


@pytest.mark.parametrize("module", [m.name for m in pkgutil.iter_modules(benchmarks.__path__)])
def test_every_benchmark_module_imports(module: str) -> None:
    importlib.import_module(f"benchmarks.{module}")
