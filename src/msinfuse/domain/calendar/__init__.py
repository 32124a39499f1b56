"""Dose calendars: planned, due and overdue doses from a regimen and the doses given."""

from msinfuse.domain.calendar.engine import (
    Calendar,
    CalendarDose,
    CalendarRequest,
    DoseStatus,
    GivenDose,
    build_calendar,
)
from msinfuse.domain.calendar.positions import Position, infusion_position, regimen_block

__all__ = [
    "Calendar",
    "CalendarDose",
    "CalendarRequest",
    "DoseStatus",
    "GivenDose",
    "Position",
    "build_calendar",
    "infusion_position",
    "regimen_block",
]
