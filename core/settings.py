"""One settings object, read from the environment once (docs/reference.md).

In development, secrets that are not set are generated once into the
instance folder and reused on every later start. In production the app
refuses to start without them and names each one that is missing.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from callflows.checkin import RetryPolicy
from callflows.destinations import UK_REGIONS, DestinationPolicy
from callflows.errors import ConfigurationError
from callflows.signals import MIN_MEMBERS, SignalRules, Threshold
from storage.crypto import new_fernet_key, new_index_key

REQUIRED_IN_PRODUCTION = (
    "TWILIO_AUTH_TOKEN",
    "PUBLIC_BASE_URL",
    "SAFETY_DATA_KEYS",
    "SAFETY_INDEX_KEY",
    "SECRET_KEY",
)
GENERATED_SECRETS = ("TWILIO_AUTH_TOKEN", "SAFETY_DATA_KEYS", "SAFETY_INDEX_KEY", "SECRET_KEY")
SECRETS_FILE = "secrets.json"
DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"
FALLBACK_PATH = "/voice/fallback"
# A person pausing to think mid-report must not end the recording.
MIN_REPORT_SILENCE_SECONDS = 10


@dataclass(frozen=True)
class Settings:
    """Every setting of docs/reference.md, plus the tunable limits of the call flows."""

    env: str = "development"
    database_url: str = ""
    redis_url: str | None = None
    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: str = ""
    public_base_url: str = ""
    # The static fallback document's URL on hosting separate from the app;
    # "" means the app's own /voice/fallback (see voice_fallback_url).
    fallback_url: str = ""
    twilio_api_base_url: str = "https://api.twilio.com"
    recordings_path: str = ""
    data_keys: tuple[str, ...] = ()
    index_key: str = ""
    secret_key: str = ""
    default_region: str = "GB"
    # Call-flow limits (not in the contract's table; overridable in tests).
    pin_min_length: int = 4
    pin_max_attempts: int = 3
    pin_lockout_minutes: int = 15
    dial_timeout_seconds: int = 20
    gather_timeout_seconds: int = 6
    outbound_time_limit_seconds: int = 3600
    outbound_daily_calls: int = 20
    outbound_daily_minutes: int = 120
    record_max_seconds: int = 180
    # Silence that ends an incident report. Twilio's default of 5 s cut
    # members off when they paused to collect themselves; at least
    # MIN_REPORT_SILENCE_SECONDS is enforced at start-up.
    report_silence_timeout_seconds: int = 15
    call_log_retention_days: int = 90
    caller_number_retention_days: int = 30
    report_retention_days: int = 365
    # How long after a call leg completes its record is deleted at Twilio
    # (docs/reference.md; worker/provider_records.py).
    provider_record_delay_seconds: int = 300
    # Staff notifications (worker/mail.py). No SMTP_HOST: mail is appended
    # to MAIL_LOG_PATH (instance/mail.log) instead of being sent.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    # CA certificates (PEM) that sign the SMTP server's, besides the system's.
    smtp_ca_file: str = ""
    mail_from: str = "safety-number@localhost"
    mail_log_path: str = ""
    # Origin of the staff console in notification links; PUBLIC_BASE_URL if unset.
    staff_console_url: str = ""
    # Reverse proxies in front whose X-Forwarded-* headers are trusted (ivr.proxies).
    trusted_proxies: int = 0
    # Staff console: idle sign-out, sign-in lockout, per-address login limit.
    staff_idle_minutes: int = 30
    # However busy, a staff session ends this long after sign-in (ivr.staff.signed_in).
    staff_session_hours: int = 12
    staff_max_failed_logins: int = 5
    staff_lockout_minutes: int = 15
    staff_ip_failures_per_15_min: int = 20
    # Embedded mode (no REDIS_URL): the web processes run the periodic jobs
    # (worker/embedded_schedule.py), looking for due slots this often.
    embedded_schedule: bool = True
    schedule_tick_seconds: float = 15.0
    # Periods (seconds) replacing worker/schedule.py's defaults, by job name.
    schedule_periods: tuple[tuple[str, int], ...] = ()
    # Bearer token of GET /metrics; "" leaves /metrics a 404 (ivr/metrics.py).
    metrics_token: str = ""
    # Masked calls a caseworker may place to members in any 60 minutes
    # (storage.staff_calls): a stolen staff session cannot harass members
    # or run up the scheme's bill.
    staff_calls_per_hour: int = 10
    # How long a released Safety Number rests before it is given out again.
    number_quarantine_days: int = 30
    # Risk signals (callflows/signals.py): at least N distinct members within
    # D days. Windows longer than CALL_LOG_RETENTION_DAYS are cut to it.
    signal_reached_members: int = 3
    signal_reached_days: int = 7
    signal_blocked_members: int = 2
    signal_blocked_days: int = 30
    signal_reported_members: int = 2
    signal_reported_days: int = 90
    # Check-in timers (callflows.checkin): calls after the first before the
    # alarm, minutes between them, how long a placed call may go without an
    # outcome before it counts as missed, and how long the member's phone rings.
    checkin_retries: int = 1
    checkin_retry_minutes: int = 3
    checkin_call_window_seconds: int = 240
    checkin_ring_seconds: int = 30
    # What a masked call may ring. Its ``region`` always follows
    # ``default_region``; MASKED_CALL_REGIONS widens ``allowed_regions``, and a
    # whole policy can be passed to ``create_app`` (tests).
    destination_policy: DestinationPolicy = field(default_factory=DestinationPolicy)
    # Seconds since the epoch for staff session ages and TOTP steps; never
    # read from the environment, a test passes a clock it moves by hand.
    clock: Callable[[], float] = time.time

    @property
    def production(self) -> bool:
        return self.env == "production"

    def now(self) -> datetime:
        """Naive UTC now by ``clock``: check-ins are timed by it, so tests move time by hand."""
        return datetime.fromtimestamp(self.clock(), UTC).replace(tzinfo=None)

    @property
    def checkin_policy(self) -> RetryPolicy:
        return RetryPolicy(
            retries=self.checkin_retries,
            retry_delay=timedelta(minutes=self.checkin_retry_minutes),
            call_window=timedelta(seconds=self.checkin_call_window_seconds),
        )

    @property
    def signal_rules(self) -> SignalRules:
        """The signal thresholds, no window reaching past the call log's retention."""
        return SignalRules(
            Threshold(self.signal_reached_members, self.signal_reached_days),
            Threshold(self.signal_blocked_members, self.signal_blocked_days),
            Threshold(self.signal_reported_members, self.signal_reported_days),
        ).limited_to(self.call_log_retention_days)

    @property
    def voice_fallback_url(self) -> str:
        """What ``numbers sync`` sets as each number's "Primary handler
        fails" URL: ``FALLBACK_URL``, or the app's own ``/voice/fallback``."""
        return self.fallback_url or self.public_base_url + FALLBACK_PATH


