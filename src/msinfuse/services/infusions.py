"""Recording infusions: administrations with rate events, premedication, vital signs and
reactions.

Every entry passes the limits of :mod:`msinfuse.domain.rates.limits` (the bag fits the
protocol, no rate above the protocol maximum, premedication doses in range, vital signs
physiologically possible and flagged when abnormal, no time in the future). A grade 3 or
higher reaction to ocrelizumab removes the shorter protocol from the plan; a grade 4 (or 5)
reaction holds the plan pending a prescriber's review (:func:`plans.hold_for_review`).
An infusion is started only after a cleared pre-infusion check, unless it is recorded as
historical (given before the patient came to this clinic).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from msinfuse.domain.findings import Finding
from msinfuse.domain.knowledge.entry_limits import EntryLimits
from msinfuse.domain.rates import RatePlan, plan_infusion
from msinfuse.domain.rates.limits import (
    CLOCK_SLACK,
    check_premedication,
    check_rate,
    check_vital,
    parse_dose_mg,
    premedication_findings,
    shown_unit,
)
from msinfuse.errors import Conflict, InvalidInput
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.models import (
    Administration,
    Appointment,
    CheckResult,
    Correction,
    InfusionReaction,
    Patient,
    PlannedDose,
    PremedicationGiven,
    RateEvent,
    TreatmentPlan,
    VitalSign,
)
from msinfuse.persistence.repositories import RecordId
from msinfuse.services import audit
from msinfuse.services.checks import stored_check_json
from msinfuse.services.context import ServiceContext, require
from msinfuse.services.limits import entry_limits
from msinfuse.services.plans import dose_rate_request, hold_for_review, sync_calendar
from msinfuse.services.projections import refresh_patient
from msinfuse.services.validation import validate


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


RateKind = Literal["start", "change", "pause", "resume", "stop"]
VitalKind = Literal[
    "systolic", "diastolic", "heart_rate", "respiratory_rate", "temperature", "spo2", "weight"
]  # fmt: skip


class RateEventIn(_In):
    """A pump rate as given, at a minute of the infusion. A rate faster than the plan's step
    in force needs ``reason``; a rate above the protocol's maximum is refused."""

    minute: float = Field(description="Minutes since the infusion started.")
    rate_ml_h: float = Field(description="The pump rate in mL/h (0 for a pause or a stop).")
    kind: RateKind = "change"
    reason: str | None = Field(
        default=None,
        max_length=500,
        description="Why the pump runs faster than the plan's step (the soft limit).",
    )


class PremedicationIn(_In):
    """A premedication given: the dose in mg (``dose_mg``, or ``dose`` written like
    ``650 mg``), positive and inside the drug's accepted range."""

    drug: str = Field(min_length=1, max_length=120)
    dose_mg: float | None = Field(default=None, description="The dose given, in mg.")
    dose: str | None = Field(
        default=None, max_length=60, description="The dose as written (e.g. 650 mg)."
    )
    route: str | None = Field(default=None, max_length=30)
    given_at: datetime | None = None

    def amount_mg(self) -> float | None:
        """The dose in mg (``dose_mg``, else ``dose`` parsed), or ``None`` when not given."""
        if self.dose_mg is not None:
            return self.dose_mg
        if self.dose:
            return parse_dose_mg(self.dose)
        return None


class VitalSignIn(_In):
    """A vital sign; the unit defaults to the sign's own (°F and lb are converted)."""

    kind: VitalKind
    value: float
    unit: str | None = Field(default=None, max_length=20)
    taken_at: datetime


class ReactionIn(_In):
    """An infusion reaction (CTCAE v5 grade)."""

    onset_minute: float = Field(ge=0)
    grade: int = Field(ge=1, le=5)
    resume_minute: float | None = Field(default=None, ge=0)
    actions: str | None = None
    outcome: str | None = Field(default=None, max_length=60)


def rate_event_row(administration_id: int, e: RateEventIn, reason: str | None = None) -> RateEvent:
    """The stored row of a pump rate given during an administration."""
    return RateEvent(
        administration_id=administration_id,
        minute=e.minute,
        rate_ml_per_h=e.rate_ml_h,
        kind=e.kind,
        reason=reason,
    )


def premedication_row(
    administration_id: int,
    p: PremedicationIn,
    dose_mg: float | None,
    given_at: datetime | None = None,
) -> PremedicationGiven:
    """The stored row of a premedication given (at ``given_at`` when it names no time)."""
    return PremedicationGiven(
        administration_id=administration_id,
        drug=p.drug,
        dose=f"{dose_mg:g} mg" if dose_mg is not None else None,
        dose_mg=dose_mg,
        route=p.route,
        given_at=p.given_at or given_at,
    )


