"""The context a pre-infusion check rule reads: patient, agent, date, profile, course position."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

from msinfuse.domain.calendar import infusion_position
from msinfuse.domain.calendar.positions import Position
from msinfuse.domain.knowledge.facts import Fact, ProfileId
from msinfuse.domain.knowledge.schema import Agent, KnowledgeBase, Regimen
from msinfuse.domain.patient import Administration, PatientState
from msinfuse.domain.provenance import FactLog


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """A pre-infusion check: which agent, on which date, under which label profile.

    ``protocol`` is the rate protocol the nurse intends to run (``standard`` or ``shorter``);
    ``planned_infusion_minutes`` the planned duration when it differs from the label plan.
    """

    agent: str
    date: date
    profile: ProfileId = "us"
    protocol: str = "standard"
    planned_infusion_minutes: float | None = None


@dataclass
class CheckContext:
    """Everything a rule may look at, computed once per check."""

    kb: KnowledgeBase
    agent: Agent
    regimen: Regimen
    state: PatientState
    request: CheckRequest
    log: FactLog = field(default_factory=FactLog)

    @property
    def date(self) -> date:
        """The date of the planned dose."""
        return self.request.date

    @property
    def profile(self) -> ProfileId:
        """The label profile."""
        return self.request.profile

    def use(self, fact: Fact, what: str, value: object | None = None) -> None:
        """Record a fact the check relied on."""
        self.log.use(fact, what, value)

    @cached_property
    def given(self) -> tuple[Administration, ...]:
        """Doses of this agent in the current plan given before the check date, oldest first.

        For a regimen without repeats (a relapse course), only the current course counts:
        the doses on consecutive days up to the day before.
        """
        all_given = self.state.administrations_of(self.agent.id, before=self.date)
        plan = self.state.plan_for(self.agent.id)
        if plan is not None and plan.start is not None:
            all_given = tuple(a for a in all_given if a.date >= plan.start)
        if self.regimen.repeat is not None:
            return all_given
        course: list[Administration] = []
        expected = self.date - timedelta(days=1)
        for dose in reversed(all_given):
            if dose.date != expected:
                break
            course.insert(0, dose)
            expected -= timedelta(days=1)
        return tuple(course)

    @property
    def ever_given(self) -> tuple[Administration, ...]:
        """Every dose of this agent before the check date, in any plan."""
        return self.state.administrations_of(self.agent.id, before=self.date)

    @property
    def infusion_number(self) -> int:
        """The number of the planned infusion in the current plan (1 = first)."""
        return len(self.given) + 1

    @cached_property
    def position(self) -> Position | None:
        """Course and day of the planned infusion, or ``None`` past the regimen."""
        return infusion_position(self.regimen, self.infusion_number)

    @property
    def is_first_dose(self) -> bool:
        """True when the patient has never had this agent."""
        return not self.ever_given

    @property
    def is_course_start(self) -> bool:
        """True for the first dose of a course (including the very first dose)."""
        return self.position is not None and self.position.course_day == 1

    @property
    def is_later_course(self) -> bool:
        """True for the first dose of course 2 or later."""
        return self.is_course_start and self.position is not None and self.position.course > 1
