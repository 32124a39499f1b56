"""Real databases for integration tests: SQLite files and a real PostgreSQL.

PostgreSQL comes from ``MSINFUSE_TEST_POSTGRES_URL`` (CI sets it and fails when the server
cannot be reached). Without it, the local server at 127.0.0.1 is tried; when none answers,
the PostgreSQL variants skip with a visible reason. Each session gets a fresh database built
by the migrations; each test runs in a transaction that is rolled back.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.persistence.engine import make_engine
from msinfuse.persistence.migrate import upgrade
from msinfuse.services.context import SYSTEM, Actor, ServiceContext

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TODAY = date(2026, 11, 24)


def _postgres_admin_url() -> str | None:
    url = os.environ.get("MSINFUSE_TEST_POSTGRES_URL")
    required = url is not None
    url = url or DEFAULT_PG
    try:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        if required:
            raise RuntimeError(
                "MSINFUSE_TEST_POSTGRES_URL is set but PostgreSQL cannot be reached"
            ) from exc
        return None
    return url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    admin_url = _postgres_admin_url()
    if admin_url is None:
        pytest.skip("PostgreSQL not reachable: set MSINFUSE_TEST_POSTGRES_URL to run these tests")
    name = f"msinfuse_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database URL: a fresh SQLite file, or the session's PostgreSQL database."""
    if request.param == "sqlite":
        target = tmp_path / "db.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back at the end of the test."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield session
    session.close()
    outer.rollback()
    connection.close()


def make_ctx(actor: Actor = SYSTEM, today: date = TODAY) -> ServiceContext:
    """A service context on a fixed day."""
    return ServiceContext(
        default_knowledge_base(),
        actor,
        today,
        datetime.combine(today, datetime.min.time(), UTC).replace(hour=9),
    )


@pytest.fixture
def ctx() -> ServiceContext:
    return make_ctx()