def vital_sign_row(
    limits: EntryLimits, administration_id: int, v: VitalSignIn
) -> tuple[VitalSign, tuple[Finding, ...]]:
    """The stored row of a vital sign (in its UCUM unit, flagged when outside the clinic's
    usual range); refused when it is not physiologically possible."""
    entry = check_vital(limits, v.kind, v.value, v.unit)
    row = VitalSign(
        administration_id=administration_id,
        kind=v.kind,
        value=entry.value,
        unit=entry.unit,
        taken_at=v.taken_at,
        flag=entry.flag,
    )
    return row, entry.findings


def reaction_row(administration_id: int, r: ReactionIn) -> InfusionReaction:
    """The stored row of an infusion reaction."""
    return InfusionReaction(
        administration_id=administration_id,
        onset_minute=r.onset_minute,
        grade=r.grade,
        resume_minute=r.resume_minute,
        actions=r.actions,
        outcome=r.outcome,
    )


class AdministrationCreate(_In):
    """An infusion given, documented in one go (a whole record: for a pump gateway, an EHR
    or an import). Its entries pass the same limits as the visit's one-at-a-time actions."""

    planned_dose_id: RecordId | None = None
    plan_id: RecordId | None = None
    check_id: RecordId | None = Field(default=None, description="The cleared pre-infusion check.")
    appointment_id: RecordId | None = None
    started_at: datetime
    ended_at: datetime | None = None
    observation_until: datetime | None = None
    protocol: Literal["standard", "shorter"] | None = None
    dose_mg: float | None = Field(default=None, gt=0)
    volume_ml: float | None = Field(default=None, gt=0, description="The bag volume in mL.")
    volume_infused_ml: float | None = Field(
        default=None, ge=0, description="The volume the pump infused, in mL."
    )
    completion_reason: str | None = Field(
        default=None,
        max_length=1000,
        description="Why the infusion ended early or with volume left (a partial dose).",
    )
    outcome: Literal["completed", "stopped", "discontinued"] = "completed"
    historical: bool = Field(
        default=False, description="Given elsewhere or before records began: no check needed."
    )
    rate_events: list[RateEventIn] = []
    premedications: list[PremedicationIn] = []
    vital_signs: list[VitalSignIn] = []
    reactions: list[ReactionIn] = []


def _cleared_check(
    session: Session, patient_id: int, agent: str, body: AdministrationCreate
) -> CheckResult:
    row: CheckResult | None
    if body.check_id is not None:
        row = repo.get_or_raise(session, CheckResult, body.check_id, "check")
    else:
        row = session.scalars(
            select(CheckResult)
            .where(
                CheckResult.patient_id == patient_id,
                CheckResult.agent == agent,
                CheckResult.check_date == body.started_at.date(),
            )
            .order_by(CheckResult.id.desc())
        ).first()
        if row is None:
            raise Conflict("run the pre-infusion check before starting the infusion")
    if (
        row.patient_id != patient_id
        or row.agent != agent
        or row.check_date != body.started_at.date()
    ):
        raise InvalidInput("the check is for another patient, agent or day")
    if not stored_check_json(session, row)["cleared"]:
        raise Conflict(
            "the pre-infusion check is not cleared: acknowledge its warnings and have a prescriber override its holds"
        )
    return row


def prior_grades(
    session: Session, patient_id: int, agent: str, before: datetime, own_id: int | None = None
) -> tuple[int, ...]:
    """The highest reaction grade of each earlier infusion of ``agent`` (not counting the
    infusion ``own_id`` and those entered in error)."""
    return tuple(
        a.max_reaction_grade
        for a in repo.patient_record(session, patient_id)["administrations"]
        if a.agent == agent and a.id != own_id and a.outcome != "not_started"
        if a.record_status != "entered_in_error" and a.given_on <= before
    )


def infusion_rate_plan(
    session: Session,
    ctx: ServiceContext,
    plan: TreatmentPlan,
    dose: PlannedDose,
    patient: Patient,
    protocol: str | None,
    volume_ml: float | None,
    dose_mg: float | None,
    started_at: datetime,
    own_id: int | None = None,
) -> RatePlan:
    """The rate plan of an infusion of ``dose`` started at ``started_at``: refuses a bag the
    protocol's rates are not valid for (``volume_ml`` at fault)."""
    grades = prior_grades(session, patient.id, plan.agent, started_at, own_id)
    start = started_at.time().replace(second=0, microsecond=0)
    request = dose_rate_request(plan, dose, patient, grades, protocol, start, dose_mg, volume_ml)
    rates: RatePlan = plan_infusion(ctx.kb, request)
    return rates


