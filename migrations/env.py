"""Alembic environment: the URL comes from the caller (``msinfuse db upgrade``, tests) or
from the settings; SQLite uses batch mode."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from msinfuse.config import get_settings
from msinfuse.persistence import models  # noqa: F401  (registers every table)
from msinfuse.persistence.base import Base
from msinfuse.persistence.engine import make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("url") or get_settings().effective_database_url()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
