"""Patients, their clinical record, and the engines run on it (monitoring, PML risk, options)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from msinfuse.api import schemas
from msinfuse.api.paging import ListParams, list_params
from msinfuse.http.deps import DB, Permission
from msinfuse.services import clinical, records
from msinfuse.services.context import ServiceContext
from msinfuse.services.patient_state import (
    AuthorizationIn,
    ConditionIn,
    LabIn,
    ProcedureIn,
    TherapyIn,
    VaccinationIn,
)
from msinfuse.services.records import PatientCreate, PatientUpdate

router = APIRouter(tags=["patients"])
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": schemas.Error},
    401: {"model": schemas.Error},
    403: {"model": schemas.Error},
    404: {"model": schemas.Error},
    409: {"model": schemas.Error},
}

READ = Depends(Permission("patients.read"))
WRITE = Depends(Permission("patients.write"))
RECORD = Depends(Permission("records.write"))


@router.get("/patients", response_model=schemas.PatientPage, responses=ERRORS)
def list_patients(
    search: str | None = Query(default=None, max_length=100, description="Name or record number."),
    site: str | None = Query(default=None, max_length=20),
    page: ListParams = Depends(list_params),
    ctx: ServiceContext = READ,
    session: Session = DB,
) -> dict[str, Any]:
    """Patients, by family name unless sorted (family_name, given_name, mrn, birth_date, id),
    paginated (``total`` counts every match)."""
    return records.list_patients(session, ctx, search, site, page.limit, page.offset, page.sort)


@router.post("/patients", response_model=schemas.Patient, status_code=201, responses=ERRORS)
def create_patient(
    body: PatientCreate, ctx: ServiceContext = WRITE, session: Session = DB
) -> dict[str, Any]:
    """Register a patient."""
    return records.register_patient(session, ctx, body)


@router.get("/patients/{patient_id}", response_model=schemas.Patient, responses=ERRORS)
def get_patient(
    patient_id: int, ctx: ServiceContext = READ, session: Session = DB
) -> dict[str, Any]:
    """One patient."""
    return records.get_patient(session, ctx, patient_id)


@router.patch("/patients/{patient_id}", response_model=schemas.Patient, responses=ERRORS)
def update_patient(
    patient_id: int,
    body: PatientUpdate,
    ctx: ServiceContext = WRITE,
    session: Session = DB,
) -> dict[str, Any]:
    """Change a patient's details."""
    return records.update_patient(session, ctx, patient_id, body)


@router.get("/patients/{patient_id}/record", responses=ERRORS)
def get_record(
    patient_id: int, ctx: ServiceContext = READ, session: Session = DB
) -> dict[str, Any]:
    """The whole clinical record: labs, vaccinations, conditions, therapies, procedures,
    authorizations and administrations."""
    return records.patient_record_json(session, ctx, patient_id)


def _add(
    kind: records.RecordKind, body: Any, patient_id: int, ctx: ServiceContext, session: Session
) -> dict[str, Any]:
    return records.add_record(session, ctx, patient_id, kind, body)


@router.post(
    "/patients/{patient_id}/labs", response_model=schemas.Created, status_code=201, responses=ERRORS
)
def add_lab(
    patient_id: int,
    body: LabIn,
    ctx: ServiceContext = RECORD,
    session: Session = DB,
) -> dict[str, Any]:
    """Record a lab result."""
    return _add("lab", body, patient_id, ctx, session)


@router.post(
    "/patients/{patient_id}/vaccinations",
    response_model=schemas.Created,
    status_code=201,
    responses=ERRORS,
)
def add_vaccination(
    patient_id: int,
    body: VaccinationIn,
    ctx: ServiceContext = RECORD,
    session: Session = DB,
) -> dict[str, Any]:
    """Record a vaccination."""
    return _add("vaccination", body, patient_id, ctx, session)


@router.post(
    "/patients/{patient_id}/conditions",
    response_model=schemas.Created,
    status_code=201,
    responses=ERRORS,
)
def add_condition(
    patient_id: int,
    body: ConditionIn,
    ctx: ServiceContext = RECORD,
    session: Session = DB,
) -> dict[str, Any]:
    """Record a condition (a controlled code, or hypersensitivity:<agent>)."""
    return _add("condition", body, patient_id, ctx, session)


@router.post(
    "/patients/{patient_id}/procedures",
    response_model=schemas.Created,
    status_code=201,
    responses=ERRORS,
)
def add_procedure(
    patient_id: int,
    body: ProcedureIn,
    ctx: ServiceContext = RECORD,
    session: Session = DB,
) -> dict[str, Any]:
    """Record a procedure."""
    return _add("procedure", body, patient_id, ctx, session)


@router.post(
    "/patients/{patient_id}/authorizations",
    response_model=schemas.Created,
    status_code=201,
    responses=ERRORS,
)
def add_authorization(
    patient_id: int,
    body: AuthorizationIn,
    ctx: ServiceContext = RECORD,
    session: Session = DB,
) -> dict[str, Any]:
    """Record a programme authorization (TOUCH, REMS)."""
    return _add("authorization", body, patient_id, ctx, session)


@router.post(
    "/patients/{patient_id}/therapies",
    response_model=schemas.Created,
    status_code=201,
    responses=ERRORS,
)
def add_therapy(
    patient_id: int,
    body: TherapyIn,
    ctx: ServiceContext = RECORD,
    session: Session = DB,
) -> dict[str, Any]:
    """Record a prior or current therapy."""
    return _add("therapy", body, patient_id, ctx, session)


@router.post("/conditions/{condition_id}/resolve", responses=ERRORS)
def resolve_condition(
    condition_id: int,
    resolved: date = Query(),
    ctx: ServiceContext = RECORD,
    session: Session = DB,
) -> dict[str, Any]:
    """Mark a condition resolved on a date."""
    return records.resolve_condition(session, ctx, condition_id, resolved)


@router.get("/patients/{patient_id}/monitoring", responses=ERRORS)
def monitoring(
    patient_id: int,
    on: date | None = Query(default=None, alias="date"),
    ctx: ServiceContext = READ,
    session: Session = DB,
) -> dict[str, Any]:
    """Every monitoring item the patient is due for."""
    state = records.patient_state(session, ctx, patient_id)
    return clinical.patient_monitoring(
        ctx.kb, state, on or ctx.today, _profile(session, patient_id)
    )


@router.get("/patients/{patient_id}/pml-risk", responses=ERRORS)
def pml_risk(
    patient_id: int,
    on: date | None = Query(default=None, alias="date"),
    ctx: ServiceContext = READ,
    session: Session = DB,
) -> dict[str, Any]:
    """Natalizumab PML risk from the patient's record."""
    state = records.patient_state(session, ctx, patient_id)
    return clinical.pml_from_state(ctx.kb, state, on or ctx.today)


@router.get("/patients/{patient_id}/options", responses=ERRORS)
def options(
    patient_id: int,
    on: date | None = Query(default=None, alias="date"),
    ctx: ServiceContext = READ,
    session: Session = DB,
) -> dict[str, Any]:
    """Treatment options to discuss with the neurologist (listed by name, not ranked)."""
    state = records.patient_state(session, ctx, patient_id)
    return clinical.patient_options(ctx.kb, state, on or ctx.today, _profile(session, patient_id))


def _profile(session: Session, patient_id: int) -> Literal["us", "eu"]:
    from msinfuse.persistence.models import Patient

    patient = session.get(Patient, patient_id)
    return "eu" if patient is not None and patient.profile == "eu" else "us"
