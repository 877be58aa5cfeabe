from __future__ import annotations

import json
import multiprocessing
import secrets
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from callflows.errors import ConfigurationError
from core.settings import load_settings
from ivr import create_app


def test_production_refuses_to_start_naming_every_missing_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings({"SAFETY_ENV": "production", "SECRET_KEY": "x" * 40}, tmp_path)
    message = str(info.value)
    for name in ("TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL", "SAFETY_DATA_KEYS", "SAFETY_INDEX_KEY"):
        assert name in message
    assert "SECRET_KEY" not in message


def test_create_app_in_production_without_secrets_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "TWILIO_AUTH_TOKEN",
        "PUBLIC_BASE_URL",
        "SAFETY_DATA_KEYS",
        "SAFETY_INDEX_KEY",
        "SECRET_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SAFETY_ENV", "production")
    with pytest.raises(ConfigurationError, match="TWILIO_AUTH_TOKEN"):
        create_app({"instance_path": str(tmp_path)})
    assert not (tmp_path / "secrets.json").exists()


def test_development_generates_secrets_once_and_reuses_them(tmp_path: Path) -> None:
    first = load_settings({}, tmp_path)
    second = load_settings({}, tmp_path)
    assert first.data_keys and first.index_key and first.secret_key and first.twilio_auth_token
    assert (first.data_keys, first.index_key, first.secret_key) == (
        second.data_keys,
        second.index_key,
        second.secret_key,
    )
    stored = json.loads((tmp_path / "secrets.json").read_text())
    assert stored["SECRET_KEY"] == first.secret_key
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0


def _load_secret_key_slowly(instance: Path, start: Barrier, results: Queue[str]) -> None:
    """One worker booting: key generation made slow so every worker is inside it at once."""
    import core.settings

    def slow_index_key() -> str:
        time.sleep(0.2)
        return secrets.token_hex(32)

    core.settings.new_index_key = slow_index_key
    start.wait(timeout=20)
    results.put(load_settings({}, instance).secret_key)


