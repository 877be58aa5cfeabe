"""What a request or a job needs: settings, database, number vault, queue.

Each process builds its own: the web app in ``create_app`` (views reach them
through ``ivr.services.current_services``), the worker in its entry point
(``python -m worker``). Jobs take ids only and find the services of the run
that calls them through :func:`current`: the worker binds its services
around its work loop (forked work horses inherit the binding), and the
in-process queue binds the app's services while it runs a job. No module
holds a process-wide instance, so two apps in one process (tests, the demo)
never see each other's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from core.queue import InlineQueue, JobQueue, RedisQueue, redis_client
from core.settings import Settings
from storage.crypto import BlindIndex, FieldCipher
from storage.db import Database
from storage.recordings import LocalRecordingStore, RecordingStore
from storage.vault import NumberVault


@dataclass
class Services:
    settings: Settings
    db: Database
    vault: NumberVault
    queue: JobQueue


_bound: ContextVar[Services] = ContextVar("safety_services")


class ServicesNotBound(RuntimeError):
    """A job ran where no services were bound (neither the worker nor the in-process queue)."""


def build_services(settings: Settings, db: Database | None = None) -> Services:
    """Services from ``settings``; ``db`` replaces the engine they would create (tests)."""
    database = db or Database(settings.database_url)
    vault = NumberVault(FieldCipher(settings.data_keys), BlindIndex(settings.index_key))
    if settings.redis_url:
        return Services(settings, database, vault, RedisQueue(redis_client(settings.redis_url), database))
    # The in-process queue runs each job with the services that enqueued it.
    services: Services
    inline = InlineQueue(database, job_context=lambda: bound(services))
    services = Services(settings, database, vault, inline)
    return services


def current() -> Services:
    """The services of the job running now."""
    try:
        return _bound.get()
    except LookupError:
        raise ServicesNotBound(
            "no services bound: jobs run under `python -m worker` or the app's in-process queue"
        ) from None


@contextmanager
def bound(services: Services) -> Iterator[Services]:
    """Make ``services`` the ones :func:`current` returns inside the block."""
    token = _bound.set(services)
    try:
        yield services
    finally:
        _bound.reset(token)


def recording_store(services: Services) -> RecordingStore:
    """The configured store of encrypted recordings (a local folder by default)."""
    return LocalRecordingStore(services.settings.recordings_path, services.vault.cipher)
