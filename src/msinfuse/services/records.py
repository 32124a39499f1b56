"""Patients and their clinical record: register, update, read; labs, vaccinations,
conditions, therapies, procedures and authorizations.

Every read and change writes an audit event in the caller's transaction; every change
refreshes the patient's worklist projections.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from msinfuse.domain.knowledge.schema import MsCourse
from msinfuse.domain.patient import PatientState
from msinfuse.errors import Conflict, InvalidInput, NotFound
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.models import (
    Authorization,
    Condition,
    CourseHistory,
    Lab,
    Patient,
    Procedure,
    Site,
    Therapy,
    Vaccination,
)
from msinfuse.services import audit
from msinfuse.services.context import ServiceContext, require
from msinfuse.services.patient_state import (
    AuthorizationIn,
    ConditionIn,
    LabIn,
    ProcedureIn,
    TherapyIn,
    VaccinationIn,
)
from msinfuse.services.projections import refresh_patient
from msinfuse.services.state import build_patient_state
from msinfuse.services.validation import validate


class PatientCreate(BaseModel):
    """A new patient."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    mrn: str = Field(min_length=1, max_length=40, description="Medical record number (unique).")
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    birth_date: date | None = None
    sex: Literal["female", "male", "other"] | None = None
    weight_kg: float | None = Field(default=None, gt=0, lt=400)
    height_cm: float | None = Field(default=None, gt=0, lt=260)
    ms_course: MsCourse | None = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    childbearing_potential: bool | None = None
    home_site: str | None = Field(default=None, description="Site code.")
    profile: Literal["us", "eu"] = "us"


class PatientUpdate(BaseModel):
    """Changes to a patient; every field optional."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    given_name: str | None = Field(default=None, min_length=1, max_length=100)
    family_name: str | None = Field(default=None, min_length=1, max_length=100)
    birth_date: date | None = None
    sex: Literal["female", "male", "other"] | None = None
    weight_kg: float | None = Field(default=None, gt=0, lt=400)
    height_cm: float | None = Field(default=None, gt=0, lt=260)
    ms_course: MsCourse | None = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    childbearing_potential: bool | None = None
    home_site: str | None = None
    profile: Literal["us", "eu"] | None = None


def patient_json(patient: Patient, site_code: str | None = None) -> dict[str, Any]:
    """A patient as JSON."""
    return {
        "id": patient.id,
        "mrn": patient.mrn,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "birth_date": patient.birth_date.isoformat() if patient.birth_date else None,
        "sex": patient.sex,
        "weight_kg": patient.weight_kg,
        "height_cm": patient.height_cm,
        "ms_course": patient.ms_course,
        "pregnant": patient.pregnant,
        "breastfeeding": patient.breastfeeding,
        "childbearing_potential": patient.childbearing_potential,
        "home_site": site_code,
        "profile": patient.profile,
    }


def _site_id(session: Session, code: str | None) -> int | None:
    if code is None:
        return None
    site = repo.find_site(session, code)
    if site is None:
        raise NotFound(f"site {code!r} not found")
    return site.id


def _site_code(session: Session, patient: Patient) -> str | None:
    if patient.home_site_id is None:
        return None
    site = session.get(Site, patient.home_site_id)
    return site.code if site else None


def register_patient(
    session: Session, ctx: ServiceContext, data: PatientCreate | dict[str, Any]
) -> dict[str, Any]:
    """Register a new patient."""
    require(ctx.actor, "patients.write")
    body: PatientCreate = validate(PatientCreate, data)
    if repo.find_patient_by_mrn(session, body.mrn) is not None:
        raise Conflict("a patient with this record number already exists")
    fields = body.model_dump(exclude={"home_site"})
    patient = Patient(**fields, home_site_id=_site_id(session, body.home_site))
    session.add(patient)
    session.flush()
    if body.ms_course:
        session.add(CourseHistory(patient_id=patient.id, ms_course=body.ms_course, since=ctx.today))
    audit.record(session, ctx, "create", "Patient", patient.id)
    refresh_patient(session, ctx.kb, patient, ctx.today)
    return patient_json(patient, body.home_site)


def update_patient(
    session: Session, ctx: ServiceContext, patient_id: int, data: PatientUpdate | dict[str, Any]
) -> dict[str, Any]:
    """Change a patient's details; a new MS course is added to the course history."""
    require(ctx.actor, "patients.write")
    body: PatientUpdate = validate(PatientUpdate, data)
    patient = repo.get_or_raise(session, Patient, patient_id, "patient")
    changes = body.model_dump(exclude_unset=True, exclude={"home_site"})
    if (
        "ms_course" in changes
        and changes["ms_course"]
        and changes["ms_course"] != patient.ms_course
    ):
        session.add(
            CourseHistory(patient_id=patient.id, ms_course=changes["ms_course"], since=ctx.today)
        )
    for key, value in changes.items():
        setattr(patient, key, value)
    if "home_site" in body.model_fields_set:
        patient.home_site_id = _site_id(session, body.home_site)
    audit.record(session, ctx, "update", "Patient", patient.id)
    refresh_patient(session, ctx.kb, patient, ctx.today)
    return patient_json(patient, _site_code(session, patient))


