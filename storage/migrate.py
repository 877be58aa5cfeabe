"""Apply Alembic migrations programmatically (``flask --app ivr db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str = "") -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(bind: Engine | Connection, revision: str = "head") -> None:
    """Bring the schema to ``revision`` on an engine or an open connection."""
    cfg = alembic_config()
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    else:
        cfg.attributes["connection"] = bind
        command.upgrade(cfg, revision)
