"""Dose calendars (clinical-decisions §2–§3).

A regimen is a first course (``initial``) followed by repeated courses (``repeat``). The
calendar walks the courses dose by dose:

- the first dose of a later course is planned ``interval`` after the anchor dose (the first
  or last dose of the previous course) *as actually given*; a late dose therefore resets the
  schedule, which never snaps back to the original grid;
- it is never planned earlier than ``min_spacing`` after the last dose actually given;
- doses inside a course follow their label day offsets from the previous dose;
- doses not yet given are ``overdue`` (planned date passed), ``due`` (inside the allowed
  window today) or ``planned``; an overdue dose is projected to be given today, and the
  doses after it are counted from that day;
- body-surface-area regimens (mitoxantrone) stop before the lifetime limit would be passed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Literal

from msinfuse.domain.bsa import bsa_mosteller, dose_for_bsa
from msinfuse.domain.calendar.positions import regimen_block
from msinfuse.domain.findings import Finding, sort_findings
from msinfuse.domain.knowledge.facts import Cited, Duration, Fact, ProfileId
from msinfuse.domain.knowledge.schema import Agent, DoseBlock, KnowledgeBase, Regimen
from msinfuse.domain.provenance import DECISION_SUPPORT, FactLog, LabelRef, label_refs
from msinfuse.errors import InvalidInput, NotFound

DoseStatus = Literal["given", "planned", "due", "overdue"]

# Doses given in mg are compared with the regimen dose within this tolerance (rounding of
# BSA doses to 0.1 mg and of vial volumes); a larger difference is reported.
_DOSE_TOLERANCE = 0.05
_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class GivenDose:
    """A dose actually given: its date and, when known, the dose in mg."""

    date: date
    dose_mg: float | None = None


@dataclass(frozen=True, slots=True)
class CalendarRequest:
    """What a dose calendar is asked for."""

    agent: str
    start: date
    today: date
    regimen: str | None = None
    profile: ProfileId = "us"
    given: tuple[GivenDose, ...] = ()
    count: int = 4
    height_cm: float | None = None
    weight_kg: float | None = None
    prior_cumulative_mg_per_m2: float = 0.0


@dataclass(frozen=True, slots=True)
class CalendarDose:
    """One dose of the calendar.

    ``date`` is the date given (for given doses) or the planned date (otherwise);
    ``planned`` is the date the schedule asked for; ``earliest`` the first allowed date.
    """

    number: int
    kind: str
    label: str
    course: int
    course_day: int
    date: dt.date
    planned: dt.date
    earliest: dt.date
    dose_mg: float
    dose_mg_per_m2: float | None
    status: DoseStatus


@dataclass(frozen=True, slots=True)
class Calendar:
    """A dose calendar with its findings and provenance."""

    agent: str
    agent_name: str
    regimen: str
    regimen_name: str
    profile: ProfileId
    off_label: bool
    start: date
    today: date
    doses: tuple[CalendarDose, ...]
    findings: tuple[Finding, ...]
    sources: tuple[str, ...]
    labels: tuple[LabelRef, ...]
    bsa_m2: float | None = None
    cumulative_mg_per_m2: float | None = None
    decision_support: str = DECISION_SUPPORT

    @property
    def next_dose(self) -> CalendarDose | None:
        """The first dose not yet given."""
        return next((d for d in self.doses if d.status != "given"), None)


def build_calendar(kb: KnowledgeBase, request: CalendarRequest) -> Calendar:
    """Build the dose calendar for ``request``."""
    agent = kb.agent(request.agent)
    if agent is None:
        raise NotFound(
            f"unknown agent {request.agent!r}; valid agents: {', '.join(sorted(kb.agents))}"
        )
    regimen = agent.default_regimen if request.regimen is None else agent.regimen(request.regimen)
    if regimen is None:
        valid = ", ".join(r.id for r in agent.regimens)
        raise NotFound(
            f"unknown regimen {request.regimen!r} for {agent.id}; valid regimens: {valid}"
        )
    if request.profile not in regimen.profiles:
        raise InvalidInput(
            f"the {regimen.id} regimen is not available under the {request.profile} profile"
        )
    if request.count < 0:
        raise InvalidInput("the number of future doses to show cannot be negative")
    given = request.given
    for earlier, later in pairwise(given):
        if later.date < earlier.date:
            raise InvalidInput("given doses must be listed in date order")
    if given and given[-1].date > request.today:
        raise InvalidInput("a dose cannot be recorded as given after today")
    if given and given[0].date < request.start:
        raise InvalidInput("the first given dose is before the start date")
    return _Walker(kb, agent, regimen, request).walk()


class _Walker:
    """One pass over the regimen's courses, matching given doses in order."""

    def __init__(self, kb: KnowledgeBase, agent: Agent, regimen: Regimen, request: CalendarRequest):
        self.kb = kb
        self.agent = agent
        self.regimen = regimen
        self.request = request
        self.profile = request.profile
        self.log = FactLog()
        self.findings: list[Finding] = []
        self.doses: list[CalendarDose] = []
        self.bsa: float | None = None
        self.cumulative: float | None = None
        self.limit: Cited[float] | None = None

    # ----------------------------------------------------------------- setup
    def _setup_bsa(self) -> None:
        if not self.regimen.uses_bsa:
            return
        r = self.request
        if r.height_cm is None or r.weight_kg is None:
            raise InvalidInput(
                f"{self.agent.id} is dosed by body-surface area: give height and weight"
            )
        self.bsa = bsa_mosteller(r.height_cm, r.weight_kg)
        if r.prior_cumulative_mg_per_m2 < 0:
            raise InvalidInput("the cumulative dose already received cannot be negative")
        self.cumulative = r.prior_cumulative_mg_per_m2
        self._prior_treatment_flag()
        if self.regimen.cumulative_limit_mg_per_m2 is not None:
            self.limit = self.regimen.cumulative_limit_mg_per_m2.get(self.profile)
            if self.limit is None:
                self.findings.append(
                    Finding(
                        "warn",
                        "calendar.limit-not-established",
                        f"The lifetime cumulative limit of {self.agent.name} is not established "
                        f"for the {self.profile.upper()} profile; verify against the label.",
                    )
                )
            else:
                self.log.use(
                    self.limit,
                    f"{self.agent.name} lifetime cumulative limit (mg/m2)",
                    self.limit.value,
                )

    def _prior_treatment_flag(self) -> None:
        """EU mitoxantrone must not be initiated after earlier mitoxantrone: a prior cumulative
        dose on record is that earlier treatment (clinical-decisions §5)."""
        if self.request.prior_cumulative_mg_per_m2 <= 0:
            return
        rule = next(
            (
                c
                for c in self.agent.contraindications
                if c.condition == f"prior_{self.agent.id}" and self.profile in c.profiles
            ),
            None,
        )
        if rule is None:
            return
        self.log.use(rule, f"{self.agent.name} after earlier treatment")
        prior = self.request.prior_cumulative_mg_per_m2
        if self.request.given:
            self.findings.append(
                Finding.from_fact(
                    "warn",
                    "calendar.prior-treatment",
                    f"A prior cumulative dose of {prior:g} mg/m2 is on record, so this course "
                    f"followed earlier {self.agent.name} treatment: {rule.text} Further doses need "
                    "a prescriber decision.",
                    rule,
                    {"prior_cumulative_mg_per_m2": prior},
                )
            )
            return
        self.findings.append(
            Finding.from_fact(
                "hold",
                "calendar.prior-treatment",
                f"A prior cumulative dose of {prior:g} mg/m2 is on record: {rule.text} The doses "
                "below are shown for planning only.",
                rule,
                {"prior_cumulative_mg_per_m2": prior},
            )
        )

    def _dose_mg(self, block: DoseBlock, index: int) -> tuple[float, float | None]:
        dose = block.doses[index]
        if dose.dose_mg is not None:
            return dose.dose_mg, None
        assert dose.dose_mg_per_m2 is not None
        assert self.bsa is not None
        return dose_for_bsa(dose.dose_mg_per_m2, self.bsa), dose.dose_mg_per_m2

    # ------------------------------------------------------------------ walk
    def walk(self) -> Calendar:
        self._setup_bsa()
        r = self.request
        if self.regimen.off_label and self.regimen.off_label_basis is not None:
            self.findings.append(
                Finding.from_fact(
                    "warn",
                    "calendar.off-label",
                    f"Off-label regimen: {self.regimen.off_label_basis.value}",
                    self.regimen.off_label_basis,
                )
            )
        given = list(r.given)
        gi = 0
        future = 0
        last: date | None = None
        prev_first: date | None = None
        prev_last: date | None = None
        course = 0
        stopped = False
        while not stopped:
            block = regimen_block(self.regimen, course)
            if block is None:
                break
            self.log.use(block, f"{self.agent.name} {block.label}")
            if course >= 1 and not self._course_allowed(course, gi < len(given)):
                break
            first_of_block: date | None = None
            for j in range(len(block.doses)):
                if gi >= len(given) and future >= r.count:
                    stopped = True
                    break
                planned, earliest = self._plan_slot(course, block, j, last, prev_first, prev_last)
                if planned is None or earliest is None:
                    stopped = True
                    break
                dose_mg, per_m2 = self._dose_mg(block, j)
                if gi < len(given):
                    actual = given[gi]
                    gi += 1
                    self._check_given(
                        len(self.doses) + 1, block, j, actual, planned, earliest, dose_mg, per_m2
                    )
                    status: DoseStatus = "given"
                    on = actual.date
                else:
                    if per_m2 is not None and not self._room_for(per_m2):
                        stopped = True
                        break
                    status, on = self._status(planned, earliest)
                    future += 1
                    if j == 0 and course >= 1 and block.kind == "course" and earliest > r.today:
                        self.findings.append(
                            Finding.from_fact(
                                "info",
                                "calendar.course-not-yet",
                                f"Course {course + 1} may not start before {earliest.isoformat()}.",
                                self._spacing_fact() or block,
                            )
                        )
                self.doses.append(
                    CalendarDose(
                        number=len(self.doses) + 1,
                        kind=block.kind,
                        label=block.label
                        if course == 0 or block.kind != "course"
                        else f"Course {course + 1}",
                        course=course + 1,
                        course_day=j + 1,
                        date=on if status == "given" else planned,
                        planned=planned,
                        earliest=earliest,
                        dose_mg=dose_mg,
                        dose_mg_per_m2=per_m2,
                        status=status,
                    )
                )
                if first_of_block is None:
                    first_of_block = on
                last = on
            if first_of_block is not None and last is not None:
                prev_first, prev_last = first_of_block, last
            course += 1
        if gi < len(given):
            raise InvalidInput(
                f"{len(given)} doses are recorded but the {self.regimen.id} regimen of "
                f"{self.agent.id} has only {gi}; choose another regimen"
            )
        self._further_course_note(course, prev_first, prev_last, stopped)
        self._overdue_note()
        return Calendar(
            agent=self.agent.id,
            agent_name=self.agent.name,
            regimen=self.regimen.id,
            regimen_name=self.regimen.name,
            profile=self.profile,
            off_label=self.regimen.off_label,
            start=r.start,
            today=r.today,
            doses=tuple(self.doses),
            findings=sort_findings([*self.findings, *self.log.weak_findings()]),
            sources=self.log.sources(),
            labels=label_refs(self.agent, self.profile),
            bsa_m2=self.bsa,
            cumulative_mg_per_m2=None if self.cumulative is None else round(self.cumulative, 1),
        )

    # ---------------------------------------------------------------- pieces
    def _interval(self) -> Cited[Duration] | None:
        assert self.regimen.repeat is not None
        return self.regimen.repeat.interval.get(self.profile)

    def _spacing_fact(self) -> Cited[Duration] | None:
        if self.regimen.repeat is None:
            return None
        return self.regimen.repeat.min_spacing.get(self.profile)

    def _course_allowed(self, course: int, has_given: bool) -> bool:
        """Whether course ``course`` (0-based, >= 1) is planned or recorded."""
        repeat = self.regimen.repeat
        assert repeat is not None
        cap = repeat.max_courses.get(self.profile) if repeat.max_courses is not None else None
        if repeat.max_courses is not None and cap is None:
            self.findings.append(
                Finding(
                    "warn",
                    "calendar.cap-not-established",
                    f"The maximum number of courses is not established for the "
                    f"{self.profile.upper()} profile.",
                )
            )
        if cap is not None:
            self.log.use(cap, f"{self.agent.name} maximum number of courses", cap.value)
            if cap.value is not None and course + 1 > cap.value:
                if has_given:
                    self.findings.append(
                        Finding.from_fact(
                            "hold",
                            "calendar.course-cap-exceeded",
                            f"Course {course + 1} was recorded, beyond the {cap.value}-course limit "
                            f"of the {self.profile.upper()} label.",
                            cap,
                        )
                    )
                    return True
                return False
        if repeat.scheduled is not None and course > repeat.scheduled:
            return has_given  # further courses only as needed: shown when recorded
        return True

    def _plan_slot(
        self,
        course: int,
        block: DoseBlock,
        j: int,
        last: date | None,
        prev_first: date | None,
        prev_last: date | None,
    ) -> tuple[date | None, date | None]:
        if j > 0:
            assert last is not None
            planned = last + timedelta(days=block.doses[j].day - block.doses[j - 1].day)
            return planned, planned
        if course == 0:
            return self.request.start, self.request.start
        repeat = self.regimen.repeat
        assert repeat is not None
        assert last is not None
        assert prev_first is not None
        assert prev_last is not None
        interval = self._interval()
        spacing = self._spacing_fact()
        if interval is None or spacing is None:
            self.findings.append(
                Finding(
                    "warn",
                    "calendar.interval-not-established",
                    f"The {self.agent.name} interval or minimum spacing is not established for the "
                    f"{self.profile.upper()} profile; later doses are not planned.",
                )
            )
            return None, None
        self.log.use(interval, f"{self.agent.name} interval", str(interval.value))
        self.log.use(spacing, f"{self.agent.name} minimum spacing", str(spacing.value))
        anchor = prev_first if repeat.anchor == "first_dose" else prev_last
        earliest = spacing.value.after(last)
        planned = max(interval.value.after(anchor), earliest)
        return planned, earliest

    def _status(self, planned: date, earliest: date) -> tuple[DoseStatus, date]:
        today = self.request.today
        if planned < today:
            return "overdue", today
        if earliest <= today:
            return "due", planned
        return "planned", planned

    def _room_for(self, per_m2: float) -> bool:
        if self.cumulative is None:
            return True
        if self.limit is not None and self.cumulative + per_m2 > self.limit.value + _EPS:
            self.findings.append(
                Finding.from_fact(
                    "hold",
                    "calendar.cumulative-limit",
                    f"Lifetime limit reached: another {per_m2:g} mg/m2 would bring the cumulative "
                    f"dose to {self.cumulative + per_m2:.1f} mg/m2, above the "
                    f"{self.limit.value:g} mg/m2 limit ({self.profile.upper()}). No further doses.",
                    self.limit,
                    {"cumulative_mg_per_m2": round(self.cumulative, 1)},
                )
            )
            return False
        self.cumulative += per_m2
        return True

    def _check_given(
        self,
        number: int,
        block: DoseBlock,
        j: int,
        actual: GivenDose,
        planned: date,
        earliest: date,
        dose_mg: float,
        per_m2: float | None,
    ) -> None:
        if actual.date < earliest:
            days = (earliest - actual.date).days
            fact = self._spacing_fact() if j == 0 and number > 1 else block
            what = (
                "the minimum spacing"
                if j == 0
                else f"label day {block.doses[j].day + 1} of the course"
            )
            self.findings.append(
                Finding.from_fact(
                    "warn",
                    "calendar.given-too-early",
                    f"Dose {number} was given {days} day(s) before the earliest allowed date "
                    f"{earliest.isoformat()} ({what}).",
                    fact or block,
                )
            )
        elif j == 0 and number > 1 and actual.date > planned:
            days = (actual.date - planned).days
            self.findings.append(
                Finding.from_fact(
                    "info",
                    "calendar.late-dose",
                    f"Dose {number} was given {days} day(s) after its planned date; later doses are "
                    "counted from the day it was given.",
                    self._interval() or block,
                )
            )
        if actual.dose_mg is not None and abs(actual.dose_mg - dose_mg) > _DOSE_TOLERANCE * dose_mg:
            self.findings.append(
                Finding.from_fact(
                    "warn",
                    "calendar.dose-differs",
                    f"Dose {number} was recorded as {actual.dose_mg:g} mg; the regimen dose is "
                    f"{dose_mg:g} mg.",
                    block,
                )
            )
        if self.cumulative is not None and self.bsa is not None:
            assert per_m2 is not None
            added = actual.dose_mg / self.bsa if actual.dose_mg is not None else per_m2
            self.cumulative += added
            if self.limit is not None and self.cumulative > self.limit.value + _EPS:
                self.findings.append(
                    Finding.from_fact(
                        "hold",
                        "calendar.cumulative-exceeded",
                        f"The recorded doses bring the lifetime cumulative dose to "
                        f"{self.cumulative:.1f} mg/m2, above the {self.limit.value:g} mg/m2 limit.",
                        self.limit,
                    )
                )

    def _further_course_note(
        self, course: int, prev_first: date | None, prev_last: date | None, stopped: bool
    ) -> None:
        repeat = self.regimen.repeat
        if stopped or repeat is None or repeat.scheduled is None or prev_last is None:
            return
        cap = repeat.max_courses.get(self.profile) if repeat.max_courses is not None else None
        if cap is not None and cap.value is not None and course >= cap.value:
            self.findings.append(
                Finding.from_fact(
                    "info",
                    "calendar.course-cap-reached",
                    f"All {cap.value} courses allowed by the {self.profile.upper()} label are "
                    "planned or given; no further course.",
                    cap,
                )
            )
            return
        interval = self._interval()
        spacing = self._spacing_fact()
        if interval is None or spacing is None or prev_first is None:
            return
        anchor = prev_first if repeat.anchor == "first_dose" else prev_last
        earliest = max(interval.value.after(anchor), spacing.value.after(prev_last))
        self.findings.append(
            Finding.from_fact(
                "info",
                "calendar.further-course",
                f"A further course, only if needed, may start from {earliest.isoformat()} "
                f"({interval.value} after the last dose of course {course}).",
                interval,
            )
        )

    def _overdue_note(self) -> None:
        overdue = next((d for d in self.doses if d.status == "overdue"), None)
        if overdue is None:
            return
        days = (self.request.today - overdue.planned).days
        fact: Fact = (self._interval() if self.regimen.repeat else None) or self.regimen.initial
        self.findings.append(
            Finding.from_fact(
                "warn",
                "calendar.overdue",
                f"Dose {overdue.number} was planned for {overdue.planned.isoformat()} and is "
                f"{days} day(s) overdue: give it as soon as possible. Later doses are counted "
                "from the day it is actually given (shown here as if given today).",
                fact,
            )
        )
