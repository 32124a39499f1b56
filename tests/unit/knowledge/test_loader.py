"""The knowledge base loads, every fact is cited, and broken files are rejected precisely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from msinfuse.domain.knowledge.facts import Citation, Fact
from msinfuse.domain.knowledge.loader import load_knowledge_base, walk
from msinfuse.domain.knowledge.schema import MS_COURSES, Code, KnowledgeBase, Source
from msinfuse.errors import KnowledgeBaseError

AGENTS = {
    "natalizumab",
    "ocrelizumab",
    "ublituximab",
    "alemtuzumab",
    "rituximab",
    "mitoxantrone",
    "methylprednisolone",
}


def _numbers_without_citation(node: Any, path: str, covered: bool) -> list[str]:
    """Paths of numbers that sit in no Fact (and so carry no status and citation)."""
    if isinstance(node, bool) or node is None or isinstance(node, str):
        return []
    if isinstance(node, int | float):
        return [] if covered else [path]
    if isinstance(node, Source | Code | Citation):
        return []  # sources and terminology codes are not clinical numbers
    if isinstance(node, BaseModel):
        inside = covered or isinstance(node, Fact)
        found = []
        for name in type(node).model_fields:
            found += _numbers_without_citation(getattr(node, name), f"{path}.{name}", inside)
        return found
    if isinstance(node, dict):
        return [
            x for k, v in node.items() for x in _numbers_without_citation(v, f"{path}.{k}", covered)
        ]
    if isinstance(node, tuple | list):
        return [
            x
            for i, v in enumerate(node)
            for x in _numbers_without_citation(v, f"{path}[{i}]", covered)
        ]
    # Durations are numbers too.
    amount = getattr(node, "amount", None)
    if isinstance(amount, int):
        return [] if covered else [path]
    return []


def _rewrite(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


class TestTheKnowledgeBaseLoads:
    def test_all_seven_infusion_agents_load(self, kb: KnowledgeBase):
        assert set(kb.agents) == AGENTS

    def test_non_infusion_alternatives_are_listed(self, kb: KnowledgeBase):
        ids = {a.id for a in kb.alternatives}
        assert {"ofatumumab", "fingolimod", "dimethyl-fumarate", "teriflunomide"} <= ids
        assert all(a.route in ("oral", "SC", "IM") for a in kb.alternatives)

    def test_every_cited_source_key_resolves(self, kb: KnowledgeBase):
        cited = {node.source for _, node in walk(kb) if isinstance(node, Citation)}
        assert cited
        assert cited <= set(kb.sources)

    def test_every_number_has_a_status_and_citation(self, kb: KnowledgeBase):
        assert _numbers_without_citation(kb, "kb", covered=False) == []

    def test_every_fact_has_a_status_and_at_least_one_citation(self, kb: KnowledgeBase):
        facts = [node for _, node in walk(kb) if isinstance(node, Fact)]
        assert len(facts) > 300
        assert all(
            f.cite and f.status in {"label", "secondary", "literature", "policy", "unconfirmed"}
            for f in facts
        )

    def test_every_agent_names_its_label_revisions_for_both_profiles(self, kb: KnowledgeBase):
        for agent in kb.agents.values():
            assert agent.label_revisions("us"), agent.id
            assert agent.label_revisions("eu"), agent.id

    def test_sources_name_document_type_revision_and_jurisdiction(self, kb: KnowledgeBase):
        for source in kb.sources.values():
            assert source.title
            assert source.doc_type
            assert source.revision
            assert source.jurisdiction

    def test_history_of_contraindications_are_worded_as_history(self, kb: KnowledgeBase):
        def wording(agent: str, condition: str, profile: str) -> str:
            return next(
                c.wording
                for c in kb.agents[agent].contraindications
                if c.condition == condition and profile in c.profiles
            )

        assert wording("natalizumab", "pml", "us") == "history"
        assert wording("natalizumab", "pml", "eu") == "history"
        for condition in ("stroke", "arterial_dissection", "myocardial_infarction_or_angina"):
            assert wording("alemtuzumab", condition, "eu") == "history"
        assert wording("alemtuzumab", "active_infection", "eu") == "current"
        assert wording("ublituximab", "active_malignancy", "eu") == "current"

    def test_unconfirmed_codes_carry_no_exportable_value(self, kb: KnowledgeBase):
        codes = [node for _, node in walk(kb) if isinstance(node, Code)]
        assert any(c.status == "unconfirmed" for c in codes)
        for code in codes:
            assert code.exportable == (code.status != "unconfirmed" and code.code is not None)


class TestProfileDifferencesFromTheClinicalDecisions:
    def test_ocrelizumab_maintenance_interval_is_24_weeks_us_and_6_months_eu(
        self, kb: KnowledgeBase
    ):
        repeat = kb.agents["ocrelizumab"].default_regimen.repeat
        assert repeat is not None
        assert str(repeat.interval.get("us").value) == "24 weeks"
        assert str(repeat.interval.get("eu").value) == "6 months"

    def test_ocrelizumab_minimum_spacing_is_20_weeks_us_and_5_months_eu(self, kb: KnowledgeBase):
        repeat = kb.agents["ocrelizumab"].default_regimen.repeat
        assert repeat is not None
        assert str(repeat.min_spacing.get("us").value) == "20 weeks"
        assert str(repeat.min_spacing.get("eu").value) == "5 months"

    def test_mitoxantrone_lifetime_limit_is_140_us_and_72_eu(self, kb: KnowledgeBase):
        limit = kb.agents["mitoxantrone"].default_regimen.cumulative_limit_mg_per_m2
        assert limit is not None
        assert limit.get("us").value == 140
        assert limit.get("eu").value == 72

    def test_alemtuzumab_courses_are_uncapped_us_and_capped_at_four_eu(self, kb: KnowledgeBase):
        repeat = kb.agents["alemtuzumab"].default_regimen.repeat
        assert repeat is not None
        assert repeat.max_courses is not None
        assert repeat.max_courses.get("us").value is None
        assert repeat.max_courses.get("eu").value == 4

    def test_natalizumab_observation_stops_after_infusion_12_only_in_the_us(
        self, kb: KnowledgeBase
    ):
        rules = kb.agents["natalizumab"].observation
        us = [r for r in rules if "us" in r.profiles]
        eu = [r for r in rules if "eu" in r.profiles]
        assert any(r.infusions.last == 12 and r.minutes.value == 60 for r in us)
        assert all(r.infusions.last is None and r.minutes.value == 60 for r in eu)

    def test_rituximab_is_flagged_off_label_and_has_no_ms_course(self, kb: KnowledgeBase):
        agent = kb.agents["rituximab"]
        assert agent.off_label_in_ms.value is True
        assert agent.indications.get("us").value.ms_courses == ()
        assert {r.id for r in agent.regimens} == {"rifund", "ra-template"}
        assert all(r.off_label for r in agent.regimens)

    def test_natalizumab_extended_interval_dosing_is_a_separate_off_label_regimen(
        self, kb: KnowledgeBase
    ):
        regimen = kb.agents["natalizumab"].regimen("q6w-extended")
        assert regimen is not None
        assert regimen.off_label
        assert not regimen.default

    def test_ocrelizumab_us_indication_covers_ppms_and_ublituximab_does_not(
        self, kb: KnowledgeBase
    ):
        assert "PPMS" in kb.agents["ocrelizumab"].indications.get("us").value.ms_courses
        assert "PPMS" not in kb.agents["ublituximab"].indications.get("us").value.ms_courses

    def test_unconfirmed_eu_screening_is_flagged_not_borrowed_silently(self, kb: KnowledgeBase):
        for agent_id in ("ocrelizumab", "ublituximab"):
            eu = [s for s in kb.agents[agent_id].screening if "eu" in s.profiles]
            assert eu
            # Either the US rule applied and flagged, or a clinic policy for both profiles.
            assert all(s.status in ("unconfirmed", "policy") for s in eu)
            assert any(s.status == "unconfirmed" for s in eu)


class TestBrokenFilesAreRejected:
    def test_a_missing_citation_names_the_file_and_field(self, data_copy: Path):
        def drop(data):
            del data["regimens"][0]["initial"]["cite"]

        _rewrite(data_copy / "agents" / "ocrelizumab.yaml", drop)
        with pytest.raises(KnowledgeBaseError) as info:
            load_knowledge_base(data_copy)
        assert info.value.file == "agents/ocrelizumab.yaml"
        assert info.value.path == "regimens[0].initial.cite"
        assert "required" in info.value.problem.lower()

    def test_an_unknown_source_names_the_file_and_field(self, data_copy: Path):
        def bad(data):
            data["rate_protocols"][0]["cite"] = "NOPE-1 §2 rev 1/2020"

        _rewrite(data_copy / "agents" / "natalizumab.yaml", bad)
        with pytest.raises(KnowledgeBaseError) as info:
            load_knowledge_base(data_copy)
        assert info.value.file == "agents/natalizumab.yaml"
        assert info.value.path == "rate_protocols[0].cite[0]"
        assert "NOPE-1" in info.value.problem

    def test_a_contraindication_without_its_wording_is_rejected(self, data_copy: Path):
        def drop(data):
            del data["contraindications"][0]["wording"]

        _rewrite(data_copy / "agents" / "natalizumab.yaml", drop)
        with pytest.raises(KnowledgeBaseError) as info:
            load_knowledge_base(data_copy)
        assert info.value.file == "agents/natalizumab.yaml"
        assert info.value.path == "contraindications[0].wording"

    def test_a_source_without_its_strength_is_rejected(self, data_copy: Path):
        def drop(data):
            del data["sources"][3]["strength"]

        _rewrite(data_copy / "sources.yaml", drop)
        with pytest.raises(KnowledgeBaseError) as info:
            load_knowledge_base(data_copy)
        assert info.value.file == "sources.yaml"
        assert info.value.path == "sources[3].strength"

    def test_a_negative_dose_names_the_file_and_field(self, data_copy: Path):
        def negative(data):
            data["regimens"][0]["initial"]["doses"][0]["dose_mg"] = -300

        _rewrite(data_copy / "agents" / "ocrelizumab.yaml", negative)
        with pytest.raises(KnowledgeBaseError) as info:
            load_knowledge_base(data_copy)
        assert info.value.path == "regimens[0].initial.doses[0].dose_mg"
        assert "greater than 0" in info.value.problem

    def test_an_unknown_ms_course_names_the_file_and_field(self, data_copy: Path):
        def course(data):
            data["indications"]["us"]["value"]["ms_courses"] = ["RRMS", "benign MS"]

        _rewrite(data_copy / "agents" / "ublituximab.yaml", course)
        with pytest.raises(KnowledgeBaseError) as info:
            load_knowledge_base(data_copy)
        assert info.value.file == "agents/ublituximab.yaml"
        assert info.value.path == "indications.us.value.ms_courses[1]"
        assert all(course in info.value.problem for course in MS_COURSES)

    def test_a_malformed_duration_is_rejected(self, data_copy: Path):
        def duration(data):
            data["regimens"][0]["repeat"]["interval"]["value"] = "a while"

        _rewrite(data_copy / "agents" / "natalizumab.yaml", duration)
        with pytest.raises(KnowledgeBaseError) as info:
            load_knowledge_base(data_copy)
        assert info.value.path == "regimens[0].repeat.interval.value"

    def test_an_unknown_status_is_rejected(self, data_copy: Path):
        def status(data):
            data["observation"][0]["minutes"]["status"] = "probably"

        _rewrite(data_copy / "agents" / "alemtuzumab.yaml", status)
        with pytest.raises(KnowledgeBaseError) as info:
            load_knowledge_base(data_copy)
        assert info.value.path == "observation[0].minutes.status"

    def test_digits_in_patient_text_are_rejected(self, data_copy: Path):
        def digits(data):
            data["patient"]["visit"] = "The drip takes 4 hours."

        _rewrite(data_copy / "agents" / "alemtuzumab.yaml", digits)
        with pytest.raises(KnowledgeBaseError, match="must not contain digits"):
            load_knowledge_base(data_copy)

    def test_an_agent_file_must_be_named_after_its_agent(self, data_copy: Path):
        (data_copy / "agents" / "ocrelizumab.yaml").rename(data_copy / "agents" / "ocrevus.yaml")
        with pytest.raises(KnowledgeBaseError, match="must match the file name"):
            load_knowledge_base(data_copy)

    def test_invalid_yaml_names_the_line(self, data_copy: Path):
        (data_copy / "pml.yaml").write_text("tables: [\n  {id: x,\n", encoding="utf-8")
        with pytest.raises(KnowledgeBaseError) as info:
            load_knowledge_base(data_copy)
        assert info.value.file == "pml.yaml"
        assert info.value.path.startswith("line ")

    def test_a_missing_file_is_named(self, data_copy: Path):
        (data_copy / "clinic.yaml").unlink()
        with pytest.raises(KnowledgeBaseError, match=r"clinic\.yaml: file is missing"):
            load_knowledge_base(data_copy)

    def test_duplicate_source_keys_are_rejected(self, data_copy: Path):
        def dup(data):
            data["sources"].append(dict(data["sources"][0]))

        _rewrite(data_copy / "sources.yaml", dup)
        with pytest.raises(KnowledgeBaseError, match="duplicate source key"):
            load_knowledge_base(data_copy)

    def test_a_pml_row_must_have_one_value_per_band(self, data_copy: Path):
        def short(data):
            data["tables"][0]["rows"][0]["per_1000"] = [0.02]

        _rewrite(data_copy / "pml.yaml", short)
        with pytest.raises(KnowledgeBaseError, match="one value"):
            load_knowledge_base(data_copy)
