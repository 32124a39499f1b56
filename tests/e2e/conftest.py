"""Browser tests: Playwright (Python) driving Debian's Chromium against a real uvicorn server
in a thread, on the small clinic of :mod:`tests.web.clinic` built for today's date.

Without Chromium the tests skip with the reason, unless ``MSINFUSE_REQUIRE_BROWSER=1`` (set
by ``.ci/run``), where a missing browser fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from msinfuse.app import create_app
from msinfuse.config import Settings
from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.persistence.engine import make_engine, session_factory, session_scope
from msinfuse.persistence.migrate import upgrade
from msinfuse.services import auth
from msinfuse.services.context import ROLES, SYSTEM, ServiceContext
from tests.api.conftest import PASSWORD, username
from tests.web.clinic import SmallClinic, build_small_clinic

CHROMIUM = os.environ.get("MSINFUSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
#: Form refusals the tests provoke on purpose (Chromium logs the page's own status).
EXPECTED_REFUSAL = re.compile(
    r"Failed to load resource: the server responded with a status of (400|403|409)"
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _require_browser() -> None:
    if Path(CHROMIUM).exists():
        return
    reason = f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium`"
    if os.environ.get("MSINFUSE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests are required here, but {reason}")
    pytest.skip(reason)


@dataclass
class Live:
    """A running server on the small clinic."""

    base: str
    clinic: SmallClinic
    server: uvicorn.Server
    thread: threading.Thread


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The real server on loopback, on a fresh SQLite clinic for today."""
    _require_browser()
    path = tmp_path_factory.mktemp("e2e") / "clinic.sqlite3"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    today = date.today()
    ctx = ServiceContext(default_knowledge_base(), SYSTEM, today, datetime.now(UTC))
    with session_scope(session_factory(engine)) as session:
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
        clinic = build_small_clinic(session, ctx, today)
    engine.dispose()
    port = _free_port()
    settings = Settings(database_url=url, log_level="WARNING", signin_per_minute=100)
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield Live(f"http://127.0.0.1:{port}", clinic, server, thread)
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's), launched as the issue asks."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context and page at tablet width, failing on any console error."""
    context = browser.new_context(viewport={"width": 1024, "height": 1366})
    tab = context.new_page()
    errors: list[str] = []
    tab.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not EXPECTED_REFUSAL.search(m.text)
            else None
        ),
    )
    tab.on("pageerror", lambda e: errors.append(str(e)))
    yield tab
    context.close()
    assert errors == [], f"the browser reported errors: {errors}"


def shot(tab: Any, name: str) -> None:
    """Save a full-page screenshot under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(tab: Any, live: Live, role: str) -> None:
    """Sign in through the form."""
    tab.goto(f"{live.base}/signin")
    tab.get_by_label("Username").fill(username(role))
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(f"{live.base}/board")


def remove_artifacts() -> None:  # pragma: no cover - manual helper
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
