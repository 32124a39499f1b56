"""The patient-state input format shared by the CLI, the API and the tests.

A pydantic model at the edge: it validates the documented JSON (``docs/patient-state.md``,
JSON Schema ``docs/patient-state.schema.json``) and turns it into the domain
:class:`~msinfuse.domain.patient.PatientState`. An unknown key, code or a malformed date is
an :class:`~msinfuse.errors.InvalidInput` naming its JSON path; messages never repeat the
values a patient record holds.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from msinfuse.domain.knowledge.schema import (
    CONDITION_CODES,
    KnowledgeBase,
    MsCourse,
    ProcedureCode,
    TestCode,
)
from msinfuse.domain.patient import (
    Administration,
    Authorization,
    Condition,
    Lab,
    PatientState,
    PlanRef,
    Procedure,
    Therapy,
    Vaccination,
)
from msinfuse.errors import InvalidInput

_AGENT_CONDITION = re.compile(r"^(hypersensitivity|life_threatening_irr):([a-z][a-z0-9-]*)$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LabIn(_In):
    """A lab result."""

    test: TestCode = Field(
        description="Controlled test code, mapped to LOINC in the knowledge base."
    )
    value: str | float = Field(
        description="Number, or a word for qualitative tests (positive/negative)."
    )
    date: date
    unit: str | None = Field(default=None, description="UCUM unit, when the value is a number.")
    flag: Literal["normal", "abnormal", "high", "low"] | None = Field(
        default=None, description="The laboratory's interpretation against its reference range."
    )


class VaccinationIn(_In):
    """A vaccine given."""

    vaccine: str = Field(min_length=1, description="Vaccine name, e.g. MMR, varicella, influenza.")
    live: bool = Field(description="True for live or live-attenuated vaccines.")
    date: date


class ConditionIn(_In):
    """A condition: one of the controlled codes, or hypersensitivity:<agent>."""

    condition: str = Field(
        description="One of "
        + ", ".join(CONDITION_CODES)
        + ", or hypersensitivity:<agent> / life_threatening_irr:<agent>."
    )
    onset: date | None = None
    resolved: date | None = None

    @field_validator("condition")
    @classmethod
    def _known(cls, value: str, info: ValidationInfo) -> str:
        if value in CONDITION_CODES:
            return value
        match = _AGENT_CONDITION.match(value)
        agents = _context_agents(info)
        if match and (agents is None or match.group(2) in agents):
            return value
        raise ValueError(
            "unknown condition; use one of "
            + ", ".join(CONDITION_CODES)
            + ", or hypersensitivity:<agent> / life_threatening_irr:<agent>"
        )


class TherapyIn(_In):
    """A disease-modifying or immunosuppressive therapy."""

    agent: str = Field(
        description="Agent id (infusion agents, alternatives, or listed immunosuppressants)."
    )
    start: date | None = None
    end: date | None = None
    immunosuppressant: bool | None = Field(
        default=None, description="Overrides the knowledge base's classification when given."
    )

    @field_validator("agent")
    @classmethod
    def _known(cls, value: str, info: ValidationInfo) -> str:
        therapies = _context_therapies(info)
        if therapies is not None and value not in therapies:
            raise ValueError(
                "unknown therapy; use an agent id, an alternative id or a listed immunosuppressant"
            )
        return value


class AdministrationIn(_In):
    """An infusion given."""

    agent: str
    date: date
    dose_mg: float | None = Field(default=None, gt=0)
    reaction_grade: int = Field(default=0, ge=0, le=5, description="Highest CTCAE grade (0 none).")
    infusion_minutes: float | None = Field(default=None, gt=0)

    @field_validator("agent")
    @classmethod
    def _known(cls, value: str, info: ValidationInfo) -> str:
        agents = _context_agents(info)
        if agents is not None and value not in agents:
            raise ValueError("unknown infusion agent")
        return value


class AuthorizationIn(_In):
    """A programme authorization."""

    program: Literal["TOUCH", "LEMTRADA-REMS", "TYRUKO-REMS"]
    date: date


class ProcedureIn(_In):
    """A procedure."""

    procedure: ProcedureCode
    date: date


class PlanIn(_In):
    """The regimen the patient is on for an agent."""

    agent: str
    regimen: str | None = None
    start: date | None = None
    stopped: date | None = None

    @field_validator("agent")
    @classmethod
    def _known(cls, value: str, info: ValidationInfo) -> str:
        agents = _context_agents(info)
        if agents is not None and value not in agents:
            raise ValueError("unknown infusion agent")
        return value


class PatientStateIn(_In):
    """A patient's state as msinfuse's clinical engines read it."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        title="msinfuse patient state",
        json_schema_extra={"$id": "https://msinfuse.org/schema/patient-state.schema.json"},
    )

    id: str = Field(min_length=1, description="A pseudonymous identifier; never logged.")
    birth_date: date | None = None
    sex: Literal["female", "male", "other"] | None = None
    weight_kg: float | None = Field(default=None, gt=0)
    height_cm: float | None = Field(default=None, gt=0)
    ms_course: MsCourse | None = None
    pregnant: bool | None = Field(default=None, description="null = not recorded.")
    breastfeeding: bool | None = None
    childbearing_potential: bool | None = Field(default=None, description="null = not recorded.")
    labs: list[LabIn] = []
    vaccinations: list[VaccinationIn] = []
    conditions: list[ConditionIn] = []
    therapies: list[TherapyIn] = []
    administrations: list[AdministrationIn] = []
    authorizations: list[AuthorizationIn] = []
    procedures: list[ProcedureIn] = []
    plans: list[PlanIn] = []
    prior_cumulative_mg_per_m2: dict[str, float] = Field(
        default_factory=dict,
        description="Lifetime dose received before the administrations listed, per agent (mitoxantrone).",
    )

    def to_domain(self, kb: KnowledgeBase) -> PatientState:
        """The domain value, with therapies classified from the knowledge base."""
        classes = {t.id: t for t in kb.terminology.therapies}
        return PatientState(
            id=self.id,
            birth_date=self.birth_date,
            sex=self.sex,
            weight_kg=self.weight_kg,
            height_cm=self.height_cm,
            ms_course=self.ms_course,
            pregnant=self.pregnant,
            breastfeeding=self.breastfeeding,
            childbearing_potential=self.childbearing_potential,
            labs=tuple(Lab(x.test, x.value, x.date, x.unit, x.flag) for x in self.labs),
            vaccinations=tuple(Vaccination(x.vaccine, x.live, x.date) for x in self.vaccinations),
            conditions=tuple(Condition(x.condition, x.onset, x.resolved) for x in self.conditions),
            therapies=tuple(
                Therapy(
                    x.agent,
                    x.start,
                    x.end,
                    x.immunosuppressant
                    if x.immunosuppressant is not None
                    else bool(classes.get(x.agent) and classes[x.agent].immunosuppressant),
                )
                for x in self.therapies
            ),
            administrations=tuple(
                Administration(x.agent, x.date, x.dose_mg, x.reaction_grade, x.infusion_minutes)
                for x in self.administrations
            ),
            authorizations=tuple(Authorization(x.program, x.date) for x in self.authorizations),
            procedures=tuple(Procedure(x.procedure, x.date) for x in self.procedures),
            plans=tuple(PlanRef(x.agent, x.regimen, x.start, x.stopped) for x in self.plans),
            prior_cumulative_mg_per_m2=dict(self.prior_cumulative_mg_per_m2),
        )


