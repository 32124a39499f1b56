"""The patient-state input format: what it accepts and how it reports bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.errors import InvalidInput
from msinfuse.services.patient_state import (
    load_patient_state,
    parse_patient_state,
    patient_state_json_schema,
)

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.json"))


def test_the_documented_keys_are_accepted(kb: KnowledgeBase):
    state = parse_patient_state(
        {
            "id": "p1",
            "birth_date": "1980-01-01",
            "sex": "female",
            "weight_kg": 68,
            "height_cm": 170,
            "ms_course": "RRMS",
            "pregnant": False,
            "breastfeeding": False,
            "childbearing_potential": True,
            "labs": [{"test": "hbsag", "value": "negative", "date": "2026-01-01"}],
            "vaccinations": [{"vaccine": "MMR", "live": True, "date": "2025-01-01"}],
            "conditions": [
                {"condition": "active_infection", "onset": "2026-01-01", "resolved": None}
            ],
            "therapies": [{"agent": "mitoxantrone", "start": "2010-01-01", "end": "2011-01-01"}],
            "administrations": [
                {"agent": "ocrelizumab", "date": "2026-01-05", "dose_mg": 300, "reaction_grade": 0}
            ],
            "authorizations": [{"program": "TOUCH", "date": "2026-01-01"}],
            "procedures": [
                {"procedure": "mri_brain", "date": "2026-01-01"},
                {"procedure": "plasma_exchange", "date": "2025-01-01"},
                {"procedure": "ivig", "date": "2024-01-01"},
            ],
        },
        kb,
    )
    assert (
        state.therapies[0].immunosuppressant is True
    )  # mitoxantrone, classified by the knowledge base
    assert state.administrations[0].dose_mg == 300


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (
            {
                "id": "p",
                "labs": [
                    {"test": "hbsag", "value": "negative", "date": "2026-01-01", "colour": "red"}
                ],
            },
            "$.labs[0].colour: unknown key",
        ),
        (
            {"id": "p", "labs": [{"test": "hbs", "value": "negative", "date": "2026-01-01"}]},
            "$.labs[0].test",
        ),
        (
            {"id": "p", "labs": [{"test": "hbsag", "value": "negative", "date": "2026-02-30"}]},
            "$.labs[0].date",
        ),
        (
            {"id": "p", "conditions": [{"condition": "flu"}]},
            "$.conditions[0].condition: Value error, unknown condition",
        ),
        (
            {"id": "p", "conditions": [{"condition": "hypersensitivity:aspirin"}]},
            "$.conditions[0].condition",
        ),
        ({"id": "p", "therapies": [{"agent": "unobtainium"}]}, "$.therapies[0].agent"),
        (
            {
                "id": "p",
                "administrations": [
                    {"agent": "natalizumab", "date": "2026-01-01", "reaction_grade": 7}
                ],
            },
            "$.administrations[0].reaction_grade",
        ),
        ({"id": "p", "ms_course": "benign"}, "$.ms_course"),
        ({"id": "p", "favourite_colour": "red"}, "$.favourite_colour: unknown key"),
        ({"birth_date": "1980-01-01"}, "$.id"),
    ],
)
def test_bad_input_names_its_json_path(kb: KnowledgeBase, data, path):
    with pytest.raises(InvalidInput) as info:
        parse_patient_state(data, kb)
    assert path in str(info.value)


def test_error_messages_never_repeat_patient_values(kb: KnowledgeBase):
    with pytest.raises(InvalidInput) as info:
        parse_patient_state({"id": "SECRET-MRN-4711", "birth_date": "19-02-1980"}, kb)
    assert "SECRET-MRN-4711" not in str(info.value)
    assert "19-02-1980" not in str(info.value)


def test_hypersensitivity_to_a_named_agent_is_accepted(kb: KnowledgeBase):
    state = parse_patient_state(
        {"id": "p", "conditions": [{"condition": "hypersensitivity:natalizumab"}]}, kb
    )
    assert state.conditions[0].condition == "hypersensitivity:natalizumab"


def test_a_file_that_is_not_json_is_reported(kb: KnowledgeBase, tmp_path: Path):
    bad = tmp_path / "state.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        load_patient_state(bad, kb)
    with pytest.raises(InvalidInput, match="no such file"):
        load_patient_state(tmp_path / "missing.json", kb)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_state_is_valid(kb: KnowledgeBase, path: Path):
    assert load_patient_state(path, kb).id.startswith("example-")


def test_the_published_json_schema_matches_the_model():
    published = json.loads(
        (Path(__file__).resolve().parents[2] / "docs" / "patient-state.schema.json").read_text()
    )
    assert published == patient_state_json_schema()
    assert "labs" in published["properties"]
