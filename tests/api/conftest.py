"""The real application over real databases, for API tests.

Each test gets its own database copied from a migrated template that already holds one user
per role and a bearer token for each (signing in costs an Argon2 hash, so it is done once):
a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL. The application runs
on a settable clock so expiry and lock-out can be tested without waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.integration.conftest import TODAY, _postgres_admin_url, make_ctx
from tests.support import (
    app_client,
    copy_sqlite,
    create_database,
    create_role_users,
    drop_database,
    sign_in_roles,
)

from msinfuse.config import Settings
from msinfuse.persistence.engine import make_engine, session_factory, session_scope
from msinfuse.persistence.migrate import upgrade
from msinfuse.services.context import SYSTEM

START = datetime.combine(TODAY, datetime.min.time(), UTC).replace(hour=8)
API = "/api/v1"


@dataclass
class Clock:
    """The application's clock, moved by the test."""

    moment: datetime = START

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@dataclass(frozen=True)
class Template:
    url: str
    tokens: dict[str, str]


def _seed(url: str) -> dict[str, str]:
    """Create one user per role and sign each in once; return their bearer tokens."""
    engine = make_engine(url)
    settings = Settings(database_url=url, token_hours=24 * 365)
    with session_scope(session_factory(engine)) as session:
        create_role_users(session, make_ctx(SYSTEM))
        session.flush()
        issued = sign_in_roles(session, settings, START - timedelta(hours=1))
        tokens = {role: token.token for role, token in issued.items()}
    engine.dispose()
    return tokens


@pytest.fixture(scope="session")
def sqlite_api_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    path = tmp_path_factory.mktemp("api") / "template.sqlite3"
    url = f"sqlite:///{path}"
    upgrade(url)
    return Template(url, _seed(url))


@pytest.fixture(scope="session")
def postgres_api_template() -> Iterator[tuple[str, Template]]:
    admin_url = _postgres_admin_url()
    if admin_url is None:
        pytest.skip("PostgreSQL not reachable: set MSINFUSE_TEST_POSTGRES_URL to run these tests")
    name, url = create_database(admin_url, "msinfuse_apitpl")
    upgrade(url)
    template = Template(url, _seed(url))
    yield admin_url, template
    drop_database(admin_url, name)


@dataclass
class Api:
    """A client of the real application, signed in as any role."""

    client: TestClient
    clock: Clock
    tokens: dict[str, str]
    url: str
    settings: Settings
    backend: str
    _extra: dict[str, Any] = field(default_factory=dict)

    def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(self, path: str, role: str | None = "nurse", **kw: Any) -> Any:
        return self.client.get(API + path, headers=self.headers(role), **kw)

    def post(self, path: str, role: str | None = "nurse", **kw: Any) -> Any:
        return self.client.post(API + path, headers=self.headers(role), **kw)

    def patch(self, path: str, role: str | None = "nurse", **kw: Any) -> Any:
        return self.client.patch(API + path, headers=self.headers(role), **kw)

    def ok(self, response: Any, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json() if response.content else None


def make_api(url: str, tokens: dict[str, str], backend: str, **overrides: Any) -> Iterator[Api]:
    settings = Settings(database_url=url, **overrides)
    clock = Clock()
    with app_client(settings, clock) as client:
        yield Api(client, clock, dict(tokens), url, settings, backend)


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The application on a fresh database (SQLite, then PostgreSQL)."""
    if request.param == "sqlite":
        template: Template = request.getfixturevalue("sqlite_api_template")
        url = copy_sqlite(template.url, tmp_path / "api.sqlite3")
        yield from make_api(url, template.tokens, "sqlite")
        return
    admin_url, template = request.getfixturevalue("postgres_api_template")
    name, url = create_database(admin_url, "msinfuse_api", template.url)
    try:
        yield from make_api(url, template.tokens, "postgres")
    finally:
        drop_database(admin_url, name)


@pytest.fixture
def sqlite_api(sqlite_api_template: Template, tmp_path: Path) -> Iterator[Api]:
    """The application on a fresh SQLite database only (for tests of the HTTP layer)."""
    url = copy_sqlite(sqlite_api_template.url, tmp_path / "api.sqlite3")
    yield from make_api(url, sqlite_api_template.tokens, "sqlite")