def _context_agents(info: ValidationInfo) -> set[str] | None:
    context = info.context or {}
    kb = context.get("kb")
    return set(kb.agents) if kb is not None else None


def _context_therapies(info: ValidationInfo) -> set[str] | None:
    context = info.context or {}
    kb = context.get("kb")
    if kb is None:
        return None
    return (
        set(kb.agents) | {a.id for a in kb.alternatives} | {t.id for t in kb.terminology.therapies}
    )


def _json_path(loc: tuple[int | str, ...]) -> str:
    path = "$"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_patient_state(data: Any, kb: KnowledgeBase) -> PatientState:
    """Validate ``data`` (parsed JSON) and return the domain patient state."""
    try:
        model = PatientStateIn.model_validate(data, context={"kb": kb})
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:5]:
            message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append(f"{_json_path(error['loc'])}: {message}")
        more = f" (and {len(exc.errors()) - 5} more)" if len(exc.errors()) > 5 else ""
        raise InvalidInput("patient state: " + "; ".join(problems) + more) from None
    return model.to_domain(kb)


def load_patient_state(path: Path, kb: KnowledgeBase) -> PatientState:
    """Read and validate a patient-state JSON file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {path}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{path.name}: not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    return parse_patient_state(data, kb)


def patient_state_json_schema() -> dict[str, Any]:
    """The JSON Schema of the patient-state format."""
    return PatientStateIn.model_json_schema()
