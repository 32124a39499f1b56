"""Stateless engine use cases: dose calendars and rate plans, as JSON-ready data.

These run the pure engines on explicit inputs (no stored records); the record-backed
services build the same inputs from the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from msinfuse.domain.calendar import Calendar, CalendarRequest, build_calendar
from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.domain.provenance import LabelRef
from msinfuse.domain.rates import RatePlan, RateRequest, plan_infusion, replan_after_reaction
from msinfuse.services.knowledge import finding_json


def _labels(refs: tuple[LabelRef, ...]) -> list[dict[str, str]]:
    return [
        {"agent": r.agent, "document": r.document, "revision": r.revision, "status": r.status}
        for r in refs
    ]


def calendar_json(calendar: Calendar) -> dict[str, Any]:
    """A calendar as JSON (dates as YYYY-MM-DD)."""
    return {
        "agent": calendar.agent,
        "regimen": calendar.regimen,
        "regimen_name": calendar.regimen_name,
        "profile": calendar.profile,
        "off_label": calendar.off_label,
        "start": calendar.start.isoformat(),
        "today": calendar.today.isoformat(),
        "bsa_m2": calendar.bsa_m2,
        "cumulative_mg_per_m2": calendar.cumulative_mg_per_m2,
        "doses": [
            {
                "number": d.number,
                "kind": d.kind,
                "label": d.label,
                "course": d.course,
                "course_day": d.course_day,
                "date": d.date.isoformat(),
                "planned": d.planned.isoformat(),
                "earliest": d.earliest.isoformat(),
                "dose_mg": d.dose_mg,
                "dose_mg_per_m2": d.dose_mg_per_m2,
                "status": d.status,
            }
            for d in calendar.doses
        ],
        "findings": [finding_json(f) for f in calendar.findings],
        "sources": list(calendar.sources),
        "label_revisions": _labels(calendar.labels),
        "decision_support": calendar.decision_support,
    }


def dose_calendar(kb: KnowledgeBase, request: CalendarRequest) -> dict[str, Any]:
    """Build a dose calendar and return it as JSON-ready data."""
    return calendar_json(build_calendar(kb, request))


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def rate_plan_json(plan: RatePlan) -> dict[str, Any]:
    """A rate plan as JSON (minutes rounded to 2 decimals)."""
    return {
        "agent": plan.agent,
        "infusion": plan.infusion,
        "course": plan.course,
        "course_day": plan.course_day,
        "regimen": plan.regimen,
        "profile": plan.profile,
        "protocol": plan.protocol,
        "protocol_id": plan.protocol_id,
        "protocol_name": plan.protocol_name,
        "label_duration": plan.label_duration_text,
        "rate_unit": plan.rate_unit,
        "dose_mg": plan.dose_mg,
        "volume_ml": plan.volume_ml,
        "concentration_mg_per_ml": _r(plan.concentration_mg_per_ml),
        "steps": [
            {
                "start_min": _r(s.start_min),
                "end_min": _r(s.end_min),
                "rate_ml_h": _r(s.rate_ml_per_h),
                "rate_mg_h": _r(s.rate_mg_per_h),
                "volume_ml": _r(s.volume_ml),
                "kind": s.kind,
            }
            for s in plan.steps
        ],
        "infusion_min": _r(plan.infusion_minutes),
        "volume_infused_ml": _r(plan.volume_infused_ml),
        "observation_min": _r(plan.observation_minutes),
        "premedication": [
            {
                "drug": p.drug,
                "dose": p.dose,
                "route": p.route,
                "minutes_before_min": p.minutes_before_min,
                "minutes_before_max": p.minutes_before_max,
                "required": p.required,
                "lead_min": _r(p.lead_minutes),
                "note": p.note,
                "source": p.source,
            }
            for p in plan.premedications
        ],
        "premedication_lead_min": _r(plan.premedication_lead_minutes),
        "setup_min": _r(plan.setup_minutes),
        "disconnection_min": _r(plan.disconnection_minutes),
        "chair_min": _r(plan.chair_minutes),
        "reaction": None
        if plan.reaction is None
        else {
            "onset_min": plan.reaction.onset_min,
            "grade": plan.reaction.grade,
            "action": plan.reaction.action,
            "resume_min": plan.reaction.resume_min,
            "rate_at_onset_ml_h": _r(plan.reaction.rate_at_onset_ml_per_h),
        },
        "pump_program": [
            {
                "step": line.step,
                "start": line.start,
                "end": line.end,
                "rate_ml_h": _r(line.rate_ml_per_h),
                "volume_ml": _r(line.volume_ml),
                "cumulative_ml": _r(line.cumulative_ml),
                "kind": line.kind,
            }
            for line in plan.pump_program
        ],
        "timeline": None
        if plan.timeline is None
        else {
            "arrival": plan.timeline.arrival,
            "infusion_start": plan.timeline.infusion_start,
            "infusion_end": plan.timeline.infusion_end,
            "observation_end": plan.timeline.observation_end,
            "departure": plan.timeline.departure,
            "premedications": [{"drug": d, "at": t} for d, t in plan.timeline.premedications],
        },
        "findings": [finding_json(f) for f in plan.findings],
        "sources": list(plan.sources),
        "label_revisions": _labels(plan.labels),
        "decision_support": plan.decision_support,
    }


@dataclass(frozen=True, slots=True)
class ReactionInput:
    """A reaction to re-plan for: onset minute, CTCAE grade, and (grade 3) restart minute."""

    onset_min: float
    grade: int
    resume_min: float | None = None


def rate_plan(
    kb: KnowledgeBase, request: RateRequest, reaction: ReactionInput | None = None
) -> dict[str, Any]:
    """Plan an infusion (and re-plan it after a reaction) as JSON-ready data."""
    plan = plan_infusion(kb, request)
    if reaction is not None:
        plan = replan_after_reaction(
            kb, plan, reaction.onset_min, reaction.grade, reaction.resume_min, request.start
        )
    return rate_plan_json(plan)


__all__ = ["ReactionInput", "calendar_json", "dose_calendar", "rate_plan", "rate_plan_json"]