def to_wall_clock(ctx: ServiceContext, moment: datetime) -> datetime:  # noqa: ARG001
    """A moment as the clinic's wall-clock time (naive, like stored appointment times); a
    naive time is taken as wall-clock time already. (``ctx`` is where the clinic's zone
    comes from once it is carried there; today it is the process's zone.)"""
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo is not None else moment


def wall_clock(ctx: ServiceContext) -> datetime:
    """The clinic's wall-clock time now (naive, like stored appointment times)."""
    return to_wall_clock(ctx, ctx.now)


def _wall(ctx: ServiceContext, moment: datetime | None) -> datetime | None:
    return to_wall_clock(ctx, moment) if moment is not None else None


def _check_whole_record(
    ctx: ServiceContext, body: AdministrationCreate, rates: RatePlan | None
) -> None:
    """The limits of a whole infusion record: nothing in the future (a historical record,
    given elsewhere, by its date), the pump never above the protocol maximum, premedication
    doses in range, vital signs possible."""
    latest = wall_clock(ctx) + CLOCK_SLACK
    if body.historical:
        latest = datetime.combine(ctx.today, datetime.max.time())
    for when, what, field in (
        (body.started_at, "the start", "started_at"),
        (body.ended_at, "the end", "ended_at"),
        *((v.taken_at, "a vital sign", "taken_at") for v in body.vital_signs),
        *((p.given_at, "a premedication", "given_at") for p in body.premedications),
    ):
        if when is not None and when > latest:
            raise InvalidInput(f"{what} of an infusion cannot be in the future", field=field)
    if body.ended_at is not None and body.ended_at < body.started_at:
        raise InvalidInput("the infusion cannot end before it starts", field="ended_at")
    if rates is not None:
        for event in body.rate_events:
            check_rate(
                ctx.kb,
                rates,
                event.minute,
                event.rate_ml_h,
                event.kind,
                float("inf"),
                event.reason or "documented in a whole infusion record",
            )
        end = rates.steps[-1].end_min if rates.steps else 0.0
        for reaction in body.reactions:
            if body.ended_at is None and reaction.onset_minute >= end:
                raise InvalidInput(
                    f"a reaction during the infusion starts before its end (minute {end:.0f})",
                    field="onset_minute",
                )