# environment variable -> (field, parser)
_ENV: dict[str, tuple[str, Any]] = {
    "SAFETY_ENV": ("env", str),
    "DATABASE_URL": ("database_url", str),
    "REDIS_URL": ("redis_url", str),
    "TWILIO_ACCOUNT_SID": ("twilio_account_sid", str),
    "TWILIO_AUTH_TOKEN": ("twilio_auth_token", str),
    "PUBLIC_BASE_URL": ("public_base_url", lambda v: v.rstrip("/")),
    "FALLBACK_URL": ("fallback_url", str.strip),
    "REPORT_SILENCE_TIMEOUT_SECONDS": ("report_silence_timeout_seconds", int),
    "TWILIO_API_BASE_URL": ("twilio_api_base_url", lambda v: v.rstrip("/")),
    "RECORDINGS_PATH": ("recordings_path", str),
    "SAFETY_DATA_KEYS": ("data_keys", lambda v: tuple(k.strip() for k in v.split(",") if k.strip())),
    "SAFETY_INDEX_KEY": ("index_key", str),
    "SECRET_KEY": ("secret_key", str),
    "DEFAULT_REGION": ("default_region", lambda v: v.upper()),
    "PIN_LOCKOUT_MINUTES": ("pin_lockout_minutes", int),
    "OUTBOUND_DAILY_CALLS": ("outbound_daily_calls", int),
    "OUTBOUND_DAILY_MINUTES": ("outbound_daily_minutes", int),
    "CALL_LOG_RETENTION_DAYS": ("call_log_retention_days", int),
    "CALLER_NUMBER_RETENTION_DAYS": ("caller_number_retention_days", int),
    "REPORT_RETENTION_DAYS": ("report_retention_days", int),
    "PROVIDER_RECORD_DELAY_SECONDS": ("provider_record_delay_seconds", int),
    "SMTP_HOST": ("smtp_host", str),
    "SMTP_PORT": ("smtp_port", int),
    "SMTP_USER": ("smtp_user", str),
    "SMTP_PASSWORD": ("smtp_password", str),
    "SMTP_STARTTLS": ("smtp_starttls", lambda v: _flag(v)),
    "SMTP_CA_FILE": ("smtp_ca_file", str.strip),
    "MAIL_FROM": ("mail_from", str),
    "MAIL_LOG_PATH": ("mail_log_path", str),
    "STAFF_CONSOLE_URL": ("staff_console_url", lambda v: v.rstrip("/")),
    "TRUSTED_PROXIES": ("trusted_proxies", lambda v: _proxy_hops(v.strip())),
    "STAFF_IDLE_MINUTES": ("staff_idle_minutes", int),
    "STAFF_SESSION_HOURS": ("staff_session_hours", int),
    "STAFF_MAX_FAILED_LOGINS": ("staff_max_failed_logins", int),
    "STAFF_LOCKOUT_MINUTES": ("staff_lockout_minutes", int),
    "STAFF_IP_FAILURES_PER_15_MIN": ("staff_ip_failures_per_15_min", int),
    "NUMBER_QUARANTINE_DAYS": ("number_quarantine_days", int),
    "SIGNAL_REACHED_MEMBERS": ("signal_reached_members", int),
    "SIGNAL_REACHED_DAYS": ("signal_reached_days", int),
    "SIGNAL_BLOCKED_MEMBERS": ("signal_blocked_members", int),
    "SIGNAL_BLOCKED_DAYS": ("signal_blocked_days", int),
    "SIGNAL_REPORTED_MEMBERS": ("signal_reported_members", int),
    "SIGNAL_REPORTED_DAYS": ("signal_reported_days", int),
    "EMBEDDED_SCHEDULE": ("embedded_schedule", lambda v: _flag(v)),
    "SCHEDULE_TICK_SECONDS": ("schedule_tick_seconds", float),
    "SCHEDULE_PERIODS": ("schedule_periods", lambda v: _periods(v)),
    "METRICS_TOKEN": ("metrics_token", str.strip),
    "STAFF_CALLS_PER_HOUR": ("staff_calls_per_hour", int),
    "CHECKIN_RETRIES": ("checkin_retries", int),
    "CHECKIN_RETRY_MINUTES": ("checkin_retry_minutes", int),
    "CHECKIN_CALL_WINDOW_SECONDS": ("checkin_call_window_seconds", int),
    "MASKED_CALL_REGIONS": ("destination_policy", lambda v: DestinationPolicy(allowed_regions=_regions(v))),
}
MAX_PROXY_HOPS = 10


