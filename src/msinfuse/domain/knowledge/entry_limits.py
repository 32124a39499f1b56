"""The typed schema of ``data/limits.yaml``: what the infusion record accepts.

A documented entry (a bag, a pump rate, a premedication, a vital sign, the end of an
infusion) is checked against these limits by :mod:`msinfuse.domain.safety.limits`. Most of
them are clinic defaults (``status: policy``) that the labels leave open; each carries its
citation like every other fact.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, field_validator, model_validator

from msinfuse.domain.knowledge.facts import Cited, Frozen

VitalKind = Literal[
    "systolic", "diastolic", "heart_rate", "respiratory_rate", "temperature", "spo2", "weight"
]  # fmt: skip
VITAL_KINDS: tuple[str, ...] = get_args(VitalKind)


def _ordered_pair(value: tuple[float, float]) -> tuple[float, float]:
    if value[0] > value[1]:
        raise ValueError("a range is written [lowest, highest]")
    return value


class VitalSignRange(Frozen):
    """The limits of one vital sign, in the UCUM unit of its terminology entry.

    ``possible``: a value outside it cannot be a living adult's measurement (a typing or
    unit mistake) and is refused. ``usual``: a value outside it is stored and flagged
    abnormal (low or high) for the nurse to act on.
    """

    kind: VitalKind
    unit: str
    possible: Cited[tuple[float, float]]
    usual: Cited[tuple[float, float]] | None = None

    @model_validator(mode="after")
    def _usual_inside_possible(self) -> VitalSignRange:
        _ordered_pair(self.possible.value)
        if self.usual is not None:
            low, high = _ordered_pair(self.usual.value)
            if low < self.possible.value[0] or high > self.possible.value[1]:
                raise ValueError("the usual range must lie inside the possible range")
        return self


class PremedicationDose(Frozen):
    """The single-dose range (mg) accepted for a premedication drug, whatever the agent.

    ``names`` are lower-case words that identify the drug in a documented entry (generic
    and brand names).
    """

    drug: str
    names: tuple[str, ...] = Field(min_length=1)
    dose_mg: Cited[tuple[float, float]]

    @field_validator("names")
    @classmethod
    def _lower_case(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if any(n != n.lower() or not n for n in names):
            raise ValueError("drug names are written in lower case")
        return names

    @model_validator(mode="after")
    def _positive(self) -> PremedicationDose:
        low, _ = _ordered_pair(self.dose_mg.value)
        if low <= 0:
            raise ValueError("a premedication dose range starts above 0 mg")
        return self


class BagLimits(Frozen):
    """How far a documented bag may differ from the label's nominal final volume."""

    below_percent: Cited[float]
    above_percent: Cited[float]

    @model_validator(mode="after")
    def _sensible(self) -> BagLimits:
        if not 0 <= self.below_percent.value < 100 or self.above_percent.value < 0:
            raise ValueError("bag tolerances are percentages: below 0-99, above 0 or more")
        return self


class BagRange(Frozen):
    """The bag volumes a clinic accepts for one rate protocol, where its nominal volume is
    itself a clinic default that pharmacies commonly prepare otherwise (instead of the
    tolerance around the nominal volume)."""

    agent: str
    protocol: str
    volume_ml: Cited[tuple[float, float]]

    @model_validator(mode="after")
    def _positive(self) -> BagRange:
        low, _ = _ordered_pair(self.volume_ml.value)
        if low <= 0:
            raise ValueError("a bag volume range starts above 0 mL")
        return self


class CompletionLimits(Frozen):
    """When the end of an infusion needs a reason.

    Ending more than ``early_percent`` of the planned infusion time early, or with more than
    ``volume_left_percent`` of the bag not infused, needs a reason; the latter records a
    partial dose.
    """

    early_percent: Cited[float]
    volume_left_percent: Cited[float]


class EntryLimits(Frozen):
    """Everything ``data/limits.yaml`` holds."""

    bag: BagLimits
    bag_ranges: tuple[BagRange, ...] = ()
    completion: CompletionLimits
    vital_signs: tuple[VitalSignRange, ...] = Field(min_length=1)
    premedication_doses: tuple[PremedicationDose, ...] = ()

    @model_validator(mode="after")
    def _one_range_per_sign(self) -> EntryLimits:
        kinds = [v.kind for v in self.vital_signs]
        if sorted(kinds) != sorted(set(kinds)) or set(kinds) != set(VITAL_KINDS):
            raise ValueError(
                f"give exactly one range for each vital sign: {', '.join(VITAL_KINDS)}"
            )
        return self

    def bag_range(self, agent: str, protocol: str) -> BagRange | None:
        """The accepted bag volumes of one rate protocol, when the clinic sets them."""
        return next(
            (b for b in self.bag_ranges if b.agent == agent and b.protocol == protocol), None
        )

    def vital(self, kind: str) -> VitalSignRange | None:
        """The range of vital sign ``kind``."""
        return next((v for v in self.vital_signs if v.kind == kind), None)

    def premedication(self, drug: str) -> PremedicationDose | None:
        """The dose range of the premedication named in ``drug`` (free text), if known."""
        words = drug.lower()
        return next((p for p in self.premedication_doses if any(n in words for n in p.names)), None)
