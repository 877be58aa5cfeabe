"""The layering rule of ``callflows/__init__.py``: the domain core imports no
other package of the project, nor Flask nor SQLAlchemy. Read from the source
(every import statement of every module), so an import inside a function
counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "callflows"
FRAMEWORKS = frozenset({"flask", "werkzeug", "sqlalchemy", "alembic", "redis", "rq"})


def project_packages() -> set[str]:
    """Every top-level package of the repository (a folder with ``__init__.py``)."""
    return {path.parent.name for path in ROOT.glob("*/__init__.py")}


def imported_roots(module: Path) -> set[str]:
    """The top-level names ``module`` imports (relative imports stay inside)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(), str(module))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_callflows_imports_no_other_project_package_nor_a_framework() -> None:
    forbidden = (project_packages() - {"callflows"}) | FRAMEWORKS
    assert {"ivr", "storage", "worker"} <= forbidden
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 5
    offences = {
        str(module.relative_to(ROOT)): sorted(imported_roots(module) & forbidden) for module in modules
    }
    assert {name: found for name, found in offences.items() if found} == {}


def test_the_checker_sees_imports_anywhere(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os.path\ndef f():\n    from storage.models import Call\n    import flask\n")
    assert imported_roots(module) == {"os", "storage", "flask"}