def get_patient(session: Session, ctx: ServiceContext, patient_id: int) -> dict[str, Any]:
    """One patient's details."""
    require(ctx.actor, "patients.read")
    patient = repo.get_or_raise(session, Patient, patient_id, "patient")
    audit.record(session, ctx, "read", "Patient", patient.id)
    return patient_json(patient, _site_code(session, patient))


PATIENT_SORTS = ("family_name", "given_name", "mrn", "birth_date", "id")


def list_patients(
    session: Session,
    ctx: ServiceContext,
    search: str | None = None,
    site: str | None = None,
    limit: int = 50,
    offset: int = 0,
    sort: str | None = None,
) -> dict[str, Any]:
    """Patients matching a search, paginated; ``sort`` is one of :data:`PATIENT_SORTS`
    (``-field`` for descending)."""
    require(ctx.actor, "patients.read")
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit must be between 1 and 1000")
    if offset < 0:
        raise InvalidInput("offset cannot be negative")
    if sort and sort.lstrip("-") not in PATIENT_SORTS:
        raise InvalidInput(
            f"cannot sort patients by {sort.lstrip('-')!r}; sortable fields: {', '.join(PATIENT_SORTS)}"
        )
    rows, total = repo.list_patients(session, search, _site_id(session, site), limit, offset, sort)
    audit.record(session, ctx, "search", "Patient", None)
    return {
        "items": [patient_json(p) for p in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
        "sort": sort,
    }


def patient_state(session: Session, ctx: ServiceContext, patient_id: int) -> PatientState:
    """The domain patient state (for the engines)."""
    require(ctx.actor, "patients.read")
    patient = repo.get_or_raise(session, Patient, patient_id, "patient")
    audit.record(session, ctx, "read", "PatientRecord", patient.id)
    return build_patient_state(session, ctx.kb, patient)


# ------------------------------------------------------------------------- clinical records

RecordKind = Literal["lab", "vaccination", "condition", "procedure", "authorization", "therapy"]


def add_record(
    session: Session, ctx: ServiceContext, patient_id: int, kind: RecordKind, data: Any
) -> dict[str, Any]:
    """Record a lab, vaccination, condition, procedure, authorization or therapy."""
    require(ctx.actor, "records.write")
    patient = repo.get_or_raise(session, Patient, patient_id, "patient")
    row: Any
    if kind == "lab":
        lab: LabIn = validate(LabIn, data)
        if lab.date > ctx.today:
            raise InvalidInput("a lab result cannot be dated in the future", field="date")
        entry = ctx.kb.labs.get(lab.test)
        numeric = isinstance(lab.value, int | float)
        row = Lab(
            patient_id=patient.id,
            test=lab.test,
            loinc=entry.loinc.code if entry and entry.loinc and entry.loinc.exportable else None,
            value_num=float(lab.value) if numeric else None,
            value_text=None if numeric else str(lab.value),
            unit=lab.unit,
            flag=lab.flag,
            taken_on=lab.date,
        )
    elif kind == "vaccination":
        vac: VaccinationIn = validate(VaccinationIn, data)
        row = Vaccination(
            patient_id=patient.id, vaccine=vac.vaccine, live=vac.live, given_on=vac.date
        )
    elif kind == "condition":
        cond: ConditionIn = validate(ConditionIn, data, {"kb": ctx.kb})
        row = Condition(
            patient_id=patient.id,
            condition=cond.condition,
            onset=cond.onset,
            resolved=cond.resolved,
        )
    elif kind == "procedure":
        proc: ProcedureIn = validate(ProcedureIn, data)
        row = Procedure(patient_id=patient.id, procedure=proc.procedure, done_on=proc.date)
    elif kind == "authorization":
        auth: AuthorizationIn = validate(AuthorizationIn, data)
        row = Authorization(
            patient_id=patient.id,
            program=auth.program,
            authorized_on=auth.date,
            recorded_by=ctx.actor.user_id,
        )
    elif kind == "therapy":
        therapy: TherapyIn = validate(TherapyIn, data, {"kb": ctx.kb})
        row = Therapy(
            patient_id=patient.id,
            agent=therapy.agent,
            started_on=therapy.start,
            ended_on=therapy.end,
            immunosuppressant=bool(therapy.immunosuppressant),
        )
    else:  # pragma: no cover - typed
        raise InvalidInput(f"unknown record kind {kind!r}")
    session.add(row)
    session.flush()
    audit.record(session, ctx, "create", type(row).__name__, row.id)
    refresh_patient(session, ctx.kb, patient, ctx.today)
    return {"kind": kind, "id": row.id, "patient_id": patient.id}


def resolve_condition(
    session: Session, ctx: ServiceContext, condition_id: int, resolved: date
) -> dict[str, Any]:
    """Mark a condition resolved."""
    require(ctx.actor, "records.write")
    condition = repo.get_or_raise(session, Condition, condition_id, "condition")
    if condition.onset is not None and resolved < condition.onset:
        raise InvalidInput("a condition cannot resolve before its onset")
    condition.resolved = resolved
    audit.record(session, ctx, "update", "Condition", condition.id)
    patient = repo.get_or_raise(session, Patient, condition.patient_id, "patient")
    refresh_patient(session, ctx.kb, patient, ctx.today)
    return {"id": condition.id, "resolved": resolved.isoformat()}


def patient_record_json(session: Session, ctx: ServiceContext, patient_id: int) -> dict[str, Any]:
    """A patient's whole clinical record as JSON (the patient-state format plus ids)."""
    require(ctx.actor, "patients.read")
    patient = repo.get_or_raise(session, Patient, patient_id, "patient")
    record = repo.patient_record(session, patient.id)
    lab_fixes = repo.corrections_of(session, "lab", [x.id for x in record["labs"]])
    audit.record(session, ctx, "read", "PatientRecord", patient.id)

    def iso(value: date | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "patient": patient_json(patient, _site_code(session, patient)),
        "labs": [
            {
                "id": x.id,
                "test": x.test,
                "value": x.value_num if x.value_num is not None else x.value_text,
                "unit": x.unit,
                "flag": x.flag,
                "date": iso(x.taken_on),
                "loinc": x.loinc,
                "record_status": x.record_status,
                "corrections": [
                    {
                        "action": c.action,
                        "reason": c.reason,
                        "previous": c.previous,
                        "by": c.username,
                    }
                    for c in lab_fixes.get(x.id, [])
                ],
            }
            for x in record["labs"]
        ],
        "vaccinations": [
            {"id": x.id, "vaccine": x.vaccine, "live": x.live, "date": iso(x.given_on)}
            for x in record["vaccinations"]
        ],
        "conditions": [
            {
                "id": x.id,
                "condition": x.condition,
                "onset": iso(x.onset),
                "resolved": iso(x.resolved),
            }
            for x in record["conditions"]
        ],
        "therapies": [
            {
                "id": x.id,
                "agent": x.agent,
                "start": iso(x.started_on),
                "end": iso(x.ended_on),
                "immunosuppressant": x.immunosuppressant,
            }
            for x in record["therapies"]
        ],
        "procedures": [
            {"id": x.id, "procedure": x.procedure, "date": iso(x.done_on)}
            for x in record["procedures"]
        ],
        "authorizations": [
            {"id": x.id, "program": x.program, "date": iso(x.authorized_on)}
            for x in record["authorizations"]
        ],
        "administrations": [
            {
                "id": x.id,
                "agent": x.agent,
                "date": x.given_on.date().isoformat(),
                "dose_mg": x.dose_mg,
                "reaction_grade": x.max_reaction_grade,
                "outcome": x.outcome,
                "plan_id": x.plan_id,
                "dose_given_mg": x.dose_given_mg,
                "record_status": x.record_status,
            }
            for x in record["administrations"]
        ],
    }
