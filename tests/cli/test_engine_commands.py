"""``msinfuse calendar`` and ``msinfuse rates``: documented JSON and clear errors."""

from __future__ import annotations

import re

import pytest

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class TestCalendarCommand:
    def test_json_has_the_documented_shape(self, run):
        result = run(
            "calendar",
            "ocrelizumab",
            "--start",
            "2026-01-05",
            "--given",
            "2026-01-05:300",
            "--given",
            "2026-01-19:300",
            "--today",
            "2026-01-20",
            "--count",
            "2",
            "--json",
        )
        assert result.code == 0
        data = result.json()
        assert {"agent", "regimen", "profile", "doses", "findings", "sources"} <= set(data)
        for dose in data["doses"]:
            assert {"number", "kind", "date", "earliest", "dose_mg", "status"} <= set(dose)
            assert DATE.match(dose["date"])
            assert DATE.match(dose["earliest"])
        assert data["doses"][2]["date"] == "2026-06-22"
        for finding in data["findings"]:
            assert {"severity", "rule", "message", "source"} <= set(finding)

    def test_eu_profile_and_regimen_options(self, run):
        data = run(
            "calendar",
            "natalizumab",
            "--start",
            "2026-01-05",
            "--regimen",
            "q6w-extended",
            "--profile",
            "eu",
            "--today",
            "2026-01-05",
            "--json",
        ).json()
        assert data["regimen"] == "q6w-extended"
        assert data["profile"] == "eu"
        assert any(f["rule"] == "calendar.off-label" for f in data["findings"])

    def test_mitoxantrone_needs_height_and_weight(self, run):
        result = run("calendar", "mitoxantrone", "--start", "2026-01-05", "--today", "2026-01-05")
        assert result.code == 2
        assert "height and weight" in result.err
        ok = run(
            "calendar",
            "mitoxantrone",
            "--start",
            "2026-01-05",
            "--today",
            "2026-01-05",
            "--height-cm",
            "170",
            "--weight-kg",
            "70",
            "--json",
        )
        assert ok.json()["doses"][0]["dose_mg"] == 21.8

    def test_human_output_shows_the_table_and_label_revisions(self, run):
        result = run(
            "calendar",
            "alemtuzumab",
            "--start",
            "2026-01-05",
            "--today",
            "2026-01-05",
            "--count",
            "8",
        )
        assert result.code == 0
        assert "Course 2" in result.out
        assert "LEMTRADA" in result.out

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (("calendar", "nope", "--start", "2026-01-05"), "valid agents"),
            (("calendar", "ocrelizumab", "--start", "2026-02-30"), "not a valid date"),
            (
                ("calendar", "ocrelizumab", "--start", "2026-01-05", "--regimen", "weekly"),
                "valid regimens: standard",
            ),
            (
                ("calendar", "ocrelizumab", "--start", "2026-01-05", "--given", "2026-01-05:abc"),
                "must be a number",
            ),
            (
                (
                    "calendar",
                    "ocrelizumab",
                    "--start",
                    "2026-01-05",
                    "--today",
                    "2026-01-01",
                    "--given",
                    "2026-01-05",
                ),
                "after today",
            ),
        ],
    )
    def test_bad_input_exits_2_with_one_line(self, run, argv, message):
        result = run(*argv)
        assert result.code == 2
        assert message in result.err
        assert result.err.count("\n") == 1


class TestRatesCommand:
    def test_json_has_the_documented_shape(self, run):
        data = run("rates", "ocrelizumab", "--infusion", "1", "--json").json()
        assert {
            "agent",
            "infusion",
            "protocol",
            "dose_mg",
            "volume_ml",
            "steps",
            "infusion_min",
            "observation_min",
            "premedication",
            "chair_min",
            "findings",
            "sources",
        } <= set(data)
        for step in data["steps"]:
            assert {"start_min", "end_min", "rate_ml_h", "volume_ml"} <= set(step)
        assert data["infusion_min"] == 158.33
        assert data["chair_min"] == 268.33

    def test_a_start_time_adds_the_pump_program(self, run):
        data = run("rates", "ublituximab", "--infusion", "1", "--start", "08:30", "--json").json()
        assert [line["start"] for line in data["pump_program"]] == [
            "08:30",
            "09:00",
            "09:30",
            "10:30",
        ]
        assert data["timeline"]["infusion_end"] == "12:30"

    def test_a_reaction_replans_the_rest_of_the_bag(self, run):
        data = run("rates", "ocrelizumab", "--infusion", "1", "--reaction", "45:2", "--json").json()
        assert data["reaction"]["grade"] == 2
        assert sum(s["volume_ml"] for s in data["steps"]) == pytest.approx(250, abs=0.05)
        assert any(s["kind"] == "hold" and s["rate_ml_h"] == 30 for s in data["steps"])

    def test_a_grade_3_reaction_restarts_at_the_given_minute(self, run):
        data = run(
            "rates",
            "natalizumab",
            "--infusion",
            "2",
            "--reaction",
            "20:3",
            "--resume-min",
            "50",
            "--json",
        ).json()
        assert any(
            s["kind"] == "paused" and s["start_min"] == 20 and s["end_min"] == 50
            for s in data["steps"]
        )

    def test_the_shorter_protocol_refusal_is_explained(self, run):
        data = run(
            "rates", "ocrelizumab", "--infusion", "2", "--protocol", "shorter", "--json"
        ).json()
        assert data["protocol"] == "standard"
        assert any(f["rule"] == "rates.shorter-refused" for f in data["findings"])

    def test_human_output_shows_the_pump_program(self, run):
        result = run("rates", "natalizumab", "--infusion", "1", "--start", "09:00")
        assert result.code == 0
        assert "Pump program" in result.out
        assert "TYSABRI" in result.out

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (("rates", "ocrelizumab", "--infusion", "0"), "starts at 1"),
            (("rates", "ocrelizumab", "--infusion", "3", "--dose-mg", "300"), "does not fit"),
            (
                ("rates", "ocrelizumab", "--infusion", "1", "--reaction", "200:2"),
                "between 0 and the end",
            ),
            (("rates", "rituximab", "--infusion", "1", "--volume-ml", "100"), "1–4 mg/mL"),
            (("rates", "ocrelizumab", "--infusion", "1", "--protocol", "rapid"), "standard"),
            (
                ("rates", "natalizumab", "--infusion", "1", "--protocol", "shorter"),
                "no shorter protocol",
            ),
            (("rates", "ocrelizumab", "--infusion", "1", "--start", "25:99"), "clock time"),
            (("rates", "ocrelizumab", "--infusion", "1", "--reaction", "x"), "MIN:GRADE"),
            (("rates", "ocrelizumab", "--infusion", "1", "--reaction", "30:3"), "resume"),
        ],
    )
    def test_bad_input_exits_2_with_one_line(self, run, argv, message):
        result = run(*argv)
        assert result.code == 2
        assert message in result.err
        assert result.err.count("\n") == 1
