"""Where an infusion number falls in a regimen: which course, which day, which dose."""

from __future__ import annotations

from dataclasses import dataclass

from msinfuse.domain.knowledge.schema import BlockDose, DoseBlock, Regimen


@dataclass(frozen=True, slots=True)
class Position:
    """Infusion ``number`` of a plan is day ``course_day`` of course ``course`` (both 1-based)."""

    number: int
    course: int
    course_day: int
    block: DoseBlock
    dose: BlockDose


def regimen_block(regimen: Regimen, course_index: int) -> DoseBlock | None:
    """The dose block of course ``course_index`` (0-based), or ``None`` past the regimen."""
    if course_index == 0:
        return regimen.initial
    return regimen.repeat.block if regimen.repeat is not None else None


def infusion_position(regimen: Regimen, number: int) -> Position | None:
    """The course and course day of infusion ``number``; ``None`` when the regimen ends first."""
    if number < 1:
        return None
    remaining = number
    course_index = 0
    while True:
        block = regimen_block(regimen, course_index)
        if block is None:
            return None
        if remaining <= len(block.doses):
            return Position(number, course_index + 1, remaining, block, block.doses[remaining - 1])
        remaining -= len(block.doses)
        course_index += 1
