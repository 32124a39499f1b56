"""Corrections of documented entries: marked entered in error or amended, never deleted.

Any documented entry (a vital sign, a pump rate, a premedication, a reaction, an
administration, a lab) can be marked ``entered_in_error`` or ``amended`` with a reason. The
entry keeps its id; a :class:`~msinfuse.persistence.models.Correction` keeps the reason, who,
when and the values it held before, so the original stays visible (struck through) and both
the entry and its correction are audited. An amendment passes the same limits as a new
entry. Entries entered in error leave every clinical computation (the dose calendar, the
re-planned pump program, the checks) and FHIR exports carry ``entered-in-error``.
"""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from msinfuse.domain.rates.limits import (
    check_completion,
    check_premedication,
    check_rate,
    check_reaction_minutes,
    check_time,
    check_vital,
    parse_dose_mg,
)
from msinfuse.errors import Conflict, InvalidInput
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.models import (
    Administration,
    Correction,
    InfusionReaction,
    Lab,
    Patient,
    PremedicationGiven,
    RateEvent,
    TreatmentPlan,
    VitalSign,
)
from msinfuse.services import audit
from msinfuse.services.context import ServiceContext, require
from msinfuse.services.infusions import apply_reaction_consequences, to_wall_clock, wall_clock
from msinfuse.services.limits import entry_limits
from msinfuse.services.patient_state import LabIn
from msinfuse.services.plans import sync_calendar
from msinfuse.services.projections import refresh_patient
from msinfuse.services.validation import validate
from msinfuse.services.visits import documentation_window, visit_rate_plan

Resource = Literal["vital_sign", "rate_event", "premedication", "reaction", "administration", "lab"]
Action = Literal["entered_in_error", "amended"]

#: Each correctable entry: its model, the permission a correction needs, its audit name.
RESOURCES: dict[str, tuple[Any, str, str]] = {
    "vital_sign": (VitalSign, "administrations.write", "VitalSign"),
    "rate_event": (RateEvent, "administrations.write", "RateEvent"),
    "premedication": (PremedicationGiven, "administrations.write", "PremedicationGiven"),
    "reaction": (InfusionReaction, "administrations.write", "InfusionReaction"),
    "administration": (Administration, "administrations.write", "Administration"),
    "lab": (Lab, "records.write", "Lab"),
}

#: The fields an amendment may change, per entry (the values kept in ``previous``).
FIELDS: dict[str, tuple[str, ...]] = {
    "vital_sign": ("value", "unit", "taken_at", "flag"),
    "rate_event": ("minute", "rate_ml_per_h", "kind", "reason"),
    "premedication": ("drug", "dose", "dose_mg", "route", "given_at"),
    "reaction": ("onset_minute", "grade", "resume_minute", "actions", "outcome"),
    "administration": (
        "volume_ml",
        "ended_at",
        "volume_infused_ml",
        "dose_given_mg",
        "completion_reason",
    ),
    "lab": ("value_num", "value_text", "unit", "flag", "taken_on"),
}


