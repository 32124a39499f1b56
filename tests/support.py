"""Fixture code shared by the API, web and browser tests: one user per role (and a sign-in
for each), PostgreSQL databases made and dropped beside the tests' own, the application in a
test client, and the real server on loopback in a thread."""

from __future__ import annotations

import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from msinfuse.app import create_app
from msinfuse.config import Settings
from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.services import auth
from msinfuse.services.context import ROLES, ServiceContext

PASSWORD = "Correct-Horse-42"


def username(role: str) -> str:
    """The test user of a role."""
    return f"{role}1"


def create_role_users(session: Session, ctx: ServiceContext) -> None:
    """One user per role, named :func:`username`, with :data:`PASSWORD`."""
    for role in ROLES:
        auth.create_user(
            session,
            ctx,
            {
                "username": username(role),
                "full_name": f"{role.title()} One",
                "role": role,
                "password": PASSWORD,
            },
        )


def sign_in_roles(
    session: Session,
    settings: Settings,
    now: datetime,
    kind: Literal["bearer", "session"] = "bearer",
) -> dict[str, auth.IssuedToken]:
    """Sign each role's user in once at ``now`` (an Argon2 hash each, so done once)."""
    return {
        role: auth.sign_in(
            session,
            settings,
            default_knowledge_base(),
            now,
            username(role),
            PASSWORD,
            f"seed-{role}",
            kind,
        )
        for role in ROLES
    }


def copy_sqlite(template_url: str, target: Path) -> str:
    """Copy the SQLite database at ``template_url`` to ``target``; return the copy's URL."""
    shutil.copy(make_url(template_url).database or "", target)
    return f"sqlite:///{target}"


def create_database(admin_url: str, prefix: str, template: str | None = None) -> tuple[str, str]:
    """A new PostgreSQL database ``<prefix>_<random>``, a copy of the database at
    ``template`` when one is named; returns its name and URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{make_url(template).database}"' if template is not None else ""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    admin.dispose()
    return name, make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    """Drop a database made by :func:`create_database` (closing its connections)."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def app_client(settings: Settings, clock: Any) -> Iterator[TestClient]:
    """The real application on ``settings`` and ``clock`` in a test client (server errors
    come back as 500 responses); its database engine is disposed afterwards."""
    app = create_app(settings, clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    runtime = getattr(getattr(getattr(app, "app", None), "state", None), "runtime", None)
    if runtime is not None:
        runtime.engine.dispose()


@dataclass
class Server:
    """A uvicorn server running in a daemon thread on loopback."""

    base: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        """Ask the server to exit and wait for its thread."""
        self.server.should_exit = True
        self.thread.join(timeout=30)


def free_port() -> int:
    """A loopback port free at the time of asking."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(app: Any) -> Server:
    """Serve ``app`` on a free loopback port in a thread; return once it accepts requests."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    return Server(f"http://127.0.0.1:{port}", server, thread)
