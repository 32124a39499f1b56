"""The record, worklist, user and audit commands against a real SQLite file."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from msinfuse.cli import serving
from msinfuse.config import Settings, get_settings
from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.persistence.engine import make_engine, session_factory, session_scope
from msinfuse.services import auth, records
from msinfuse.services.context import ServiceContext


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run) -> Path:
    path = tmp_path / "clinic.sqlite3"
    monkeypatch.setenv("MSINFUSE_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    assert run("db", "upgrade").code == 0
    yield path
    get_settings.cache_clear()


@pytest.mark.usefixtures("database")
class TestRecords:
    def test_a_patient_is_registered_screened_planned_and_shows_as_due(self, run):
        assert run("sites", "add", "--code", "EAST", "--name", "East", "--chairs", "4").code == 0
        added = run(
            "patients", "add", "--mrn", "E1", "--given-name", "Ana", "--family-name", "Diaz",
            "--birth-date", "1985-02-01", "--sex", "female", "--ms-course", "RRMS",
            "--site", "EAST", "--json",
        )  # fmt: skip
        assert added.code == 0, added.err
        pid = str(added.json()["id"])
        lab = run(
            "record",
            "lab",
            pid,
            json.dumps({"test": "hbsag", "value": "negative", "date": "2026-11-01"}),
        )
        assert lab.code == 0, lab.err
        plan = run(
            "plan", "start", pid, "--agent", "natalizumab", "--start", "2030-01-07", "--json"
        )
        assert plan.code == 0, plan.err
        doses = plan.json()["doses"]
        assert doses[1]["planned_on"] == "2030-02-04"  # every 4 weeks
        due = run("worklist", "due", "--date", "2030-01-01", "--days", "14", "--json")
        assert due.code == 0, due.err
        rows = due.json()["rows"] if isinstance(due.json(), dict) else due.json()
        assert [r["dose_id"] for r in rows if r["patient_id"] == int(pid)] == [doses[0]["id"]]

    def test_a_bad_record_is_refused_with_exit_2_and_names_the_field(self, run):
        added = run(
            "patients",
            "add",
            "--mrn",
            "E2",
            "--given-name",
            "Ana",
            "--family-name",
            "Diaz",
            "--json",
        )
        pid = str(added.json()["id"])
        bad = run("record", "lab", pid, json.dumps({"test": "hbsag", "date": "2026-11-01"}))
        assert bad.code == 2
        assert "value" in bad.err
        missing = run("plan", "start", "424242", "--agent", "natalizumab", "--start", "2030-01-07")
        assert missing.code == 2


@pytest.mark.usefixtures("database")
class TestUsersAndAudit:
    def test_users_need_strong_passwords_and_are_listed(self, run):
        weak = run(
            "users", "add", "sam", "--role", "nurse", "--name", "Sam", "--password", "weakpass"
        )
        assert weak.code == 2
        assert "12 characters" in weak.err
        assert "weakpass" not in weak.err
        ok = run(
            "users",
            "add",
            "sam",
            "--role",
            "nurse",
            "--name",
            "Sam",
            "--password",
            "Strong-Pass-2026",
        )
        assert ok.code == 0, ok.err
        listed = run("users", "list", "--json").json()
        assert [(u["username"], u["role"], u["active"]) for u in listed] == [("sam", "nurse", True)]
        assert run("users", "disable", "sam").code == 0
        assert run("users", "list", "--json").json()[0]["active"] is False

    def test_an_unknown_role_is_refused(self, run):
        result = run(
            "users",
            "add",
            "kim",
            "--role",
            "surgeon",
            "--name",
            "Kim",
            "--password",
            "Strong-Pass-2026",
        )
        assert result.code == 2
        assert "role" in result.err

    def test_the_audit_export_lists_events_since_a_date(self, run):
        run(
            "users",
            "add",
            "sam",
            "--role",
            "nurse",
            "--name",
            "Sam",
            "--password",
            "Strong-Pass-2026",
        )
        events = run("audit", "export", "--since", "2000-01-01", "--json")
        assert events.code == 0, events.err
        assert any(e["action"] == "create" and e["resource_type"] == "User" for e in events.json())
        later = run("audit", "export", "--since", "2999-01-01", "--json")
        assert later.json() == []
        assert run("audit", "export", "--since", "yesterday").code == 2


class TestServeDemo:
    def test_serve_demo_builds_a_fresh_clinic_with_demo_sign_ins_and_serves_it(
        self, run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ):
        served: dict[str, object] = {}
        monkeypatch.setattr(serving, "run", lambda app, **kw: served.update(app=app, **kw))
        monkeypatch.setenv("MSINFUSE_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("MSINFUSE_DATABASE_URL", "sqlite:////nonexistent/elsewhere.db")
        get_settings.cache_clear()
        result = run("serve", "--demo", "--demo-patients", "20", "--port", "8765")
        get_settings.cache_clear()
        assert result.code == 0, result.err
        assert served["port"] == 8765
        assert served["app"] == "msinfuse.app:create_app_from_environment"
        demo_url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
        assert os.environ["MSINFUSE_DATABASE_URL"] == demo_url  # what the workers will read
        assert "demo.nurse" in result.out
        password = next(p for u, _, r, p in auth.DEMO_USERS if r == "nurse")
        engine = make_engine(demo_url)
        with session_scope(session_factory(engine)) as session:
            issued = auth.sign_in(
                session, Settings(), default_knowledge_base(), datetime.now(UTC),
                "demo.nurse", password, "test",
            )  # fmt: skip
            ctx = ServiceContext(
                default_knowledge_base(), issued.actor, issued.expires_at.date(), issued.expires_at
            )
            assert issued.actor.role == "nurse"
            assert records.list_patients(session, ctx, limit=100)["total"] == 20
        engine.dispose()
