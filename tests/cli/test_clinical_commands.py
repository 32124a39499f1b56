"""``msinfuse check``, ``monitoring``, ``pml-risk`` and ``options`` on example states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class TestCheckCommand:
    def test_json_shape_and_go_exit_code(self, run):
        result = run(
            "check",
            str(EXAMPLES / "ocrelizumab-first-dose.json"),
            "--agent",
            "ocrelizumab",
            "--date",
            "2026-11-24",
            "--json",
        )
        assert result.code == 0
        data = result.json()
        assert {"decision", "findings", "sources"} <= set(data)
        assert data["decision"] == "go"
        for finding in data["findings"]:
            assert {"rule", "severity", "message", "source"} <= set(finding)

    def test_caution_exits_0(self, run):
        result = run(
            "check",
            str(EXAMPLES / "natalizumab-jcv-positive.json"),
            "--agent",
            "natalizumab",
            "--date",
            "2026-11-24",
            "--json",
        )
        assert result.code == 0
        assert result.json()["decision"] == "caution"

    def test_hold_exits_3(self, run):
        result = run(
            "check",
            str(EXAMPLES / "natalizumab-jcv-positive.json"),
            "--agent",
            "ocrelizumab",
            "--date",
            "2026-11-24",
        )
        assert result.code == 3
        assert "HOLD" in result.out
        assert "Decision support" in result.out

    def test_the_shorter_protocol_option_is_checked(self, run, tmp_path: Path):
        data = json.loads((EXAMPLES / "ocrelizumab-maintenance.json").read_text())
        data["administrations"][-1]["reaction_grade"] = 3
        state = tmp_path / "state.json"
        state.write_text(json.dumps(data), encoding="utf-8")
        result = run(
            "check",
            str(state),
            "--agent",
            "ocrelizumab",
            "--date",
            "2026-11-24",
            "--protocol",
            "shorter",
            "--json",
        )
        assert result.code == 3
        assert any(f["rule"] == "ocrelizumab.shorter-protocol" for f in result.json()["findings"])

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (("check", "nope.json", "--agent", "natalizumab"), "no such file"),
            (("check", str(EXAMPLES / "mitoxantrone.json"), "--agent", "tysabri"), "valid agents"),
            (
                (
                    "check",
                    str(EXAMPLES / "mitoxantrone.json"),
                    "--agent",
                    "mitoxantrone",
                    "--date",
                    "2026-13-01",
                ),
                "not a valid date",
            ),
            (("check", str(EXAMPLES / "mitoxantrone.json")), "--agent"),
            (
                (
                    "check",
                    str(EXAMPLES / "mitoxantrone.json"),
                    "--agent",
                    "mitoxantrone",
                    "--date",
                    "2026-06-01",
                ),
                "after the check date",
            ),
        ],
    )
    def test_bad_input_exits_2(self, run, argv, message):
        result = run(*argv)
        assert result.code == 2
        assert message in result.err
        assert result.err.count("\n") == 1

    def test_an_invalid_state_names_the_json_path(self, run, tmp_path: Path):
        state = tmp_path / "state.json"
        state.write_text(
            json.dumps({"id": "p", "labs": [{"test": "xyz", "value": 1, "date": "2026-01-01"}]}),
            encoding="utf-8",
        )
        result = run("check", str(state), "--agent", "natalizumab", "--date", "2026-11-24")
        assert result.code == 2
        assert "$.labs[0].test" in result.err


class TestMonitoringCommand:
    def test_json_lists_items_with_the_documented_keys(self, run):
        result = run(
            "monitoring",
            str(EXAMPLES / "alemtuzumab-course-2.json"),
            "--date",
            "2026-11-24",
            "--json",
        )
        assert result.code == 0
        items = result.json()["items"]
        assert items
        for item in items:
            assert {"agent", "item", "due", "status", "source"} <= set(item)
        assert any(i["item_id"] == "cbc-monthly" for i in items)

    def test_human_output(self, run):
        result = run(
            "monitoring", str(EXAMPLES / "natalizumab-jcv-positive.json"), "--date", "2026-11-24"
        )
        assert result.code == 0
        assert "natalizumab" in result.out


class TestPmlRiskCommand:
    def test_from_risk_factors(self, run):
        data = run(
            "pml-risk", "--jcv", "positive", "--index", "2.0", "--months", "30", "--json"
        ).json()
        assert {
            "risk_per_1000",
            "band",
            "table",
            "risk_factors",
            "retest_due",
            "mri_interval_months",
            "source",
        } <= set(data)
        assert data["risk_per_1000"] == 8.8

    def test_a_missing_cell_is_null(self, run):
        assert (
            run("pml-risk", "--jcv", "positive", "--months", "80", "--json").json()["risk_per_1000"]
            is None
        )

    def test_from_a_patient_state(self, run):
        data = run(
            "pml-risk",
            str(EXAMPLES / "natalizumab-jcv-positive.json"),
            "--date",
            "2026-11-24",
            "--json",
        ).json()
        assert data["jcv_status"] == "positive"
        assert data["category"] == "higher"

    def test_needs_either_a_state_or_the_factors(self, run):
        result = run("pml-risk", "--index", "1.0")
        assert result.code == 2
        assert "--jcv and --months are required" in result.err

    def test_bad_jcv_value_exits_2(self, run):
        assert run("pml-risk", "--jcv", "maybe", "--months", "3").code == 2


class TestOptionsCommand:
    def test_every_agent_is_listed_by_name_with_holds_and_burden(self, run):
        data = run(
            "options",
            str(EXAMPLES / "ocrelizumab-first-dose.json"),
            "--date",
            "2026-11-24",
            "--json",
        ).json()
        names = [a["name"] for a in data["agents"]]
        assert names == sorted(names)
        assert "not a recommendation" in data["framing"]
        ocr = next(a for a in data["agents"] if a["agent"] == "ocrelizumab")
        assert ocr["on_label"] is True
        assert ocr["holds_today"] == []
        ntz = next(a for a in data["agents"] if a["agent"] == "natalizumab")
        assert ntz["holds_today"], "a first natalizumab dose without TOUCH or MRI is held"
        assert data["alternatives"]

    def test_human_output(self, run):
        result = run(
            "options", str(EXAMPLES / "ocrelizumab-first-dose.json"), "--date", "2026-11-24"
        )
        assert result.code == 0
        assert "Options to discuss" in result.out
        assert "Ocrelizumab" in result.out