def _proxy_hops(text: str) -> int:
    """TRUSTED_PROXIES as a small count of ASCII digits, or a clear refusal."""
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_PROXY_HOPS:
        raise ConfigurationError(f"TRUSTED_PROXIES must be a whole number from 0 to {MAX_PROXY_HOPS}")
    return int(text)


def _flag(value: str) -> bool:
    """An on/off setting: anything but 0, false, no or off is on."""
    return value.strip().lower() not in ("0", "false", "no", "off")


def _periods(value: str) -> tuple[tuple[str, int], ...]:
    """``name=seconds,name=seconds``: periods of periodic jobs (whole seconds, at least 1)."""
    periods = []
    for item in value.split(","):
        if not item.strip():
            continue
        name, _, seconds = item.partition("=")
        if not (seconds.strip().isascii() and seconds.strip().isdigit()) or int(seconds) < 1:
            raise ConfigurationError(f"SCHEDULE_PERIODS: {item.strip()!r} is not name=seconds")
        periods.append((name.strip(), int(seconds)))
    return tuple(periods)


def _regions(value: str) -> frozenset[str]:
    """Comma-separated region codes; the UK's own (with the Crown Dependencies) are always in."""
    return UK_REGIONS | {code.strip().upper() for code in value.split(",") if code.strip()}


