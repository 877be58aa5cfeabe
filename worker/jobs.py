"""Job functions: top-level, importable by path, taking opaque ids only."""

from __future__ import annotations

from worker import services


def ping(token: str) -> str:
    """A no-op job for health checks and queue benchmarks."""
    services.current()
    return token
