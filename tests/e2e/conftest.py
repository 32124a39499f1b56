"""Browser tests: Playwright (Python) driving Debian's Chromium against a real uvicorn server
in a thread, on the small clinic of :mod:`tests.web.clinic` built for today's date.

Without Chromium the tests skip with the reason, unless ``MSINFUSE_REQUIRE_BROWSER=1`` (set
by ``.ci/run``), where a missing browser fails them.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from msinfuse.app import create_app
from msinfuse.config import Settings
from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.persistence.engine import make_engine, session_factory, session_scope
from msinfuse.persistence.migrate import upgrade
from msinfuse.services.context import SYSTEM, ServiceContext
from msinfuse.web.screenshots import CHROMIUM_ARGS
from tests.support import PASSWORD, Server, create_role_users, start_server, username
from tests.web.clinic import SmallClinic, build_small_clinic

CHROMIUM = os.environ.get("MSINFUSE_CHROMIUM", "/usr/bin/chromium")
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
    server: Server
    url: str = ""


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
        create_role_users(session, ctx)
        clinic = build_small_clinic(session, ctx, today)
    engine.dispose()
    settings = Settings(database_url=url, log_level="WARNING", signin_per_minute=100)
    server = start_server(create_app(settings))
    yield Live(server.base, clinic, server, url)
    server.stop()


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