class _Changes(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class VitalSignChanges(_Changes):
    """What an amendment of a vital sign may change."""

    value: float | None = None
    unit: str | None = Field(default=None, max_length=20)
    taken_at: datetime | None = None


class RateEventChanges(_Changes):
    """What an amendment of a pump rate may change."""

    minute: float | None = None
    rate_ml_h: float | None = None
    kind: Literal["start", "change", "pause", "resume", "stop"] | None = None
    reason: str | None = Field(
        default=None, max_length=500, description="Why a rate faster than the plan's step ran."
    )


class PremedicationChanges(_Changes):
    """What an amendment of a premedication may change."""

    drug: str | None = Field(default=None, min_length=1, max_length=120)
    dose_mg: float | None = None
    dose: str | None = Field(default=None, max_length=60)
    route: str | None = Field(default=None, max_length=30)
    given_at: datetime | None = None


class ReactionChanges(_Changes):
    """What an amendment of an infusion reaction may change."""

    onset_minute: float | None = Field(default=None, ge=0)
    grade: int | None = Field(default=None, ge=1, le=5)
    resume_minute: float | None = Field(default=None, ge=0)
    actions: str | None = None
    outcome: str | None = Field(default=None, max_length=60)


class AdministrationChanges(_Changes):
    """What an amendment of an administration may change: the bag and how it ended."""

    volume_ml: float | None = Field(default=None, description="The bag volume in mL.")
    ended_at: datetime | None = None
    volume_infused_ml: float | None = None
    completion_reason: str | None = Field(default=None, max_length=1000)


class LabChanges(_Changes):
    """What an amendment of a lab result may change."""

    value: str | float | None = None
    unit: str | None = Field(default=None, max_length=30)
    date: dt.date | None = None
    flag: Literal["normal", "abnormal", "high", "low"] | None = None


CHANGES: dict[str, type[_Changes]] = {
    "vital_sign": VitalSignChanges,
    "rate_event": RateEventChanges,
    "premedication": PremedicationChanges,
    "reaction": ReactionChanges,
    "administration": AdministrationChanges,
    "lab": LabChanges,
}


class CorrectionIn(BaseModel):
    """A correction: mark the entry entered in error, or amend it (``changes``), with a
    reason."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: Action
    reason: str = Field(min_length=1, max_length=1000, description="Why it is corrected.")
    changes: dict[str, Any] = Field(
        default_factory=dict, description="For an amendment: the fields that change."
    )


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _snapshot(resource: str, row: Any) -> dict[str, Any]:
    return {name: _plain(getattr(row, name)) for name in FIELDS[resource]}


def correction_json(row: Correction) -> dict[str, Any]:
    """A correction as JSON."""
    return {
        "id": row.id,
        "resource": row.resource,
        "record_id": row.record_id,
        "action": row.action,
        "reason": row.reason,
        "previous": row.previous,
        "by": row.username,
        "at": row.at.isoformat(timespec="seconds") if row.at else None,
    }


def _administration_of(session: Session, resource: str, row: Any) -> Administration | None:
    if resource == "administration":
        return row  # type: ignore[no-any-return]
    if resource == "lab":
        return None
    return repo.get_or_raise(session, Administration, row.administration_id, "administration")


def correct(
    session: Session,
    ctx: ServiceContext,
    resource: Resource,
    record_id: int,
    data: CorrectionIn | dict[str, Any],
) -> dict[str, Any]:
    """Mark an entry entered in error or amend it, with a reason; the earlier values are
    kept and both the entry and its correction are audited."""
    if resource not in RESOURCES:
        raise InvalidInput(f"entries that can be corrected: {', '.join(RESOURCES)}")
    model, permission, audit_name = RESOURCES[resource]
    require(ctx.actor, permission)
    body: CorrectionIn = validate(CorrectionIn, data)
    row = repo.get_or_raise(session, model, record_id, resource.replace("_", " "))
    if row.record_status == "entered_in_error":
        raise Conflict("this entry is already marked entered in error")
    adm = _administration_of(session, resource, row)
    if adm is not None and adm is not row and adm.record_status == "entered_in_error":
        raise Conflict("the infusion this entry belongs to was marked entered in error")
    previous = _snapshot(resource, row)
    notes: list[str] = []
    if body.action == "entered_in_error":
        if body.changes:
            raise InvalidInput("an entry marked entered in error takes no changes", field="action")
        row.record_status = "entered_in_error"
        session.flush()
        notes = _after_error(session, ctx, resource, row, adm)
    else:
        changes = validate(CHANGES[resource], body.changes)
        given = {
            k: to_wall_clock(ctx, v) if isinstance(v, datetime) else v
            for k, v in changes.model_dump(exclude_unset=True).items()
        }
        if not given:
            raise InvalidInput("an amendment changes at least one field", field="changes")
        notes = _amend(session, ctx, resource, row, adm, given)
        if _snapshot(resource, row) == previous:
            raise InvalidInput("the amendment changes nothing", field="changes")
        row.record_status = "amended"
    patient_id = row.patient_id if resource in ("lab", "administration") else adm.patient_id  # type: ignore[union-attr]
    correction = Correction(
        patient_id=patient_id,
        resource=resource,
        record_id=row.id,
        action=body.action,
        reason=body.reason,
        previous=previous,
        user_id=ctx.actor.user_id,
        username=ctx.actor.username,
        at=ctx.now,
    )
    session.add(correction)
    session.flush()
    audit.record(
        session,
        ctx,
        "entered-in-error" if body.action == "entered_in_error" else "amend",
        audit_name,
        row.id,
    )
    audit.record(session, ctx, "create", "Correction", correction.id)
    refresh_patient(
        session, ctx.kb, repo.get_or_raise(session, Patient, patient_id, "patient"), ctx.today
    )
    return {
        "resource": resource,
        "record_id": row.id,
        "record_status": row.record_status,
        "current": _snapshot(resource, row),
        "correction": correction_json(correction),
        "patient_id": patient_id,
        "administration_id": adm.id if adm is not None else None,
        "notes": notes,
    }


def owner(
    session: Session, ctx: ServiceContext, resource: str, record_id: int
) -> dict[str, int | None]:
    """The patient and the infusion (for entries of a visit) an entry belongs to."""
    if resource not in RESOURCES:
        raise InvalidInput(f"entries that can be corrected: {', '.join(RESOURCES)}")
    require(ctx.actor, "patients.read")
    row = repo.get_or_raise(session, RESOURCES[resource][0], record_id, resource.replace("_", " "))
    adm = _administration_of(session, resource, row)
    patient_id = adm.patient_id if adm is not None else row.patient_id
    return {"patient_id": patient_id, "administration_id": adm.id if adm is not None else None}


def corrections(
    session: Session, ctx: ServiceContext, resource: Resource, record_id: int
) -> list[dict[str, Any]]:
    """Every correction of one entry, oldest first."""
    if resource not in RESOURCES:
        raise InvalidInput(f"entries that can be corrected: {', '.join(RESOURCES)}")
    require(ctx.actor, "patients.read")
    model = RESOURCES[resource][0]
    repo.get_or_raise(session, model, record_id, resource.replace("_", " "))
    return [
        correction_json(c)
        for c in repo.corrections_of(session, resource, [record_id]).get(record_id, [])
    ]


# ------------------------------------------------------------------------ consequences


def _refresh_grade(session: Session, adm: Administration) -> None:
    live = repo.administration_details(session, adm.id, live_only=True)["reactions"]
    adm.max_reaction_grade = max((r.grade for r in live), default=0)


def _plan_of(session: Session, adm: Administration) -> TreatmentPlan | None:
    return session.get(TreatmentPlan, adm.plan_id) if adm.plan_id is not None else None


def _after_error(
    session: Session,
    ctx: ServiceContext,
    resource: str,
    row: Any,
    adm: Administration | None,
) -> list[str]:
    """What an entry entered in error changes: the reaction grade, the dose calendar."""
    notes: list[str] = []
    if resource == "reaction" and adm is not None:
        _refresh_grade(session, adm)
        plan = _plan_of(session, adm)
        if plan is not None and repo.open_plan_review(session, plan.id) is not None:
            notes.append(
                "the plan stays held pending prescriber review: a prescriber records the decision"
            )
    if resource == "administration":
        plan = _plan_of(session, row)
        if plan is not None:
            sync_calendar(session, ctx, plan)
            notes.append("the dose calendar no longer counts this infusion")
    return notes


def _visit(session: Session, ctx: ServiceContext, adm: Administration) -> Any:
    return visit_rate_plan(session, ctx, adm)


def _elapsed(adm: Administration, ctx: ServiceContext) -> float:
    assert adm.started_at is not None
    return (wall_clock(ctx) - adm.started_at).total_seconds() / 60.0


def _window(session: Session, ctx: ServiceContext, adm: Administration) -> Any:
    return documentation_window(session, adm, _visit(session, ctx, adm))


def _amend(
    session: Session,
    ctx: ServiceContext,
    resource: str,
    row: Any,
    adm: Administration | None,
    given: dict[str, Any],
) -> list[str]:
    """Apply an amendment after the same limits as a new entry."""
    now = wall_clock(ctx)
    if resource == "vital_sign":
        assert adm is not None
        value = given.get("value", row.value)
        unit = given.get("unit", row.unit if "value" not in given else None)
        entry = check_vital(entry_limits(session, ctx.kb), row.kind, value, unit)
        taken_at = given.get("taken_at", row.taken_at)
        check_time(_window(session, ctx, adm), taken_at, now, "taken_at", "the time taken")
        row.value, row.unit, row.flag, row.taken_at = entry.value, entry.unit, entry.flag, taken_at
        return []
    if resource == "rate_event":
        assert adm is not None
        minute = given.get("minute", row.minute)
        rate = given.get("rate_ml_h", row.rate_ml_per_h)
        kind = given.get("kind", row.kind)
        reason = given.get("reason", row.reason)
        rate_entry = check_rate(
            ctx.kb, _visit(session, ctx, adm), minute, rate, kind, _elapsed(adm, ctx), reason
        )
        row.minute, row.rate_ml_per_h, row.kind = minute, rate, kind
        row.reason = reason if rate_entry.above_step else None
        return []
    if resource == "premedication":
        assert adm is not None
        drug = given.get("drug", row.drug)
        amount = given.get("dose_mg")
        if amount is None and given.get("dose"):
            amount = parse_dose_mg(given["dose"])
        if amount is None:
            amount = row.dose_mg
        plan = _plan_of(session, adm)
        if amount is not None:
            profile = plan.profile if plan is not None else "us"
            check_premedication(ctx.kb, adm.agent, profile, drug, amount)  # type: ignore[arg-type]
        given_at = given.get("given_at", row.given_at)
        if given_at is not None:
            check_time(_window(session, ctx, adm), given_at, now, "given_at", "the time given")
        row.drug, row.dose_mg, row.given_at = drug, amount, given_at
        row.dose = f"{amount:g} mg" if amount is not None else None
        row.route = given.get("route", row.route)
        return []
    if resource == "reaction":
        assert adm is not None
        return _amend_reaction(session, ctx, row, adm, given)
    if resource == "administration":
        return _amend_administration(session, ctx, row, given)
    return _amend_lab(ctx, row, given)


def _amend_reaction(
    session: Session,
    ctx: ServiceContext,
    row: InfusionReaction,
    adm: Administration,
    given: dict[str, Any],
) -> list[str]:
    onset = given.get("onset_minute", row.onset_minute)
    grade = given.get("grade", row.grade)
    resume = given.get("resume_minute", row.resume_minute)
    if grade == 3 and resume is None:
        raise InvalidInput(
            "a grade 3 reaction needs the minute the infusion restarts", field="resume_minute"
        )
    if grade != 3 and "grade" in given and "resume_minute" not in given:
        resume = None
    others = [
        r
        for r in repo.administration_details(session, adm.id, live_only=True)["reactions"]
        if r.id != row.id
    ]
    before = visit_rate_plan(session, ctx, adm, others)
    check_reaction_minutes(before, onset, resume, _elapsed(adm, ctx))
    row.onset_minute, row.grade, row.resume_minute = onset, grade, resume
    row.actions = given.get("actions", row.actions)
    row.outcome = given.get("outcome", row.outcome)
    visit_rate_plan(session, ctx, adm, [*others, row])  # refuses what it cannot re-plan
    session.flush()
    _refresh_grade(session, adm)
    plan = _plan_of(session, adm)
    if plan is None or grade < 3:
        return []
    if grade >= 4 and adm.outcome == "in_progress":
        assert adm.started_at is not None
        adm.outcome = "stopped"
        adm.ended_at = adm.started_at + timedelta(minutes=onset)
    return apply_reaction_consequences(session, ctx, plan, grade, adm.given_on.date(), adm.id)


def _amend_administration(
    session: Session, ctx: ServiceContext, adm: Administration, given: dict[str, Any]
) -> list[str]:
    if "volume_ml" in given:
        adm.volume_ml = given["volume_ml"]
        visit_rate_plan(session, ctx, adm)  # refuses a bag the protocol's rates are not valid for
    completion = {"ended_at", "volume_infused_ml", "completion_reason"} & set(given)
    if completion or ("volume_ml" in given and adm.volume_infused_ml is not None):
        if adm.outcome == "in_progress":
            raise Conflict("the infusion is still running: complete it instead")
        ended = given.get("ended_at", adm.ended_at)
        infused = given.get("volume_infused_ml", adm.volume_infused_ml)
        reason = given.get("completion_reason", adm.completion_reason)
        if ended is None or infused is None:
            raise InvalidInput(
                "give the end time and the volume infused", field="volume_infused_ml"
            )
        assert adm.started_at is not None
        if ended > wall_clock(ctx):
            raise InvalidInput("the end cannot be in the future", field="ended_at")
        done = check_completion(
            ctx.kb.limits,
            visit_rate_plan(session, ctx, adm),
            adm.started_at,
            ended,
            infused,
            reason,
        )
        adm.ended_at, adm.volume_infused_ml = ended, infused
        adm.completion_reason = (reason or "").strip() or None
        adm.dose_given_mg = done.dose_given_mg if done.partial else None
    plan = _plan_of(session, adm)
    if plan is not None:
        session.flush()
        sync_calendar(session, ctx, plan)
    return []


def _amend_lab(ctx: ServiceContext, row: Lab, given: dict[str, Any]) -> list[str]:
    current: dict[str, Any] = {
        "test": row.test,
        "value": row.value_num if row.value_num is not None else (row.value_text or ""),
        "date": row.taken_on,
        "unit": row.unit,
        "flag": row.flag,
    }
    lab: LabIn = validate(LabIn, {**current, **given})
    if lab.date > ctx.today:
        raise InvalidInput("a lab result cannot be dated in the future", field="date")
    numeric = isinstance(lab.value, int | float)
    row.value_num = float(lab.value) if numeric else None
    row.value_text = None if numeric else str(lab.value)
    row.unit, row.flag, row.taken_on = lab.unit, lab.flag, lab.date
    return []


__all__ = [
    "CHANGES",
    "FIELDS",
    "RESOURCES",
    "CorrectionIn",
    "correct",
    "correction_json",
    "corrections",
    "owner",
]