def load_settings(
    environ: Mapping[str, str],
    instance_path: str | os.PathLike[str],
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings from ``environ``, then apply ``overrides``.

    ``overrides`` may use either the environment names (``DATABASE_URL``) or
    the field names (``database_url``); any other key is an error.
    """
    # The environment first, then the overrides on top of it.
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if name in _ENV and raw != "":
            attr, parse = _ENV[name]
            values[attr] = parse(raw)
    field_names = {f.name for f in fields(Settings)}
    for key, value in (overrides or {}).items():
        if key in _ENV:
            attr, parse = _ENV[key]
            values[attr] = parse(value) if isinstance(value, str) else value
        elif key in field_names:
            values[key] = value
        else:
            raise ConfigurationError(f"unknown setting {key!r}")
    settings = Settings(**values)

    if settings.env not in ("development", "production"):
        raise ConfigurationError("SAFETY_ENV must be 'development' or 'production'")
    _proxy_hops(str(settings.trusted_proxies))
    if settings.report_silence_timeout_seconds < MIN_REPORT_SILENCE_SECONDS:
        raise ConfigurationError(
            f"REPORT_SILENCE_TIMEOUT_SECONDS must be at least {MIN_REPORT_SILENCE_SECONDS}"
        )
    _check_signal_settings(settings)
    if not (0 <= settings.checkin_retries <= 5 and 1 <= settings.checkin_retry_minutes <= 60):
        raise ConfigurationError("CHECKIN_RETRIES must be 0 to 5 and CHECKIN_RETRY_MINUTES 1 to 60")
    if settings.production:
        missing = [name for name in REQUIRED_IN_PRODUCTION if not _field_set(settings, name)]
        if missing:
            raise ConfigurationError("refusing to start in production without: " + ", ".join(missing))
    else:
        settings = _fill_development_secrets(settings, Path(instance_path))
        if not settings.public_base_url:
            settings = replace(settings, public_base_url=DEVELOPMENT_BASE_URL)

    instance = Path(instance_path)
    if not settings.database_url:
        settings = replace(settings, database_url=f"sqlite:///{instance / 'safety.db'}")
    if not settings.recordings_path:
        settings = replace(settings, recordings_path=str(instance / "recordings"))
    if not settings.mail_log_path:
        settings = replace(settings, mail_log_path=str(instance / "mail.log"))
    if not settings.staff_console_url:
        settings = replace(settings, staff_console_url=settings.public_base_url)
    # National numbers a member keys are read in the scheme's own region.
    policy = replace(settings.destination_policy, region=settings.default_region)
    return replace(settings, destination_policy=policy)


def _check_signal_settings(settings: Settings) -> None:
    """Each signal needs several members and a window of at least a day."""
    for rule in ("reached", "blocked", "reported"):
        members = getattr(settings, f"signal_{rule}_members")
        days = getattr(settings, f"signal_{rule}_days")
        if members < MIN_MEMBERS:
            raise ConfigurationError(f"SIGNAL_{rule.upper()}_MEMBERS must be at least {MIN_MEMBERS}")
        if days < 1:
            raise ConfigurationError(f"SIGNAL_{rule.upper()}_DAYS must be at least 1")


def fallback_problem(settings: Settings) -> str | None:
    """Why the numbers' fallback would fail together with the app, or None.

    Twilio asks the fallback URL when the app errors or times out; served by
    the app itself (``FALLBACK_URL`` unset) or on the same origin as
    ``PUBLIC_BASE_URL``, it is down exactly when it is needed."""
    if not settings.fallback_url:
        return "FALLBACK_URL is unset: the numbers' fallback is served by the app itself"
    if _origin(settings.fallback_url) == _origin(settings.public_base_url):
        return "FALLBACK_URL is on the same origin as PUBLIC_BASE_URL: it fails when the app does"
    return None


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port, with the scheme's default port filled in."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(scheme)


def _field_set(settings: Settings, env_name: str) -> bool:
    attr = _ENV[env_name][0]
    return bool(getattr(settings, attr))


def _stored_or_generated_secrets(path: Path) -> dict[str, str]:
    """The secrets in ``path``, any missing generated and written (whole, by rename)."""
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    generators = {
        "TWILIO_AUTH_TOKEN": lambda: new_index_key()[:32],
        "SAFETY_DATA_KEYS": new_fernet_key,
        "SAFETY_INDEX_KEY": new_index_key,
        "SECRET_KEY": new_index_key,
    }
    missing = [name for name in GENERATED_SECRETS if name not in stored]
    if missing:
        for name in missing:
            stored[name] = generators[name]()
        partial = path.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh, indent=2)
        os.replace(partial, path)
    return stored


def _fill_development_secrets(settings: Settings, instance: Path) -> Settings:
    """Generate missing secrets once into ``instance/secrets.json`` and reuse them."""
    if all(_field_set(settings, name) for name in GENERATED_SECRETS):
        return settings
    instance.mkdir(parents=True, exist_ok=True)
    # Every gunicorn worker builds the app at once: without the lock two of
    # them could each find no file and write different keys, or one read the
    # file half written by the other.
    with (instance / (SECRETS_FILE + ".lock")).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stored = _stored_or_generated_secrets(instance / SECRETS_FILE)
    updates: dict[str, Any] = {}
    for name in GENERATED_SECRETS:
        if not _field_set(settings, name):
            attr, parse = _ENV[name]
            updates[attr] = parse(stored[name])
    return replace(settings, **updates)
