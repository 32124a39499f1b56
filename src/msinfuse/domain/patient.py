"""The patient state the clinical engines read: frozen values, no I/O.

The edge schema (``msinfuse.services.patient_state``) parses and validates the documented
JSON format into these values; the record services build them from the database.
Everything that may be unknown is ``None``: the engines turn missing data into findings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Sex = Literal["female", "male", "other"]
LabValue = str | float


@dataclass(frozen=True, slots=True)
class Lab:
    """A lab result: a controlled test code, a value (number or word), its date.

    ``flag`` is the reporting laboratory's interpretation (``normal``, ``abnormal``,
    ``high``, ``low``) when given.
    """

    test: str
    value: LabValue
    date: date
    unit: str | None = None
    flag: Literal["normal", "abnormal", "high", "low"] | None = None

    @property
    def text(self) -> str:
        """The value as lower-case text (for qualitative results)."""
        return str(self.value).strip().lower()

    @property
    def number(self) -> float | None:
        """The value as a number, or ``None`` for qualitative results."""
        if isinstance(self.value, int | float):
            return float(self.value)
        try:
            return float(str(self.value))
        except ValueError:
            return None

    @property
    def abnormal(self) -> bool:
        """True when the laboratory flagged the result outside its reference range."""
        return self.flag in ("abnormal", "high", "low")


@dataclass(frozen=True, slots=True)
class Vaccination:
    """A vaccine given."""

    vaccine: str
    live: bool
    date: date


@dataclass(frozen=True, slots=True)
class Condition:
    """A condition with its onset and (when over) resolution date."""

    condition: str
    onset: date | None = None
    resolved: date | None = None

    def active_on(self, day: date) -> bool:
        """Whether the condition is present on ``day``."""
        started = self.onset is None or self.onset <= day
        return started and (self.resolved is None or self.resolved > day)


@dataclass(frozen=True, slots=True)
class Therapy:
    """A disease-modifying or immunosuppressive therapy, past or current."""

    agent: str
    start: date | None = None
    end: date | None = None
    immunosuppressant: bool = False

    def active_on(self, day: date) -> bool:
        """Whether the therapy is ongoing on ``day``."""
        started = self.start is None or self.start <= day
        return started and (self.end is None or self.end >= day)


@dataclass(frozen=True, slots=True)
class Administration:
    """An infusion given: agent, date, dose and the highest CTCAE reaction grade (0 none)."""

    agent: str
    date: date
    dose_mg: float | None = None
    reaction_grade: int = 0
    infusion_minutes: float | None = None


@dataclass(frozen=True, slots=True)
class Authorization:
    """A programme authorization (TOUCH, LEMTRADA REMS...)."""

    program: str
    date: date


@dataclass(frozen=True, slots=True)
class Procedure:
    """A procedure done: MRI, plasma exchange, IVIG, skin exam, ECG, evaluation..."""

    procedure: str
    date: date


@dataclass(frozen=True, slots=True)
class PlanRef:
    """The regimen a patient is on for an agent (defaults to the agent's default regimen)."""

    agent: str
    regimen: str | None = None
    start: date | None = None
    stopped: date | None = None


@dataclass(frozen=True, slots=True)
class PatientState:
    """Everything the clinical engines may look at for one patient."""

    id: str
    birth_date: date | None = None
    sex: Sex | None = None
    weight_kg: float | None = None
    height_cm: float | None = None
    ms_course: str | None = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    childbearing_potential: bool | None = None
    labs: tuple[Lab, ...] = ()
    vaccinations: tuple[Vaccination, ...] = ()
    conditions: tuple[Condition, ...] = ()
    therapies: tuple[Therapy, ...] = ()
    administrations: tuple[Administration, ...] = ()
    authorizations: tuple[Authorization, ...] = ()
    procedures: tuple[Procedure, ...] = ()
    plans: tuple[PlanRef, ...] = ()
    prior_cumulative_mg_per_m2: dict[str, float] = field(default_factory=dict)

    # ------------------------------------------------------------------ queries
    def age_on(self, day: date) -> int | None:
        """Age in whole years on ``day``, or ``None`` without a birth date."""
        if self.birth_date is None:
            return None
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    def labs_of(self, test: str, on_or_before: date) -> tuple[Lab, ...]:
        """Results of ``test`` up to ``on_or_before``, newest first (on one day, the one
        recorded last comes first)."""
        found = [
            (lab.date, index, lab)
            for index, lab in enumerate(self.labs)
            if lab.test == test and lab.date <= on_or_before
        ]
        return tuple(lab for _, _, lab in sorted(found, key=lambda x: (x[0], x[1]), reverse=True))

    def latest_lab(self, test: str, on_or_before: date) -> Lab | None:
        """The newest result of ``test`` up to ``on_or_before``."""
        results = self.labs_of(test, on_or_before)
        return results[0] if results else None

    def administrations_of(
        self, agent: str, before: date | None = None
    ) -> tuple[Administration, ...]:
        """Infusions of ``agent`` (strictly before ``before`` when given), oldest first."""
        found = [
            a
            for a in self.administrations
            if a.agent == agent and (before is None or a.date < before)
        ]
        return tuple(sorted(found, key=lambda a: a.date))

    def procedures_of(self, names: Iterable[str], on_or_before: date) -> tuple[Procedure, ...]:
        """Procedures with one of ``names`` up to ``on_or_before``, newest first."""
        wanted = set(names)
        found = [p for p in self.procedures if p.procedure in wanted and p.date <= on_or_before]
        return tuple(sorted(found, key=lambda p: p.date, reverse=True))

    def active_conditions(self, day: date) -> tuple[Condition, ...]:
        """Conditions present on ``day``."""
        return tuple(c for c in self.conditions if c.active_on(day))

    def has_condition(self, name: str, day: date) -> Condition | None:
        """The active condition called ``name`` on ``day``, if any."""
        return next((c for c in self.active_conditions(day) if c.condition == name), None)

    def had_condition(self, name: str, day: date) -> Condition | None:
        """The condition called ``name`` recorded at any time up to ``day``, resolved or not
        (an active record first, then the most recent onset); ``None`` when there is none."""
        found = [
            c
            for c in self.conditions
            if c.condition == name and (c.onset is None or c.onset <= day)
        ]
        if not found:
            return None
        active = [c for c in found if c.active_on(day)]
        if active:
            return active[0]
        return max(found, key=lambda c: (c.onset or date.min, c.resolved or date.min))

    def plan_for(self, agent: str) -> PlanRef | None:
        """The plan recorded for ``agent``, if any."""
        return next((p for p in self.plans if p.agent == agent), None)
