"""``msinfuse schedule week|accept|shifts|capacity --week`` on a demo clinic in a SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from msinfuse.config import get_settings


@pytest.fixture
def clinic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run) -> Iterator[str]:
    monkeypatch.setenv("MSINFUSE_DATABASE_URL", f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    get_settings.cache_clear()
    today = date.today()
    built = run("demo-data", "--patients", "30", "--seed", "4", "--date", str(today))
    assert built.code == 0, built.err
    monday = today - timedelta(days=today.weekday()) + timedelta(days=14)
    yield str(monday)
    get_settings.cache_clear()


def test_shifts_week_and_accept(run, clinic: str):
    added = run(
        "schedule", "shifts", "add", "--site", "MAIN", "--day", clinic, "--starts", "08:00",
        "--ends", "17:30", "--break", "12:00", "--days", "5", "--count", "3", "--json",
    )  # fmt: skip
    assert added.code == 0, added.err
    assert len(added.json()) == 15
    assert {s["break_starts"] for s in added.json()} == {"12:00", "12:30", "13:00"}
    listed = run("schedule", "shifts", "list", "--site", "MAIN", "--start", clinic, "--json")
    assert len(listed.json()) == 15

    first = run(
        "schedule", "week", "--site", "MAIN", "--week", clinic, "--time-limit", "2", "--json"
    )
    assert first.code == 0, first.err
    proposal = first.json()
    assert proposal["status"] == "proposed"
    assert proposal["violations"] == []
    assert proposal["bookings"]
    assert not any(f["rule"] == "schedule.default-nurses" for f in proposal["findings"])

    shown = run("schedule", "week", "--site", "MAIN", "--week", clinic, "--time-limit", "2")
    assert shown.code == 0, shown.err
    assert "new bookings" in shown.out
    assert "Decision support" in shown.out

    accepted = run(
        "schedule", "week", "--site", "MAIN", "--week", clinic, "--time-limit", "2", "--accept",
        "--json",
    )  # fmt: skip
    assert accepted.code == 0, accepted.err
    assert accepted.json()["status"] == "accepted"
    assert len(accepted.json()["accepted"]["booked"]) == len(accepted.json()["bookings"])

    stale = run("schedule", "accept", str(proposal["id"]))
    assert stale.code != 0
    assert "stale" in stale.err


def test_capacity_from_the_clinic_week(run, clinic: str):
    result = run(
        "schedule", "capacity", "--site", "MAIN", "--week", clinic, "--resource", "chairs",
        "--time-limit", "1", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.json()["site"] == "MAIN"
    assert result.json()["needed"] is not None
    assert any(f["rule"] == "schedule.default-nurses" for f in result.json()["findings"])
    assert run("schedule", "capacity", "--week", clinic).code != 0  # --week needs --site
