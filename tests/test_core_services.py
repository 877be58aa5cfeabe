"""Each process builds its own services; jobs find the ones bound where they run."""

from pathlib import Path

import pytest

from core import services as core_services
from core.services import ServicesNotBound, bound, build_services
from core.settings import load_settings
from storage.db import Database


def _services(tmp_path: Path, db: Database) -> core_services.Services:
    return build_services(load_settings({}, tmp_path, {"REDIS_URL": None}), db=db)


def test_a_job_outside_any_binding_fails_loudly(tmp_path: Path, db: Database) -> None:
    from ivr import create_app

    create_app({"instance_path": str(tmp_path), "REDIS_URL": None, "database": db})
    with pytest.raises(ServicesNotBound):
        core_services.current()  # building an app installs nothing process-wide


def test_bindings_nest_and_unwind(tmp_path: Path, db: Database) -> None:
    outer, inner = _services(tmp_path / "a", db), _services(tmp_path / "b", db)
    with bound(outer):
        with bound(inner):
            assert core_services.current() is inner
        assert core_services.current() is outer
    with pytest.raises(ServicesNotBound):
        core_services.current()


def test_the_in_process_queue_runs_a_job_with_the_services_that_enqueued_it(
    tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import worker.jobs

    first, second = _services(tmp_path / "a", db), _services(tmp_path / "b", db)
    seen: list[object] = []
    monkeypatch.setattr(worker.jobs, "ping", lambda token: seen.append(core_services.current()))
    first.queue.enqueue("ping", "x")
    second.queue.enqueue("ping", "y")
    assert len(seen) == 2 and seen[0] is first and seen[1] is second
