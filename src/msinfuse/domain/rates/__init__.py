"""Infusion rate plans, pump programs, chair time and reaction re-planning."""

from msinfuse.domain.rates.planner import (
    PlannedPremedication,
    PumpLine,
    RatePlan,
    RateRequest,
    RateStep,
    ReactionEvent,
    Timeline,
    plan_infusion,
    protocol_segments,
    replan_after_reaction,
)

__all__ = [
    "PlannedPremedication",
    "PumpLine",
    "RatePlan",
    "RateRequest",
    "RateStep",
    "ReactionEvent",
    "Timeline",
    "plan_infusion",
    "protocol_segments",
    "replan_after_reaction",
]