def record_administration(
    session: Session,
    ctx: ServiceContext,
    patient_id: int,
    data: AdministrationCreate | dict[str, Any],
) -> dict[str, Any]:
    """Record an infusion, all or nothing, and keep the plan's calendar current."""
    require(ctx.actor, "administrations.write")
    body: AdministrationCreate = validate(AdministrationCreate, data)
    body = body.model_copy(
        update={
            "started_at": to_wall_clock(ctx, body.started_at),
            "ended_at": _wall(ctx, body.ended_at),
            "observation_until": _wall(ctx, body.observation_until),
            "vital_signs": [
                v.model_copy(update={"taken_at": to_wall_clock(ctx, v.taken_at)})
                for v in body.vital_signs
            ],
            "premedications": [
                p.model_copy(update={"given_at": _wall(ctx, p.given_at)})
                for p in body.premedications
            ],
        }
    )
    patient = repo.get_or_raise(session, Patient, patient_id, "patient")
    dose: PlannedDose | None = None
    if body.planned_dose_id is not None:
        dose = repo.get_or_raise(session, PlannedDose, body.planned_dose_id, "planned dose")
        plan = repo.get_or_raise(session, TreatmentPlan, dose.plan_id, "plan")
    elif body.plan_id is not None:
        plan = repo.get_or_raise(session, TreatmentPlan, body.plan_id, "plan")
        dose = next(
            (
                d
                for d in repo.doses_of_plan(session, plan.id)
                if d.status not in ("given", "cancelled")
            ),
            None,
        )
    else:
        raise InvalidInput("name the planned dose (or the plan) the infusion belongs to")
    if plan.patient_id != patient.id:
        raise InvalidInput("the plan belongs to another patient")
    if plan.status != "active" and not body.historical:
        if repo.open_plan_review(session, plan.id) is not None:
            raise Conflict("the plan is held pending prescriber review; no dose can be given")
        raise Conflict(f"the plan is {plan.status}; resume it before giving a dose")
    if dose is not None and dose.status in ("given", "cancelled"):
        raise Conflict(f"the planned dose is already {dose.status}")
    if body.started_at.date() > ctx.today:
        raise InvalidInput("an infusion cannot be recorded in the future", field="started_at")
    rates = None
    if dose is not None and (body.volume_ml is not None or not body.historical):
        rates = infusion_rate_plan(
            session,
            ctx,
            plan,
            dose,
            patient,
            body.protocol,
            body.volume_ml,
            body.dose_mg,
            body.started_at,
        )
    _check_whole_record(ctx, body, rates)
    premed_doses = [p.amount_mg() for p in body.premedications]
    for premed, amount in zip(body.premedications, premed_doses, strict=True):
        if amount is not None:
            check_premedication(ctx.kb, plan.agent, plan.profile, premed.drug, amount)  # type: ignore[arg-type]
    check_row = None if body.historical else _cleared_check(session, patient.id, plan.agent, body)
    grade = max((r.grade for r in body.reactions), default=0)
    dose_mg = body.dose_mg if body.dose_mg is not None else (dose.dose_mg if dose else None)
    row = Administration(
        patient_id=patient.id,
        plan_id=plan.id,
        planned_dose_id=dose.id if dose else None,
        appointment_id=body.appointment_id,
        agent=plan.agent,
        protocol=body.protocol or plan.protocol,
        dose_mg=dose_mg,
        volume_ml=body.volume_ml,
        given_on=body.started_at,
        started_at=body.started_at,
        ended_at=body.ended_at,
        observation_until=body.observation_until,
        max_reaction_grade=grade,
        outcome=body.outcome if grade < 4 else "stopped",
        nurse_id=ctx.actor.user_id,
        volume_infused_ml=body.volume_infused_ml,
        completion_reason=body.completion_reason,
    )
    if body.volume_infused_ml is not None and rates is not None and body.ended_at is not None:
        from msinfuse.domain.rates.limits import check_completion

        done = check_completion(
            ctx.kb.limits,
            rates,
            body.started_at,
            body.ended_at,
            body.volume_infused_ml,
            body.completion_reason,
        )
        if done.partial:
            row.dose_given_mg = done.dose_given_mg
    session.add(row)
    session.flush()
    session.add_all(rate_event_row(row.id, e, e.reason) for e in body.rate_events)
    session.add_all(
        premedication_row(row.id, p, amount)
        for p, amount in zip(body.premedications, premed_doses, strict=True)
    )
    limits = entry_limits(session, ctx.kb)
    session.add_all(vital_sign_row(limits, row.id, v)[0] for v in body.vital_signs)
    session.add_all(reaction_row(row.id, r) for r in body.reactions)
    if body.appointment_id is not None:
        appointment = repo.get_or_raise(session, Appointment, body.appointment_id, "appointment")
        if appointment.patient_id != patient.id:
            raise InvalidInput("the appointment belongs to another patient")
        appointment.status = "completed"
    consequences = apply_reaction_consequences(
        session, ctx, plan, grade, body.started_at.date(), row.id
    )
    audit.record(session, ctx, "create", "Administration", row.id)
    refresh_patient(session, ctx.kb, patient, ctx.today)
    return {
        "id": row.id,
        "patient_id": patient.id,
        "plan_id": plan.id,
        "planned_dose_id": row.planned_dose_id,
        "agent": row.agent,
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "max_reaction_grade": grade,
        "outcome": row.outcome,
        "dose_given_mg": row.dose_given_mg,
        "check_id": check_row.id if check_row else None,
        "consequences": consequences,
    }


def apply_reaction_consequences(
    session: Session,
    ctx: ServiceContext,
    plan: TreatmentPlan,
    grade: int,
    day: date,
    administration_id: int | None = None,
) -> list[str]:
    """What a reaction of ``grade`` changes in the plan, applied; returns what changed.

    Grade 3 or higher withdraws the shorter protocol; grade 4 or 5 holds the plan pending a
    prescriber's review (every later dose is held; the prescriber confirms the permanent
    discontinuation or decides otherwise). The calendar is re-synchronised first, as the
    doses given may have changed.
    """
    consequences = []
    if grade >= 3 and plan.protocol == "shorter":
        plan.protocol = "standard"
        consequences.append(f"grade {grade} reaction: the shorter protocol is no longer offered")
    session.flush()
    sync_calendar(session, ctx, plan)
    if grade >= 4 and plan.status in ("active", "paused"):
        consequences.append(hold_for_review(session, ctx, plan, administration_id, grade, day))
    return consequences


