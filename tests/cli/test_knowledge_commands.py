"""``msinfuse drugs ...`` and ``msinfuse sources``: JSON keys, human output, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

LIST_KEYS = {
    "id",
    "name",
    "brands",
    "route",
    "infusion",
    "mechanism_modes",
    "ms_courses",
    "off_label_in_ms",
}


class TestDrugsList:
    def test_json_lists_the_seven_infusion_agents_with_the_documented_keys(self, run):
        result = run("drugs", "list", "--json")
        assert result.code == 0
        rows = result.json()
        assert {r["id"] for r in rows} == {
            "alemtuzumab",
            "methylprednisolone",
            "mitoxantrone",
            "natalizumab",
            "ocrelizumab",
            "rituximab",
            "ublituximab",
        }
        for row in rows:
            assert set(row) >= LIST_KEYS
            assert row["infusion"] is True

    def test_all_adds_the_non_infusion_alternatives(self, run):
        rows = run("drugs", "list", "--all", "--json").json()
        alternatives = [r for r in rows if not r["infusion"]]
        assert {"fingolimod", "ofatumumab"} <= {r["id"] for r in alternatives}
        assert all(set(r) >= LIST_KEYS for r in rows)

    def test_on_label_courses_follow_the_profile(self, run):
        us = {r["id"]: r for r in run("drugs", "list", "--json").json()}
        eu = {r["id"]: r for r in run("drugs", "list", "--profile", "eu", "--json").json()}
        assert us["natalizumab"]["ms_courses"] == ["CIS", "RRMS", "SPMS-active"]
        assert eu["natalizumab"]["ms_courses"] == ["RRMS"]
        assert us["rituximab"]["off_label_in_ms"] is True
        assert "Ocrevus Zunovo" in us["ocrelizumab"]["brands"]
        assert "Ocrevus Zunovo" not in eu["ocrelizumab"]["brands"]

    def test_human_output_is_a_table(self, run):
        result = run("drugs", "list")
        assert result.code == 0
        assert "natalizumab" in result.out
        assert "ocrelizumab" in result.out


class TestDrugsShow:
    def test_json_carries_citations_label_revisions_and_decision_support(self, run):
        data = run("drugs", "show", "ocrelizumab", "--json").json()
        assert data["id"] == "ocrelizumab"
        assert data["regimens"][0]["repeat"]["interval"]["value"] == "24 weeks"
        assert data["regimens"][0]["repeat"]["interval"]["cite"][0]["source"] == "S06"
        assert data["label_revisions"][0]["revision"] == "5/2026"
        assert "Decision support" in data["decision_support"]

    def test_eu_profile_shows_eu_values(self, run):
        data = run("drugs", "show", "ocrelizumab", "--profile", "eu", "--json").json()
        assert data["regimens"][0]["repeat"]["interval"]["value"] == "6 months"
        assert all("eu" in s["profiles"] for s in data["screening"])

    def test_a_value_missing_for_a_profile_is_reported_not_established(self, run):
        data = run("drugs", "show", "ublituximab", "--profile", "eu", "--json").json()
        assert data["pregnancy"]["contraception_after_last_dose"] == {
            "not_established": True,
            "profile": "eu",
        }

    def test_human_output_names_the_sources(self, run):
        result = run("drugs", "show", "alemtuzumab")
        assert result.code == 0
        assert "DM-LEM" in result.out
        assert "Decision support" in result.out

    def test_an_unknown_agent_exits_2_naming_the_valid_agents(self, run):
        result = run("drugs", "show", "tysabri")
        assert result.code == 2
        assert result.err.count("\n") == 1
        assert "valid agents: alemtuzumab" in result.err
        assert "Traceback" not in result.err


class TestDrugsCompare:
    def test_json_has_burden_and_key_risks_for_each_agent(self, run):
        data = run("drugs", "compare", "natalizumab", "ocrelizumab", "alemtuzumab", "--json").json()
        rows = {r["id"]: r for r in data["agents"]}
        assert rows["natalizumab"]["burden"]["visits_per_year"] == 13.0
        assert rows["ocrelizumab"]["burden"]["visits_per_year"] == 2.2
        assert rows["ocrelizumab"]["burden"]["shorter_option_chair_minutes"] == 230
        assert rows["alemtuzumab"]["burden"]["first_course_visits"] == 5
        assert any(r["boxed"] for r in rows["natalizumab"]["key_risks"])
        for row in rows.values():
            assert {
                "mechanism",
                "ms_courses",
                "how_given",
                "premedication",
                "observation",
                "screening",
                "monitoring",
            } <= set(row)
        assert data["label_revisions"]

    def test_human_output_compares_side_by_side(self, run):
        result = run("drugs", "compare", "natalizumab", "ublituximab")
        assert result.code == 0
        assert "Visits per year" in result.out

    def test_an_unknown_agent_in_a_comparison_exits_2(self, run):
        assert run("drugs", "compare", "natalizumab", "nope").code == 2


class TestDrugsHandout:
    def test_markdown_handout_has_plain_sections_and_the_decision_support_foot(self, run):
        result = run("drugs", "handout", "natalizumab")
        assert result.code == 0
        assert "## How it works" in result.out
        assert "every 4 weeks" in result.out
        assert "Decision support only" in result.out
        assert "TYSABRI US prescribing information, revision 3/2025" in result.out

    def test_html_handout_is_written_to_a_file(self, run, tmp_path: Path):
        target = tmp_path / "handout.html"
        result = run("drugs", "handout", "alemtuzumab", "--format", "html", "-o", str(target))
        assert result.code == 0
        html = target.read_text(encoding="utf-8")
        assert html.startswith("<!doctype html>")
        assert "@media print" in html
        assert "LEMTRADA US prescribing information" in html

    def test_rituximab_handout_says_it_is_off_label(self, run):
        assert "Off-label in MS" in run("drugs", "handout", "rituximab").out

    def test_a_bad_format_exits_2_naming_the_choices(self, run):
        result = run("drugs", "handout", "natalizumab", "--format", "pdf")
        assert result.code == 2
        assert "md" in result.err
        assert "html" in result.err


class TestSources:
    def test_json_lists_every_source_with_its_metadata(self, run):
        rows = run("sources", "--json").json()
        keys = {r["key"] for r in rows}
        assert {"S01", "OFDA-NTZ", "DM-LEM", "UTD-PML", "MSINFUSE-POLICY"} <= keys
        for row in rows:
            assert {"key", "title", "urls", "doc_type", "revision", "jurisdiction"} <= set(row)


@pytest.mark.parametrize(
    "argv",
    [
        ("drugs", "list", "--profile", "jp"),
        ("drugs", "list", "--bogus"),
        ("drugs", "show"),
        ("nonsense",),
    ],
)
def test_bad_options_exit_2_with_one_line_and_no_traceback(run, argv):
    result = run(*argv)
    assert result.code == 2
    assert result.err.startswith("error:")
    assert result.err.count("\n") == 1
    assert "Traceback" not in result.err
