"""What a request or a job needs: settings, database, number vault, queue.

The web app builds one in ``create_app``; a worker process builds one from
the environment at start-up. Jobs find it through :func:`current`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from storage.crypto import BlindIndex, FieldCipher
from storage.db import Database
from storage.recordings import LocalRecordingStore, RecordingStore
from storage.vault import NumberVault

if TYPE_CHECKING:
    from ivr.settings import Settings
    from worker.queue import JobQueue


@dataclass
class Services:
    settings: Settings
    db: Database
    vault: NumberVault
    queue: JobQueue


_current: Services | None = None


def build_services(settings: Settings, db: Database | None = None) -> Services:
    from worker.queue import make_queue

    cipher = FieldCipher(settings.data_keys)
    vault = NumberVault(cipher, BlindIndex(settings.index_key))
    database = db or Database(settings.database_url)
    services = Services(settings=settings, db=database, vault=vault, queue=None)  # type: ignore[arg-type]
    services.queue = make_queue(settings, database)
    return services


def install(services: Services) -> None:
    """Make ``services`` the ones jobs in this process use."""
    global _current
    _current = services


def current() -> Services:
    """The services of this process; a worker builds them from the environment."""
    global _current
    if _current is None:
        import os
        from pathlib import Path

        from ivr.settings import load_settings

        instance = os.environ.get("SAFETY_INSTANCE_PATH", str(Path.cwd() / "instance"))
        _current = build_services(load_settings(os.environ, instance))
    return _current


def recording_store(services: Services) -> RecordingStore:
    """The configured store of encrypted recordings (a local folder by default)."""
    return LocalRecordingStore(services.settings.recordings_path, services.vault.cipher)