def _corrections_json(rows: Sequence[Correction]) -> list[dict[str, Any]]:
    return [
        {
            "id": c.id,
            "action": c.action,
            "reason": c.reason,
            "previous": c.previous,
            "by": c.username,
            "at": c.at.isoformat(timespec="seconds") if c.at else None,
        }
        for c in rows
    ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def administration_json(
    session: Session, ctx: ServiceContext, row: Administration
) -> dict[str, Any]:
    """An administration with every documented entry (those entered in error too, marked),
    each with its corrections."""
    details = repo.administration_details(session, row.id)
    fixes = {
        kind: repo.corrections_of(session, kind, [r.id for r in rows])
        for kind, rows in (
            ("rate_event", details["rate_events"]),
            ("premedication", details["premedications"]),
            ("vital_sign", details["vital_signs"]),
            ("reaction", details["reactions"]),
        )
    }
    own = repo.corrections_of(session, "administration", [row.id]).get(row.id, [])
    plan = session.get(TreatmentPlan, row.plan_id) if row.plan_id else None
    profile = plan.profile if plan is not None else "us"

    def premed_notes(p: PremedicationGiven) -> list[dict[str, str]]:
        if p.dose_mg is None:
            return []
        found = premedication_findings(ctx.kb, row.agent, profile, p.drug, p.dose_mg)  # type: ignore[arg-type]
        return [
            {"severity": f.severity, "rule": f.rule, "message": f.message, "source": f.source}
            for f in found
            if not f.rule.startswith("provenance.")
        ]

    return {
        "id": row.id,
        "patient_id": row.patient_id,
        "plan_id": row.plan_id,
        "planned_dose_id": row.planned_dose_id,
        "appointment_id": row.appointment_id,
        "agent": row.agent,
        "protocol": row.protocol,
        "dose_mg": row.dose_mg,
        "dose_given_mg": row.dose_given_mg,
        "volume_ml": row.volume_ml,
        "volume_infused_ml": row.volume_infused_ml,
        "completion_reason": row.completion_reason,
        "started_at": _iso(row.started_at),
        "ended_at": _iso(row.ended_at),
        "observation_until": _iso(row.observation_until),
        "max_reaction_grade": row.max_reaction_grade,
        "outcome": row.outcome,
        "record_status": row.record_status,
        "corrections": _corrections_json(own),
        "rate_events": [
            {
                "id": e.id,
                "minute": e.minute,
                "rate_ml_h": e.rate_ml_per_h,
                "kind": e.kind,
                "reason": e.reason,
                "record_status": e.record_status,
                "corrections": _corrections_json(fixes["rate_event"].get(e.id, [])),
            }
            for e in details["rate_events"]
        ],
        "premedications": [
            {
                "id": p.id,
                "drug": p.drug,
                "dose": p.dose,
                "dose_mg": p.dose_mg,
                "route": p.route,
                "given_at": _iso(p.given_at),
                "notes": premed_notes(p) if p.record_status != "entered_in_error" else [],
                "record_status": p.record_status,
                "corrections": _corrections_json(fixes["premedication"].get(p.id, [])),
            }
            for p in details["premedications"]
        ],
        "vital_signs": [
            {
                "id": v.id,
                "kind": v.kind,
                "value": v.value,
                "unit": v.unit,
                "unit_shown": shown_unit(v.unit),
                "flag": v.flag,
                "taken_at": v.taken_at.isoformat(),
                "record_status": v.record_status,
                "corrections": _corrections_json(fixes["vital_sign"].get(v.id, [])),
            }
            for v in details["vital_signs"]
        ],
        "reactions": [
            {
                "id": r.id,
                "onset_minute": r.onset_minute,
                "grade": r.grade,
                "resume_minute": r.resume_minute,
                "actions": r.actions,
                "outcome": r.outcome,
                "record_status": r.record_status,
                "corrections": _corrections_json(fixes["reaction"].get(r.id, [])),
            }
            for r in details["reactions"]
        ],
    }


def get_administration(
    session: Session, ctx: ServiceContext, administration_id: int
) -> dict[str, Any]:
    """An administration with its rate events, premedication, vital signs and reactions."""
    require(ctx.actor, "patients.read")
    row = repo.get_or_raise(session, Administration, administration_id, "administration")
    audit.record(session, ctx, "read", "Administration", row.id)
    return administration_json(session, ctx, row)
