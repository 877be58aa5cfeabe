"""The README and docs/ as a newcomer meets them: links that lead somewhere,
a short README with the two commands and a map, and its commands run as
written on a fresh clone."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in page.read_text().splitlines() if line.startswith("#")}


def shell_blocks(page: Path) -> list[str]:
    """The commands of each ```sh block, in order."""
    return re.findall(r"```sh\n(.*?)```", page.read_text(), flags=re.S)


def test_every_link_between_the_pages_leads_somewhere() -> None:
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if re.match(r"^[a-z]+:", target):
                continue  # another site
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []


def test_the_readme_is_short_and_maps_every_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 120
    assert "bash scripts/demo.sh" in readme and "bash scripts/test.sh" in readme
    for page in PAGES[1:]:
        assert f"](docs/{page.name})" in readme, page.name
    assert "CONTRACT" + ".md" not in "".join(p.read_text() for p in PAGES)


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert [line for line in ci if line and not line.startswith(("#", "set ", "cd "))] == [
        "bash scripts/test.sh"
    ]
    assert "bash scripts/test.sh\n" in shell_blocks(ROOT / "README.md")


# What the test changes in the README's commands, and why: the demo is run
# with --no-serve (the README's own variant; served, it never ends), and the
# suite's command runs one small test file (it cannot run the suite it is in).
AS_RUN = {
    "bash scripts/demo.sh": "bash scripts/demo.sh --no-serve",
    "bash scripts/test.sh": "bash scripts/test.sh -q -p no:randomly tests/test_layers.py",
}


@dataclass(frozen=True)
class FreshClone:
    """A clone of this repository after the README's commands ran in it."""

    path: Path
    env: dict[str, str]
    returncode: int
    output: str


def commands(page: Path) -> list[str]:
    """Each command line of the page's ```sh blocks, in order (comments dropped)."""
    return [
        line
        for block in shell_blocks(page)
        for line in block.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> FreshClone:
    """Clone, then every command of the README's ```sh blocks in one shell,
    in order: the demo (which installs .venv), the suite's command, the PATH
    line, and the simulator calls to the demo's member that follow it."""
    clone = tmp_path_factory.mktemp("fresh") / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    lines = [AS_RUN.get(line.strip(), line) for line in commands(clone / "README.md")]
    assert any(line.startswith("flask --app ivr simulate call") for line in lines)
    script = "set -euo pipefail\n" + "\n".join(f"echo '$ {line}'\n{line}" for line in lines)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SAFETY_", "DATABASE_", "REDIS_", "VIRTUAL_ENV"))
    }
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
    result = subprocess.run(
        ["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True, timeout=1500
    )
    return FreshClone(clone, env, result.returncode, result.stdout + result.stderr)


def test_a_fresh_clone_runs_the_readmes_commands_as_written(fresh_clone: FreshClone) -> None:
    output = fresh_clone.output
    assert fresh_clone.returncode == 0, output[-4000:]
    assert re.search(r"(\d+) of \1 scenarios came out as expected", output), output[-4000:]
    # The client's call reached the member (the demo leaves this caller unblocked) ...
    assert "connects the member" in output, output[-4000:]
    # ... and the member's report through the access line was recorded.
    assert "after the tone" in output.lower(), output[-4000:]


# What a command that asks for a password reads from its standard input
# (``staff add``, ``staff password``): typed twice, as at the prompt.
TYPED_PASSWORD = "a long enough passphrase\n" * 2


def test_the_operations_pages_commands_run_as_written_on_the_embedded_defaults(
    fresh_clone: FreshClone,
) -> None:
    """Every command of docs/operations.md's ```sh blocks (key generation,
    provisioning, the fallback document), in order, in the fresh clone with
    `.venv/bin` first on the PATH as the README says, against the embedded
    defaults: a new SQLite database in the clone's instance folder."""
    assert fresh_clone.returncode == 0, "the README's commands failed first"
    lines = commands(fresh_clone.path / "docs" / "operations.md")
    assert sum(line.startswith("flask --app ivr") for line in lines) >= 15
    # Each command in braces (its trailing comment stays inside) with the
    # password on its standard input; the rest ignore it.
    script = "set -euo pipefail\n" + "\n".join(
        f"echo {shlex.quote('$ ' + line)}\n{{ {line}\n}} <<'PASSWORD'\n{TYPED_PASSWORD}PASSWORD"
        for line in lines
    )
    env = {
        **fresh_clone.env,
        "PATH": f"{fresh_clone.path / '.venv' / 'bin'}{os.pathsep}{fresh_clone.env['PATH']}",
    }
    result = subprocess.run(
        ["bash", "-c", script], cwd=fresh_clone.path, env=env, capture_output=True, text=True, timeout=600
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    # The embedded default: SQLite in the instance folder (the demo's is instance/demo).
    assert (fresh_clone.path / "instance" / "safety.db").exists()
    for expected in ("member 3 enrolled", "staff 3 added (caseworker)", "staff 2: disabled", "<Response>"):
        assert expected in output, output[-4000:]
    assert "<Hangup" in (fresh_clone.path / "fallback.xml").read_text()


# Design documents that lived beside the repository and are not in it: a
# reader of the code, a template or a --help text cannot open them. Their
# rules now live in docs/ (architecture.md "Rules the code keeps",
# reference.md "How Twilio behaves", the call flows). Spelt in two halves
# so this file does not cite them itself.
ABSENT_DOCUMENTS = ("DESIGN" + ".md", "CONTRACT" + ".md", "twilio-" + "behaviour.md")


def test_no_file_cites_a_document_that_is_not_in_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    citing = []
    for name in tracked:
        path = ROOT / name
        # A patch under docs/unlanded/ is a record of old commits, quoted as they were.
        if name.endswith(".patch") or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue  # a binary file (the favicon, a recording)
        citing += [f"{name}: {doc}" for doc in ABSENT_DOCUMENTS if doc in text]
    assert citing == []
