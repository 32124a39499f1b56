"""Response models of the REST API (request bodies reuse the services' input models)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


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
    field: str | None = Field(
        default=None, description="The input field at fault, when one is (bad input only)."
    )
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
    given_dose_mg: float | None = Field(
        default=None, description="The partial dose given, when only part of the bag ran."
    )
    status: str
    given_on: str | None
    reason: str | None


class PlanState(BaseModel):
    """A plan's state in one wording for every page and client."""

    code: str = Field(description="active, paused, review, stopped or completed.")
    label: str = Field(description="In words, e.g. 'held pending prescriber review'.")
    reason: str | None
    live: bool = Field(description="Active, paused or held for review.")
    held: bool = Field(description="No dose may be given (paused or held for review).")


class PlanReview(BaseModel):
    """A plan held pending a prescriber's review, and the decision once recorded."""

    id: int
    plan_id: int
    administration_id: int | None
    reaction_grade: int
    reason: str
    requested_at: str
    decision: str | None = Field(description="discontinue, resume or stop; null while open.")
    decision_reason: str | None
    decided_by: str | None
    decided_at: str | None


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
    state: PlanState
    review: PlanReview | None = Field(description="The review waiting for a prescriber, if any.")
    reviews: list[PlanReview] = []
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
    dose_given_mg: float | None = None
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
