"""Where the suite's PostgreSQL and Redis live, and its fixed test secrets."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@dataclass(frozen=True)
class SuiteConfig:
    """The fixed secrets and addresses every test app is built with (never
    used outside tests); the ``suite`` fixture hands them to tests."""

    auth_token: str = "12345"
    account_sid: str = "ACtest00000000000000000000000000000"
    public_base_url: str = "https://safety.example.org"
    data_key: str = "5uH3Tg1hN4bQmJmZ8d2m0xqM2C8jz0m7VYq9WQ7f1xU="
    old_data_key: str = "Yk7a6b3D2XoPq1Jw0cU8sZr9hVt4eLmN5gF0iKj2lAs="
    index_key: str = "dGVzdC1pbmRleC1rZXktdGhhdC1pcy1sb25nLWVub3VnaCE="
    secret_key: str = "test-secret-key"
    redis_url: str = REDIS_URL

    def url(self, path: str, query: str = "") -> str:
        """The public URL Twilio is told to call for ``path?query``."""
        return self.public_base_url + path + (f"?{query}" if query else "")

    def app_config(self, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
        """The configuration ``create_app`` gets in tests, folders under ``tmp_path``.

        An override of ``None`` leaves that setting out (``REDIS_URL=None``:
        the embedded in-process queue).
        """
        config: dict[str, Any] = {
            "TESTING": True,
            "instance_path": str(tmp_path / "instance"),
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "PUBLIC_BASE_URL": self.public_base_url,
            "SAFETY_DATA_KEYS": self.data_key,
            "SAFETY_INDEX_KEY": self.index_key,
            "SECRET_KEY": self.secret_key,
            "RECORDINGS_PATH": str(tmp_path / "recordings"),
            "REDIS_URL": self.redis_url,
            # Call records are deleted at Twilio only in tests that point the
            # app at the fake Twilio and ask for it (delay 0); elsewhere the
            # deletion is scheduled a day away, beyond any run.
            "PROVIDER_RECORD_DELAY_SECONDS": "86400",  # a string: also a worker's environment
        }
        config.update(overrides)
        return {key: value for key, value in config.items() if value is not None}


# The ``app_config`` fixture: ``app_config(**overrides)``.
AppConfig = Callable[..., dict[str, Any]]
