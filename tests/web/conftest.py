"""The real application with its web UI over real databases (SQLite and PostgreSQL).

Each test gets its own copy of a migrated template that holds one user per role, an open
browser session for each (cookie token and CSRF token; signing in costs an Argon2 hash, so
it is done once) and the small clinic of :mod:`tests.web.clinic`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from msinfuse.config import Settings
from msinfuse.http.deps import SESSION_COOKIE
from msinfuse.persistence.engine import make_engine, session_factory, session_scope
from msinfuse.persistence.migrate import upgrade
from msinfuse.services.context import SYSTEM
from tests.api.conftest import START, Clock
from tests.integration.conftest import TODAY, _postgres_admin_url, make_ctx
from tests.support import (
    app_client,
    copy_sqlite,
    create_database,
    create_role_users,
    drop_database,
    sign_in_roles,
)
from tests.web.clinic import SmallClinic, build_small_clinic


@dataclass(frozen=True)
class WebTemplate:
    url: str
    sessions: dict[str, tuple[str, str]]  # role -> (cookie token, CSRF token)
    clinic: SmallClinic


def seed(url: str) -> tuple[dict[str, tuple[str, str]], SmallClinic]:
    """Users, one open browser session per role, and the small clinic."""
    engine = make_engine(url)
    settings = Settings(database_url=url, session_hours=24 * 365)
    sessions: dict[str, tuple[str, str]] = {}
    with session_scope(session_factory(engine)) as session:
        ctx = make_ctx(SYSTEM)
        create_role_users(session, ctx)
        session.flush()
        issued = sign_in_roles(session, settings, START - timedelta(hours=1), "session")
        for role, token in issued.items():
            assert token.csrf_token is not None
            sessions[role] = (token.token, token.csrf_token)
        clinic = build_small_clinic(session, ctx, TODAY)
    engine.dispose()
    return sessions, clinic


@pytest.fixture(scope="session")
def sqlite_web_template(tmp_path_factory: pytest.TempPathFactory) -> WebTemplate:
    path = tmp_path_factory.mktemp("web") / "template.sqlite3"
    url = f"sqlite:///{path}"
    upgrade(url)
    return WebTemplate(url, *seed(url))


@pytest.fixture(scope="session")
def postgres_web_template() -> Iterator[tuple[str, WebTemplate]]:
    admin_url = _postgres_admin_url()
    if admin_url is None:
        pytest.skip("PostgreSQL not reachable: set MSINFUSE_TEST_POSTGRES_URL to run these tests")
    name, url = create_database(admin_url, "msinfuse_webtpl")
    upgrade(url)
    template = WebTemplate(url, *seed(url))
    yield admin_url, template
    drop_database(admin_url, name)


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


@dataclass
class Web:
    """A browser-like client of the real application, signed in as any role."""

    client: TestClient
    clock: Clock
    sessions: dict[str, tuple[str, str]]
    clinic: SmallClinic
    backend: str
    url: str = ""

    def _as(self, role: str | None) -> None:
        self.client.cookies.clear()
        if role is not None:
            self.client.cookies.set(SESSION_COOKIE, self.sessions[role][0])

    def get(self, path: str, role: str | None = "nurse", **kw: Any) -> Any:
        self._as(role)
        kw.setdefault("follow_redirects", False)
        return self.client.get(path, **kw)

    def post(
        self,
        path: str,
        role: str | None = "nurse",
        data: dict[str, Any] | None = None,
        csrf: bool = True,
        **kw: Any,
    ) -> Any:
        self._as(role)
        form = dict(data or {})
        if csrf and role is not None:
            form["csrf_token"] = self.sessions[role][1]
        kw.setdefault("follow_redirects", False)
        return self.client.post(path, data=form, **kw)

    def page(self, path: str, role: str = "nurse") -> str:
        response = self.get(path, role)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return str(response.text)


def make_web(url: str, template: WebTemplate, backend: str) -> Iterator[Web]:
    settings = Settings(database_url=url)
    clock = Clock()
    with app_client(settings, clock) as client:
        yield Web(client, clock, dict(template.sessions), template.clinic, backend, url)


@pytest.fixture(params=["sqlite", "postgres"])
def web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Web]:
    """The application on a fresh copy of the small clinic (SQLite, then PostgreSQL)."""
    if request.param == "sqlite":
        template: WebTemplate = request.getfixturevalue("sqlite_web_template")
        url = copy_sqlite(template.url, tmp_path / "web.sqlite3")
        yield from make_web(url, template, "sqlite")
        return
    admin_url, pg_template = request.getfixturevalue("postgres_web_template")
    name, url = create_database(admin_url, "msinfuse_web", pg_template.url)
    try:
        yield from make_web(url, pg_template, "postgres")
    finally:
        drop_database(admin_url, name)


@pytest.fixture
def sqlite_web(sqlite_web_template: WebTemplate, tmp_path: Path) -> Iterator[Web]:
    """The application on a fresh SQLite copy only (for tests of the web layer itself)."""
    url = copy_sqlite(sqlite_web_template.url, tmp_path / "web.sqlite3")
    yield from make_web(url, sqlite_web_template, "sqlite")
