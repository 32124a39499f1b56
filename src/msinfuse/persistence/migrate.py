"""Run the Alembic migrations programmatically (``msinfuse db upgrade``, tests, demo)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect

import msinfuse


def migrations_dir() -> Path:
    """The migrations folder: the checkout's ``migrations/``, or the copy in the wheel."""
    package = Path(msinfuse.__file__).resolve().parent
    for candidate in (package.parents[1] / "migrations", package / "_migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise FileNotFoundError("the msinfuse migrations are missing from this installation")


def alembic_config(url: str) -> Config:
    """An Alembic configuration for ``url``."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Take the database at ``url`` down to ``revision``."""
    command.downgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    """The schema revision of a database (``None`` when never migrated)."""
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
