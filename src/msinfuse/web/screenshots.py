"""README screenshots of the web app, made from the demo clinic (``make screenshots``).

Builds the synthetic demo clinic into a temporary SQLite file, serves it on loopback with
uvicorn, signs in as the demo nurse in headless Chromium (Playwright) and saves the board
and a natalizumab patient's page as PNG files::

    python -m msinfuse.web.screenshots --out docs/img

Needs Chromium (``/usr/bin/chromium`` or ``--chromium``) and Playwright (a dev dependency).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import uvicorn

from msinfuse.config import get_settings
from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.persistence.engine import make_engine, session_factory, session_scope
from msinfuse.persistence.migrate import upgrade
from msinfuse.services import auth, demo, plans, worklists
from msinfuse.services.context import SYSTEM, ServiceContext

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build(url: str, patients: int, seed: int) -> int:
    """Build the demo clinic with its demo sign-ins; returns a patient on natalizumab to show
    (with an anti-JCV index and the highest PML risk estimate, so the page has labs, MRIs and
    the risk panel)."""
    upgrade(url)
    engine = make_engine(url)
    today = date.today()
    ctx = ServiceContext(default_knowledge_base(), SYSTEM, today, datetime.now(UTC))
    try:
        with session_scope(session_factory(engine)) as session:
            demo.build_demo_clinic(
                session, ctx, patients=patients, seed=seed, sites=1, chairs_per_site=12, on=today
            )
            auth.ensure_demo_users(session, ctx)
        with session_scope(session_factory(engine)) as session:
            rows = worklists.pml(session, ctx)  # those with an anti-JCV index first
            for row in sorted(rows, key=lambda r: r["jcv_index"] is None):
                current = plans.list_plans(session, ctx, row["patient_id"])
                if any(p["agent"] == "natalizumab" and p["status"] == "active" for p in current):
                    return int(row["patient_id"])
    finally:
        engine.dispose()
    raise SystemExit("the demo clinic has no patient on natalizumab to show")


def shoot(base: str, out: Path, patient_id: int, chromium: str) -> list[Path]:
    """Sign in as the demo nurse and save the board and the patient page."""
    from playwright.sync_api import sync_playwright

    from msinfuse.services.auth import DEMO_USERS

    nurse = next(u for u in DEMO_USERS if u[2] == "nurse")
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/signin")
        page.get_by_label("Username").fill(nurse[0])
        page.get_by_label("Password").fill(nurse[3])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/board")
        for name, path in (("board", "/board"), ("patient", f"/patients/{patient_id}")):
            page.goto(base + path)
            target = out / f"{name}.png"
            page.screenshot(path=str(target), full_page=name == "board")
            saved.append(target)
        browser.close()
    return saved


def main(argv: list[str] | None = None) -> None:
    """Make the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.sqlite3'}"
        patient_id = build(url, args.patients, args.seed)
        port = _free_port()
        os.environ["MSINFUSE_DATABASE_URL"] = url  # the server reads its settings from here
        os.environ["MSINFUSE_LOG_LEVEL"] = "WARNING"
        get_settings.cache_clear()
        server = uvicorn.Server(
            uvicorn.Config(
                "msinfuse.app:create_app_from_environment",  # by name: the web layer never
                factory=True,  # imports the composition root
                host="127.0.0.1",
                port=port,
                log_level="warning",
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise SystemExit("the server did not start")
            time.sleep(0.05)
        try:
            for path in shoot(f"http://127.0.0.1:{port}", args.out, patient_id, args.chromium):
                sys.stdout.write(f"saved {path}\n")
        finally:
            server.should_exit = True
            thread.join(timeout=30)


if __name__ == "__main__":
    main()
