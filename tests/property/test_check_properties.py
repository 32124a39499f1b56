"""Invariants of pre-infusion checks and monitoring (clinical-decisions §5, §7)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msinfuse.domain.findings import decide
from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.domain.monitoring import monitoring
from msinfuse.domain.safety import CheckRequest, check
from tests.factories import make_state

KB = default_knowledge_base()
AGENTS = sorted(KB.agents)
DAY = date(2026, 11, 24)
RANK = {"go": 0, "caution": 1, "hold": 2}
TESTS = sorted(KB.labs)
VALUES = ["positive", "negative", 0.5, 1.2, 45, 55, 1400, 2000, "normal"]


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """A random but valid patient-state record around DAY."""

    def day(back: int) -> str:
        return str(DAY - timedelta(days=back))

    labs = [
        {
            "test": draw(st.sampled_from(TESTS)),
            "value": draw(st.sampled_from(VALUES)),
            "date": day(draw(st.integers(0, 900))),
            **({"flag": draw(st.sampled_from(["normal", "high"]))} if draw(st.booleans()) else {}),
        }
        for _ in range(draw(st.integers(0, 12)))
    ]
    agent = draw(st.sampled_from(AGENTS))
    start = draw(st.integers(1, 1500))
    n = draw(st.integers(0, 8))
    step = draw(st.integers(1, 200))
    administrations = [
        {
            "agent": agent,
            "date": day(max(start - i * step, 1)),
            "dose_mg": 12,
            "reaction_grade": draw(st.integers(0, 4)),
        }
        for i in range(n)
    ]
    return {
        "ms_course": draw(
            st.sampled_from(["CIS", "RRMS", "SPMS-active", "SPMS-nonactive", "PPMS", None])
        ),
        "sex": draw(st.sampled_from(["female", "male", None])),
        "pregnant": draw(st.sampled_from([True, False, None])),
        "childbearing_potential": draw(st.sampled_from([True, False, None])),
        "weight_kg": draw(st.sampled_from([None, 70.0])),
        "height_cm": draw(st.sampled_from([None, 170.0])),
        "labs": labs,
        "administrations": sorted(administrations, key=lambda a: a["date"]),
        "vaccinations": [
            {"vaccine": "MMR", "live": draw(st.booleans()), "date": day(draw(st.integers(0, 100)))}
        ]
        if draw(st.booleans())
        else [],
        "conditions": [
            {"condition": draw(st.sampled_from(["active_infection", "pml", "hiv", "stroke"]))}
        ]
        if draw(st.booleans())
        else [],
        "authorizations": [{"program": "TOUCH", "date": day(draw(st.integers(0, 400)))}]
        if draw(st.booleans())
        else [],
        "procedures": [
            {
                "procedure": draw(st.sampled_from(["mri_brain", "ivig", "plasma_exchange", "ecg"])),
                "date": day(draw(st.integers(0, 400))),
            }
        ]
        if draw(st.booleans())
        else [],
    }


@given(records(), st.sampled_from(AGENTS), st.sampled_from(["us", "eu"]))
def test_a_go_never_carries_a_hold_and_the_decision_follows_the_findings(record, agent, profile):
    result = check(KB, make_state(**record), CheckRequest(agent, DAY, profile))
    assert result.decision == decide(result.findings)
    if result.decision == "go":
        assert all(f.severity == "info" for f in result.findings)
    assert all(f.source for f in result.findings if f.severity == "hold")


BENIGN: dict[str, Any] = {
    "hbsag": "negative",
    "anti_hbc": "negative",
    "hiv": "negative",
    "hcg": "negative",
    "vzv_igg": "positive",
    "jcv_antibody": "negative",
    "tb_igra": "negative",
    "lvef": 60,
    "neutrophils": 2000,
}
ADVERSE: dict[str, Any] = {
    "hbsag": "positive",
    "anti_hbc": "positive",
    "hiv": "positive",
    "hcg": "positive",
    "vzv_igg": "negative",
    "jcv_antibody": "positive",
    "lvef": 45,
    "neutrophils": 1000,
}


@st.composite
def first_dose_records(draw: st.DrawFn, agent: str) -> dict[str, Any]:
    """A record before a first dose where every required result is present (benign or not)."""
    record = draw(records())
    record["administrations"] = []
    record["conditions"] = []
    labs, procedures = [], []
    record["childbearing_potential"] = draw(st.sampled_from([True, False, None]))
    for requirement in KB.agents[agent].screening:
        if requirement.only_if_childbearing_potential and (
            record["childbearing_potential"] is False or record["sex"] == "male"
        ):
            continue  # not required for this patient
        for code in requirement.tests:
            day = str(DAY - timedelta(days=draw(st.integers(0, 25))))
            if code in ("mri_brain", "ecg", "skin_exam"):
                procedures.append({"procedure": code, "date": day})
                continue
            adverse = draw(st.integers(0, 4)) == 0  # mostly benign, so a removal can matter
            value = ADVERSE.get(code, BENIGN.get(code, 1.0)) if adverse else BENIGN.get(code, 1.0)
            flag = "high" if adverse and code not in ADVERSE else "normal"
            labs.append({"test": code, "value": value, "date": day, "flag": flag})
    record["labs"] = labs
    record["procedures"] = procedures
    record["pregnant"] = draw(st.sampled_from([False, False, None]))
    record["vaccinations"] = []
    return record


@pytest.mark.parametrize("profile", ["us", "eu"])
@pytest.mark.parametrize("agent", AGENTS)
@settings(max_examples=200)
@given(data=st.data())
def test_removing_a_required_screening_result_never_improves_the_decision(agent, profile, data):
    """Before a first dose, dropping every result of a required screening test can only make
    the decision stricter: a missing result is itself a finding, at least as severe as what
    the result could have shown."""
    record = data.draw(first_dose_records(agent))
    present = sorted(
        {lab["test"] for lab in record["labs"]} | {p["procedure"] for p in record["procedures"]}
    )
    if not present:
        return
    test = data.draw(st.sampled_from(present))
    before = check(KB, make_state(**record), CheckRequest(agent, DAY, profile))
    fewer = {
        **record,
        "labs": [lab for lab in record["labs"] if lab["test"] != test],
        "procedures": [p for p in record["procedures"] if p["procedure"] != test],
    }
    after = check(KB, make_state(**fewer), CheckRequest(agent, DAY, profile))
    assert RANK[after.decision] >= RANK[before.decision], (test, before.decision, after.decision)


@given(records(), st.sampled_from(["us", "eu"]), st.integers(0, 3000))
def test_monitoring_never_lists_an_item_past_its_until_date(record, profile, offset):
    on = DAY - timedelta(days=1500) + timedelta(days=offset)
    result = monitoring(KB, make_state(**record), on, profile)
    for item in result.items:
        if item.until is not None:
            assert on <= item.until
            assert item.due <= item.until
        assert item.status == ("overdue" if item.due < on else item.status)