def test_workers_booting_together_share_one_set_of_generated_secrets(tmp_path: Path) -> None:
    # gunicorn's workers all build the app at the same moment; had each one
    # written keys of its own, a session signed by one worker would be
    # refused by the next and a phone encrypted by one unreadable by another.
    context = multiprocessing.get_context("fork")
    workers = 4
    start = context.Barrier(workers)
    results: Queue[str] = context.Queue()
    processes = [
        context.Process(target=_load_secret_key_slowly, args=(tmp_path, start, results), daemon=True)
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    keys = [results.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    stored = json.loads((tmp_path / "secrets.json").read_text())
    assert set(keys) == {stored["SECRET_KEY"]}


def test_embedded_defaults(tmp_path: Path) -> None:
    settings = load_settings({}, tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'safety.db'}"
    assert settings.redis_url is None
    assert settings.default_region == "GB"
    assert settings.twilio_api_base_url == "https://api.twilio.com"
    assert settings.recordings_path == str(tmp_path / "recordings")


@pytest.mark.parametrize("region", ["ie", "gb"])
def test_environment_is_read_exactly_as_the_contract_names_it_and_typed(tmp_path: Path, region: str) -> None:
    """Every name, the console's and the masked calls' included; the default
    region, in either case, is also the masked call policy's region."""
    env = {
        "DATABASE_URL": "postgresql+psycopg://u@h/db",
        "REDIS_URL": "redis://127.0.0.1:6379/3",
        "TWILIO_ACCOUNT_SID": "ACabc",
        "TWILIO_AUTH_TOKEN": "tok",
        "PUBLIC_BASE_URL": "https://sn.example.org/",
        "TWILIO_API_BASE_URL": "http://127.0.0.1:9999",
        "RECORDINGS_PATH": "/srv/rec",
        "SAFETY_DATA_KEYS": "k1, k2",
        "SAFETY_INDEX_KEY": "i" * 40,
        "SECRET_KEY": "s",
        "DEFAULT_REGION": region,
        "SAFETY_ENV": "production",
        "STAFF_IDLE_MINUTES": "10",
        "STAFF_MAX_FAILED_LOGINS": "3",
        "STAFF_LOCKOUT_MINUTES": "60",
        "STAFF_IP_FAILURES_PER_15_MIN": "7",
        "NUMBER_QUARANTINE_DAYS": "90",
        "MASKED_CALL_REGIONS": "ie, fr",
    }
    s = load_settings(env, tmp_path)
    assert s.database_url == env["DATABASE_URL"]
    assert s.redis_url == env["REDIS_URL"]
    assert s.twilio_account_sid == "ACabc"
    assert s.public_base_url == "https://sn.example.org"
    assert s.twilio_api_base_url == "http://127.0.0.1:9999"
    assert s.recordings_path == "/srv/rec"
    assert s.data_keys == ("k1", "k2")
    assert s.default_region == s.destination_policy.region == region.upper()
    assert s.production
    assert (s.staff_idle_minutes, s.staff_max_failed_logins, s.staff_lockout_minutes) == (10, 3, 60)
    assert (s.staff_ip_failures_per_15_min, s.number_quarantine_days) == (7, 90)
    assert s.destination_policy.allowed_regions == {"GB", "GG", "IM", "JE", "IE", "FR"}


def test_an_unknown_setting_is_refused_rather_than_ignored(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="STAFF_IDEL_MINUTES"):
        load_settings({}, tmp_path, {"STAFF_IDEL_MINUTES": 5})


def test_overrides_win_over_the_environment_by_either_name(tmp_path: Path) -> None:
    env = {"STAFF_IDLE_MINUTES": "10", "TWILIO_API_BASE_URL": "http://env.example"}
    s = load_settings(env, tmp_path, {"STAFF_IDLE_MINUTES": "20", "twilio_api_base_url": "http://override"})
    assert (s.staff_idle_minutes, s.twilio_api_base_url) == (20, "http://override")


def test_the_masked_call_policy_reads_national_numbers_in_the_default_region(tmp_path: Path) -> None:
    default = load_settings({}, tmp_path)
    assert default.destination_policy.allowed_regions == {"GB", "GG", "IM", "JE"}
    irish = load_settings({"DEFAULT_REGION": "IE"}, tmp_path)
    assert irish.destination_policy.region == "IE"


def test_a_relative_instance_path_is_taken_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's ``SAFETY_INSTANCE_PATH=instance/demo`` once crashed with
    Flask's "must be absolute" traceback."""
    from ivr import create_app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SAFETY_INSTANCE_PATH", "instance/demo")
    for name in ("DATABASE_URL", "REDIS_URL", "SAFETY_ENV"):
        monkeypatch.delenv(name, raising=False)
    app = create_app()
    assert app.instance_path == str(tmp_path / "instance" / "demo")
    assert (tmp_path / "instance" / "demo" / "secrets.json").exists()


def test_code_and_help_cite_only_documents_that_exist() -> None:
    """Docstrings (which are also ``--help``) once cited a contract document
    that is not in the repository (tests/test_docs.py looks for every such
    citation in every file); every ``docs/…`` page they name exists."""
    import re

    root = Path(__file__).resolve().parent.parent
    cited: dict[str, set[str]] = {}
    for package in ("core", "ivr", "callflows", "storage", "worker", "simulator"):
        for module in (root / package).rglob("*.py"):
            for name in re.findall(r"\b((?:docs/[A-Za-z_-]+|CONTRACT)\.md)\b", module.read_text()):
                cited.setdefault(name, set()).add(str(module.relative_to(root)))
    assert "CONTRACT" + ".md" not in cited
    missing = {name: sorted(where) for name, where in cited.items() if not (root / name).exists()}
    assert missing == {}
