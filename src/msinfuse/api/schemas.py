"""Response models of the REST API (request bodies reuse the services' input models)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Token(BaseModel):
    """A bearer token."""

    access_token: str
    token_type: str = "bearer"
    expires_at: str


class Me(BaseModel):
    """The signed-in user."""

    user_id: int | None
    username: str
    role: str


class Health(BaseModel):
    """Liveness."""

    status: str


class Error(BaseModel):
    """The error body of every 4xx and 5xx response."""

    error: str
    detail: str
    request_id: str | None = None


class Patient(BaseModel):
    """A patient."""

    id: int
    mrn: str
    given_name: str
    family_name: str
    birth_date: str | None
    sex: str | None
    weight_kg: float | None
    height_cm: float | None
    ms_course: str | None
    pregnant: bool | None
    breastfeeding: bool | None
    childbearing_potential: bool | None
    home_site: str | None
    profile: str


class PatientPage(BaseModel):
    """A page of patients."""

    items: list[Patient]
    total: int
    limit: int
    offset: int
    sort: str | None = None


class Created(BaseModel):
    """A record created."""

    kind: str
    id: int
    patient_id: int


class Dose(BaseModel):
    """A planned dose."""

    id: int
    number: int
    course: int
    course_day: int
    kind: str
    planned_on: str
    earliest_on: str
    dose_mg: float
    status: str
    given_on: str | None
    reason: str | None


class Finding(BaseModel):
    """A finding."""

    severity: str
    rule: str
    message: str
    source: str
    data: dict[str, Any] = {}


class Plan(BaseModel):
    """A treatment plan with its dose calendar."""

    id: int
    patient_id: int
    agent: str
    regimen: str
    profile: str
    protocol: str
    start: str
    status: str
    stopped_on: str | None
    stop_reason: str | None
    switched_to: int | None
    doses: list[Dose]
    findings: list[Finding] = []


class DoseMark(BaseModel):
    """A dose marked held or missed."""

    id: int
    status: str
    reason: str | None
    planned_on: str


class Override(BaseModel):
    """A prescriber override of a hold."""

    rule: str
    reason: str
    user_id: int | None
    at: str


class StoredCheck(BaseModel):
    """A stored pre-infusion check."""

    id: int
    patient_id: int
    planned_dose_id: int | None
    agent: str
    date: str
    profile: str
    protocol: str
    decision: str
    findings: list[Finding]
    label_revisions: list[dict[str, str]]
    kb_version: str
    acknowledged: list[str]
    overridden: list[Override]
    pending_warnings: list[str]
    pending_holds: list[str]
    cleared: bool
    created_by: int | None
    created_at: str
    sources: list[str] = []
    decision_support: str | None = None


class AdministrationRecorded(BaseModel):
    """An infusion recorded."""

    id: int
    patient_id: int
    plan_id: int
    planned_dose_id: int | None
    agent: str
    started_at: str | None
    max_reaction_grade: int
    outcome: str
    check_id: int | None
    consequences: list[str]


class Appointment(BaseModel):
    """A chair appointment."""

    id: int
    patient_id: int
    planned_dose_id: int | None
    site: str | None
    chair_id: int
    chair: str | None
    starts_at: str
    ends_at: str
    status: str
    notes: str | None


class Chair(BaseModel):
    """A chair."""

    id: int
    name: str
    kind: str
    active: bool


class Site(BaseModel):
    """A site with its chairs."""

    id: int
    code: str
    name: str
    opens: str
    closes: str
    start_cap: int
    nurse_ratio: int
    chairs: list[Chair]


class User(BaseModel):
    """A user (never the password)."""

    id: int
    username: str
    full_name: str
    role: str
    active: bool
    locked_until: str | None


class AuditEvent(BaseModel):
    """An audit event."""

    id: int
    at: str
    user_id: int | None
    username: str | None
    action: str
    resource_type: str
    resource_id: str | None
    outcome: str
    client_address: str | None
