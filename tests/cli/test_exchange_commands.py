"""msinfuse fhir export/import, calendar-feed and worklist --csv on a small demo clinic."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from icalendar import Calendar

from msinfuse.config import get_settings


def _clinic(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("MSINFUSE_DATABASE_URL", f"sqlite:///{tmp_path / name}")
    get_settings.cache_clear()
    assert run("db", "upgrade").code == 0


@pytest.fixture
def demo(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _clinic(run, tmp_path, monkeypatch, "demo.sqlite3")
    result = run("demo-data", "--patients", "4", "--chairs", "3", "--date", "2026-11-24")
    assert result.code == 0, result.err
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("demo")
def test_fhir_export_then_import_into_another_database_and_again(run, tmp_path, monkeypatch):
    out = tmp_path / "p1.json"
    result = run("fhir", "export", "1", "-o", str(out))
    assert result.code == 0, result.err
    bundle = json.loads(out.read_text())
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "transaction"
    assert "Decision support only" in result.err
    _clinic(run, tmp_path, monkeypatch, "other.sqlite3")
    first = run("fhir", "import", str(out))
    assert first.code == 0, first.err
    assert "already present" in first.out
    assert not first.out.startswith("Imported 0 ")
    again = run("fhir", "import", str(out))
    assert again.code == 0
    assert again.out.startswith("Imported 0 new resource(s)")


@pytest.mark.usefixtures("demo")
def test_a_bad_bundle_is_refused_with_each_location(run, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}))
    result = run("fhir", "import", str(bad))
    assert result.code != 0
    assert "Bundle.type" in result.err
    assert "Bundle.entry" in result.err


@pytest.mark.usefixtures("demo")
def test_calendar_feed_writes_an_icalendar_file(run, tmp_path):
    out = tmp_path / "p.ics"
    assert run("calendar-feed", "1", "-o", str(out)).code == 0
    calendar = Calendar.from_ical(out.read_bytes())
    assert str(calendar.get("prodid")).startswith("-//msinfuse//")


@pytest.mark.usefixtures("demo")
@pytest.mark.parametrize("worklist", ["today", "due", "monitoring", "pml", "adherence"])
def test_every_worklist_prints_csv(run, worklist: str):
    result = run("worklist", worklist, "--csv")
    assert result.code == 0, result.err
    rows = list(csv.reader(io.StringIO(result.out)))
    json_rows = run("worklist", worklist, "--json").json()
    assert len(rows) == len(json_rows) + 1
    if json_rows:
        assert set(rows[0]) == set(json_rows[0])
    assert "Decision support only" in result.err
