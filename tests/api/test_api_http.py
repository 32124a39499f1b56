"""The API over real HTTP: uvicorn servers on loopback sharing one PostgreSQL database.

Two independent server processes' worth of state (two applications, two engines) serve the
same database, as several workers or machines would: whatever one signs in, locks out or
writes, the other sees. Concurrent requests beyond the thread pool complete without errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.api.conftest import API, Template
from tests.support import (
    PASSWORD,
    Server,
    copy_sqlite,
    create_database,
    drop_database,
    start_server,
    username,
)

from msinfuse.app import create_app
from msinfuse.config import Settings


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        template: Template = request.getfixturevalue("sqlite_api_template")
        yield copy_sqlite(template.url, tmp_path / "live.sqlite3")
        return
    admin_url, template = request.getfixturevalue("postgres_api_template")
    name, url = create_database(admin_url, "msinfuse_live", template.url)
    try:
        yield url
    finally:
        drop_database(admin_url, name)


@pytest.fixture
def two_servers(database_url: str) -> Iterator[tuple[Server, Server]]:
    settings = Settings(database_url=database_url, db_pool_size=3, log_level="WARNING")
    first, second = start_server(create_app(settings)), start_server(create_app(settings))
    yield first, second
    first.stop()
    second.stop()


def _sign_in(base: str, user: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(f"{base}{API}/auth/token", data={"username": user, "password": password})


def test_a_token_from_one_server_works_on_the_other_and_revoking_ends_it_on_both(two_servers):
    a, b = two_servers
    token = _sign_in(a.base, username("nurse")).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    me = httpx.get(f"{b.base}{API}/auth/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["role"] == "nurse"
    assert me.headers["x-content-type-options"] == "nosniff"
    assert httpx.post(f"{b.base}{API}/auth/revoke", headers=headers).status_code == 204
    assert httpx.get(f"{a.base}{API}/auth/me", headers=headers).status_code == 401


def test_failures_on_either_server_count_towards_one_lock_out(two_servers):
    a, b = two_servers
    user = username("pharmacist")
    for i in range(Settings().lockout_attempts):
        assert _sign_in((a, b)[i % 2].base, user, "Wrong-Password-99").status_code == 401
    locked = _sign_in(a.base, user)
    assert locked.status_code == 401
    assert "locked" in locked.json()["detail"]


def test_many_concurrent_writes_and_reads_beyond_the_thread_pool_all_succeed(two_servers):
    a, b = two_servers
    token = _sign_in(a.base, username("nurse")).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    async def burst() -> list[int]:
        async with httpx.AsyncClient(headers=headers, timeout=60) as client:

            def create(i: int) -> object:
                base = (a, b)[i % 2].base
                return client.post(
                    f"{base}{API}/patients",
                    json={
                        "mrn": f"LIVE-{i:03d}",
                        "given_name": "Test",
                        "family_name": f"Load{i:03d}",
                        "birth_date": "1980-01-01",
                        "sex": "female",
                    },
                )

            def read(i: int) -> object:
                return client.get(f"{(a, b)[i % 2].base}{API}/patients", params={"limit": 5})

            calls = [create(i) for i in range(30)] + [read(i) for i in range(30)]
            responses = await asyncio.gather(*calls)  # type: ignore[call-overload]
            return [r.status_code for r in responses]

    codes = asyncio.run(burst())
    assert codes[:30] == [201] * 30
    assert codes[30:] == [200] * 30
    listed = httpx.get(f"{b.base}{API}/patients", headers=headers, params={"search": "load"}).json()
    assert listed["total"] == 30
