"""``msinfuse demo-data`` through the real entry point, on a SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from msinfuse.config import get_settings


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    monkeypatch.setenv("MSINFUSE_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _scalar(url: str, sql: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(text(sql)).scalar_one()
    engine.dispose()
    return int(value)


def test_demo_data_builds_a_clinic_and_reports_it_as_json(run, database):
    result = run("demo-data", "--patients", "20", "--seed", "5", "--date", "2026-11-24", "--json")
    assert result.code == 0, result.err
    out = result.json()
    assert out["patients"] == 20
    assert out["rows"]["patients"] == 20
    assert out["sites"] == ["MAIN"]
    assert out["database_bytes"] > 0
    assert out["parameters"]["late_dose_share"]["source"].startswith("demo assumption")
    assert _scalar(database, "SELECT COUNT(*) FROM patients") == 20


def test_demo_data_refuses_a_database_with_patients_unless_replace(run, database):
    assert run("demo-data", "--patients", "5", "--date", "2026-11-24").code == 0
    refused = run("demo-data", "--patients", "5", "--date", "2026-11-24")
    assert refused.code == 2
    assert "--replace" in refused.err
    assert "DEMO-" not in refused.err
    replaced = run(
        "demo-data", "--patients", "8", "--sites", "2", "--chairs", "3", "--date", "2026-11-24",
        "--replace",
    )  # fmt: skip
    assert replaced.code == 0, replaced.err
    assert "Built a demo clinic of 8 patients at 2 site(s)" in " ".join(replaced.out.split())
    assert _scalar(database, "SELECT COUNT(*) FROM patients") == 8
    assert _scalar(database, "SELECT COUNT(*) FROM chairs") == 6
    # The audit log is append-only: the first build, the clearing and the rebuild.
    assert _scalar(database, "SELECT COUNT(*) FROM audit_events") == 3


@pytest.mark.usefixtures("database")
def test_demo_data_rejects_a_bad_date(run):
    result = run("demo-data", "--date", "24/11/2026")
    assert result.code == 2
    assert "--date" in result.err
