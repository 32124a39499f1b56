"""Typed builders for test inputs."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.domain.patient import PatientState
from msinfuse.services.patient_state import parse_patient_state


def make_state(**fields: Any) -> PatientState:
    """A patient state from JSON-like fields (validated like real input)."""
    data: dict[str, Any] = {
        "id": "test-patient",
        "birth_date": "1985-01-01",
        "sex": "female",
        "ms_course": "RRMS",
        "pregnant": False,
        "childbearing_potential": True,
    }
    data.update(fields)
    return parse_patient_state(data, default_knowledge_base())


def lab(test: str, value: Any, day: date | str, **extra: Any) -> dict[str, Any]:
    """A lab entry."""
    return {"test": test, "value": value, "date": str(day), **extra}


def doses(
    agent: str, *days: date | str, dose_mg: float | None = None, grade: int = 0
) -> list[dict[str, Any]]:
    """Administration entries."""
    out = []
    for day in days:
        entry: dict[str, Any] = {"agent": agent, "date": str(day), "reaction_grade": grade}
        if dose_mg is not None:
            entry["dose_mg"] = dose_mg
        out.append(entry)
    return out


def anti_cd20_screening(day: date) -> list[dict[str, Any]]:
    """Complete first-dose screening for an anti-CD20 agent, dated ``day``."""
    return [
        lab("hbsag", "negative", day),
        lab("anti_hbc", "negative", day),
        lab("igg", 10, day),
        lab("igm", 1, day),
        lab("iga", 2, day),
        lab("alt", 20, day),
        lab("ast", 20, day),
        lab("alp", 70, day),
        lab("bilirubin", 0.5, day),
    ]


def days_before(day: date, n: int) -> date:
    return day - timedelta(days=n)
