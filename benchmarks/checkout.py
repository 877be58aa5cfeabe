"""The code of an earlier commit, checked out beside the repository, so a
benchmark can measure "before" and "after" in the same run."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from benchmarks.config import ROOT, WORK


@contextlib.contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """A detached checkout of ``rev`` beside the repository, removed afterwards."""
    path = WORK / f"before-{rev}"
    git = ["git", "-C", str(ROOT), "worktree"]
    subprocess.run([*git, "remove", "--force", str(path)], capture_output=True, check=False)
    subprocess.run([*git, "add", "--detach", str(path), rev], capture_output=True, check=True)
    try:
        yield path
    finally:
        subprocess.run([*git, "remove", "--force", str(path)], capture_output=True, check=False)


def environ(tree: Path, env: Mapping[str, str]) -> dict[str, str]:
    """``env`` for a process that must import the code of ``tree``: it comes
    first on ``sys.path``, ahead of the project installed (editable) from here."""
    return {**env, "PYTHONPATH": str(tree)}


def check_imports_from(tree: Path, env: Mapping[str, str]) -> None:
    """Fail early, not after minutes of load, if ``ivr`` would not come from ``tree``."""
    found = subprocess.run(
        [sys.executable, "-c", "import ivr; print(ivr.__file__)"],
        cwd=tree,
        env=dict(env),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"the code before imports ivr from {found}, not from {tree}")
