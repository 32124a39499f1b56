"""Infusion rate plans, pump programs, chair time and reaction re-planning.

Everything here is driven by the knowledge base: the rate protocol (explicit steps or an
escalation), the bag, the premedications, the observation rules and the reaction actions.
No clinical number lives in this module (clinical-decisions §4).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

from msinfuse.domain.bsa import bsa_mosteller, dose_for_bsa
from msinfuse.domain.calendar.positions import infusion_position
from msinfuse.domain.findings import Finding, sort_findings
from msinfuse.domain.knowledge.facts import ProfileId
from msinfuse.domain.knowledge.schema import (
    Agent,
    KnowledgeBase,
    Premedication,
    RateProtocol,
    ReactionAction,
    Regimen,
)
from msinfuse.domain.provenance import DECISION_SUPPORT, FactLog, LabelRef, label_refs
from msinfuse.domain.rates.limits import check_bag
from msinfuse.errors import InvalidInput, NotFound

Protocol = str  # "standard" or "shorter"

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Segment:
    """A protocol segment: a rate in the protocol's unit, held for ``minutes`` (None: to empty)."""

    rate: float
    minutes: float | None


@dataclass(frozen=True, slots=True)
class RateStep:
    """One pump step of a plan.

    ``kind`` is ``protocol`` (a step of the label protocol), ``hold`` (a reduced rate after a
    reaction) or ``paused`` (infusion stopped). Protocol steps remember which protocol
    segment they run and how far into it they start; hold and paused steps remember where the
    protocol resumes after them, so a second reaction can be re-planned too.
    """

    start_min: float
    end_min: float
    rate_ml_per_h: float
    volume_ml: float
    rate_mg_per_h: float | None = None
    kind: str = "protocol"
    segment: int | None = None
    segment_offset_min: float = 0.0
    resume_segment: int | None = None
    resume_remaining_min: float | None = None

    @property
    def minutes(self) -> float:
        """Length of the step in minutes."""
        return self.end_min - self.start_min


@dataclass(frozen=True, slots=True)
class PlannedPremedication:
    """A premedication with its timing relative to the infusion start."""

    id: str
    drug: str
    dose: str | None
    route: str
    minutes_before_min: float | None
    minutes_before_max: float | None
    required: bool
    lead_minutes: float
    note: str | None
    source: str


@dataclass(frozen=True, slots=True)
class PumpLine:
    """A line of the pump program with clock times."""

    step: int
    start: str
    end: str
    rate_ml_per_h: float
    volume_ml: float
    cumulative_ml: float
    kind: str


@dataclass(frozen=True, slots=True)
class Timeline:
    """Clock times of a visit, when a start time was given."""

    arrival: str
    infusion_start: str
    infusion_end: str
    observation_end: str
    departure: str
    premedications: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ReactionEvent:
    """A reaction applied to a plan."""

    onset_min: float
    grade: int
    action: str
    resume_min: float | None
    rate_at_onset_ml_per_h: float


@dataclass(frozen=True, slots=True)
class RatePlan:
    """A complete infusion plan for one infusion of one patient."""

    agent: str
    agent_name: str
    profile: ProfileId
    regimen: str
    infusion: int
    course: int
    course_day: int
    protocol: Protocol
    protocol_id: str
    protocol_name: str
    label_duration_text: str | None
    rate_unit: str
    dose_mg: float | None
    volume_ml: float
    concentration_mg_per_ml: float | None
    steps: tuple[RateStep, ...]
    infusion_minutes: float
    volume_infused_ml: float
    premedications: tuple[PlannedPremedication, ...]
    premedication_lead_minutes: float
    observation_minutes: float
    setup_minutes: float
    disconnection_minutes: float
    chair_minutes: float
    segments: tuple[Segment, ...]
    reaction: ReactionEvent | None
    pump_program: tuple[PumpLine, ...]
    timeline: Timeline | None
    findings: tuple[Finding, ...]
    sources: tuple[str, ...]
    labels: tuple[LabelRef, ...]
    decision_support: str = DECISION_SUPPORT


@dataclass(frozen=True, slots=True)
class RateRequest:
    """What a rate plan is asked for.

    ``prior_reaction_grades`` holds the highest CTCAE grade of each earlier infusion of this
    agent (0 for none). ``start`` (clock time) adds a pump program with clock times.
    """

    agent: str
    infusion: int
    profile: ProfileId = "us"
    protocol: Protocol = "standard"
    regimen: str | None = None
    dose_mg: float | None = None
    volume_ml: float | None = None
    prior_reaction_grades: tuple[int, ...] = ()
    start: time | None = None
    height_cm: float | None = None
    weight_kg: float | None = None


# ---------------------------------------------------------------------------- protocol pieces


def protocol_segments(protocol: RateProtocol) -> tuple[Segment, ...]:
    """The protocol as segments in its own rate unit; the last one runs until the bag is empty."""
    if protocol.steps:
        return tuple(Segment(s.rate, s.minutes) for s in protocol.steps)
    esc = protocol.escalation
    assert esc is not None  # schema guarantees steps or escalation
    segments: list[Segment] = []
    rate = esc.start
    while rate < esc.maximum - _EPS:
        segments.append(Segment(rate, esc.every_minutes))
        rate = min(rate + esc.increment, esc.maximum)
    segments.append(Segment(esc.maximum, None))
    return tuple(segments)


def _to_ml_per_h(rate: float, unit: str, concentration: float) -> float:
    return rate / concentration if unit == "mg/h" else rate


def _run(
    queue: list[tuple[Segment, int | None, float, str]],
    volume_ml: float,
    start_min: float,
    unit: str,
    concentration: float,
    resume: tuple[int | None, float | None] = (None, None),
) -> list[RateStep]:
    """Run segments from ``start_min`` until ``volume_ml`` is infused.

    ``queue`` items are (segment, protocol segment index or None, offset into the segment,
    kind). The last segment is extended when the queue ends with volume left.
    """
    steps: list[RateStep] = []
    remaining = volume_ml
    now = start_min
    for position, (segment, index, offset, kind) in enumerate(queue):
        if remaining <= _EPS:
            break
        rate_ml = _to_ml_per_h(segment.rate, unit, concentration)
        time_to_empty = remaining * 60.0 / rate_ml
        if segment.minutes is None or position == len(queue) - 1:
            duration = time_to_empty  # the last segment runs until the bag is empty
        else:
            duration = min(segment.minutes, time_to_empty)
        volume = min(remaining, rate_ml * duration / 60.0)
        steps.append(
            RateStep(
                start_min=now,
                end_min=now + duration,
                rate_ml_per_h=rate_ml,
                volume_ml=volume,
                rate_mg_per_h=segment.rate if unit == "mg/h" else None,
                kind=kind,
                segment=index,
                segment_offset_min=offset,
                resume_segment=resume[0] if kind != "protocol" else None,
                resume_remaining_min=resume[1] if kind != "protocol" else None,
            )
        )
        remaining -= volume
        now += duration
    return steps


def _find_agent(kb: KnowledgeBase, agent_id: str) -> Agent:
    agent = kb.agent(agent_id)
    if agent is None:
        raise NotFound(f"unknown agent {agent_id!r}; valid agents: {', '.join(sorted(kb.agents))}")
    return agent


def _find_regimen(agent: Agent, regimen_id: str | None) -> Regimen:
    if regimen_id is None:
        return agent.default_regimen
    regimen = agent.regimen(regimen_id)
    if regimen is None:
        valid = ", ".join(r.id for r in agent.regimens)
        raise NotFound(f"unknown regimen {regimen_id!r} for {agent.id}; valid regimens: {valid}")
    return regimen


def _candidates(
    agent: Agent, profile: ProfileId, infusion: int, regimen: Regimen, course_day: int
) -> list[RateProtocol]:
    return [
        p
        for p in agent.rate_protocols
        if profile in p.profiles
        and p.infusions.contains(infusion)
        and (not p.regimens or regimen.id in p.regimens)
        and (not p.course_days or course_day in p.course_days)
    ]


def _regimen_dose(
    regimen: Regimen, infusion: int, height_cm: float | None, weight_kg: float | None
) -> float | None:
    position = infusion_position(regimen, infusion)
    if position is None:
        return None
    dose = position.dose
    if dose.dose_mg is not None:
        return dose.dose_mg
    if height_cm is None or weight_kg is None:
        return None
    assert dose.dose_mg_per_m2 is not None
    return dose_for_bsa(dose.dose_mg_per_m2, bsa_mosteller(height_cm, weight_kg))


# ------------------------------------------------------------------------------------- planning


def plan_infusion(kb: KnowledgeBase, request: RateRequest) -> RatePlan:
    """Plan one infusion: steps, premedication, observation, chair time and pump program."""
    if request.infusion < 1:
        raise InvalidInput("the infusion number starts at 1")
    if request.protocol not in ("standard", "shorter"):
        raise InvalidInput(f"unknown protocol {request.protocol!r}; valid: standard, shorter")
    agent = _find_agent(kb, request.agent)
    regimen = _find_regimen(agent, request.regimen)
    if not regimen.infusion:
        raise InvalidInput(f"the {regimen.id} regimen of {agent.id} is not an infusion")
    if request.profile not in regimen.profiles:
        raise InvalidInput(
            f"the {regimen.id} regimen is not available under the {request.profile} profile"
        )
    position = infusion_position(regimen, request.infusion)
    if position is None:
        raise InvalidInput(
            f"infusion {request.infusion} is beyond the {regimen.id} regimen of {agent.id}"
        )

    log = FactLog()
    findings: list[Finding] = []
    prior_max = max(request.prior_reaction_grades, default=0)

    candidates = _candidates(agent, request.profile, request.infusion, regimen, position.course_day)
    if not candidates:
        raise InvalidInput(
            f"no rate protocol of {agent.id} covers infusion {request.infusion} under the "
            f"{request.profile} profile"
        )
    standard = next((p for p in candidates if p.protocol == "standard"), candidates[0])
    protocol = standard
    if request.protocol == "shorter":
        shorter_all = [p for p in agent.rate_protocols if p.protocol == "shorter"]
        if not shorter_all:
            raise InvalidInput(f"{agent.id} has no shorter protocol; valid protocols: standard")
        shorter = next((p for p in candidates if p.protocol == "shorter"), None)
        reason = _shorter_refusal(shorter, shorter_all[0], prior_max)
        if reason is None and shorter is not None:
            protocol = shorter
        else:
            fact = shorter_all[0].eligibility[0] if shorter_all[0].eligibility else shorter_all[0]
            findings.append(
                Finding.from_fact(
                    "warn",
                    "rates.shorter-refused",
                    f"Shorter protocol refused: {reason}. The standard protocol is planned instead.",
                    fact,
                )
            )
    for fact in protocol.eligibility:
        log.use(fact, f"{protocol.name} eligibility")
    log.use(protocol, f"{agent.name} {protocol.name}")

    dose = _plan_dose(agent, regimen, protocol, request)
    volume, concentration = _plan_bag(kb, agent, protocol, dose, request.volume_ml, log)

    segments = protocol_segments(protocol)
    queue: list[tuple[Segment, int | None, float, str]] = [
        (s, i, 0.0, "protocol") for i, s in enumerate(segments)
    ]
    steps = _run(queue, volume, 0.0, protocol.rate_unit, concentration or 1.0)
    if dose is None:
        findings.append(
            Finding(
                "info",
                "rates.dose-by-bsa",
                f"The {agent.name} dose depends on body-surface area: give height and weight "
                "(or the dose) to show it. The timing does not depend on the dose.",
            )
        )

    premeds = _premedications(kb, agent, request.profile, position.course_day, log)
    lead = max((p.lead_minutes for p in premeds if p.required), default=0.0)
    observation = _observation_minutes(agent, request.profile, request.infusion, prior_max > 0, log)

    if prior_max >= 4:
        action = _reaction_action(agent, 4)
        findings.append(
            Finding.from_fact(
                "hold",
                "rates.discontinued",
                f"{agent.name} was discontinued after a grade {prior_max} reaction; do not infuse.",
                action if action is not None else agent.off_label_in_ms,
            )
        )
    if agent.off_label_in_ms.value:
        findings.append(
            Finding.from_fact(
                "warn",
                "rates.off-label",
                f"{agent.name} is off-label in MS.",
                agent.off_label_in_ms,
            )
        )
    plan = RatePlan(
        agent=agent.id,
        agent_name=agent.name,
        profile=request.profile,
        regimen=regimen.id,
        infusion=request.infusion,
        course=position.course,
        course_day=position.course_day,
        protocol=protocol.protocol,
        protocol_id=protocol.id,
        protocol_name=protocol.name,
        label_duration_text=protocol.label_duration_text,
        rate_unit=protocol.rate_unit,
        dose_mg=dose,
        volume_ml=volume,
        concentration_mg_per_ml=concentration,
        steps=tuple(steps),
        infusion_minutes=steps[-1].end_min,
        volume_infused_ml=sum(s.volume_ml for s in steps),
        premedications=premeds,
        premedication_lead_minutes=lead,
        observation_minutes=observation,
        setup_minutes=0.0,
        disconnection_minutes=0.0,
        chair_minutes=0.0,
        segments=segments,
        reaction=None,
        pump_program=(),
        timeline=None,
        findings=(),
        sources=(),
        labels=label_refs(agent, request.profile),
    )
    return _finish(kb, agent, protocol, plan, request.start, findings, log)


def _shorter_refusal(
    shorter: RateProtocol | None, any_shorter: RateProtocol, prior_max: int
) -> str | None:
    if shorter is None:
        first = any_shorter.infusions.first
        return f"it applies only from infusion {first} (maintenance doses)"
    if prior_max >= 3:
        return f"the patient had a grade {prior_max} reaction to an earlier infusion"
    return None


def _plan_dose(
    agent: Agent, regimen: Regimen, protocol: RateProtocol, request: RateRequest
) -> float | None:
    expected = _regimen_dose(regimen, request.infusion, request.height_cm, request.weight_kg)
    dose = request.dose_mg if request.dose_mg is not None else (protocol.dose_mg or expected)
    if dose is None:
        if protocol.bag_volume_ml is not None and protocol.rate_unit == "mL/h":
            return None  # BSA dose unknown; the fixed bag still gives the timing
        raise InvalidInput(
            f"{agent.id} is dosed by body-surface area: give the dose in mg, or height and weight"
        )
    if dose <= 0:
        raise InvalidInput("the dose must be positive")
    if protocol.dose_mg is not None and abs(dose - protocol.dose_mg) > _EPS:
        raise InvalidInput(
            f"a {dose:g} mg dose does not fit the {protocol.name} protocol "
            f"({protocol.dose_mg:g} mg)"
        )
    return dose


def _plan_bag(
    kb: KnowledgeBase,
    agent: Agent,
    protocol: RateProtocol,
    dose: float | None,
    volume_ml: float | None,
    log: FactLog,
) -> tuple[float, float | None]:
    if volume_ml is not None:
        check_bag(kb.limits, agent.id, agent.name, protocol, dose, volume_ml)
        clinic_range = kb.limits.bag_range(agent.id, protocol.id)
        if clinic_range is not None:
            log.use(
                clinic_range.volume_ml,
                f"{agent.name} accepted bag volume (mL)",
                "-".join(f"{v:g}" for v in clinic_range.volume_ml.value),
            )
        elif protocol.bag_volume_ml is not None:
            tolerance = kb.limits.bag
            log.use(
                protocol.bag_volume_ml,
                f"{agent.name} bag volume (mL)",
                protocol.bag_volume_ml.value,
            )
            log.use(
                tolerance.below_percent,
                "bag volume below the label (%)",
                tolerance.below_percent.value,
            )
            log.use(
                tolerance.above_percent,
                "bag volume above the label (%)",
                tolerance.above_percent.value,
            )
        volume = volume_ml
    elif protocol.bag_volume_ml is not None:
        volume = protocol.bag_volume_ml.value
        log.use(protocol.bag_volume_ml, f"{agent.name} bag volume (mL)", volume)
    else:
        assert protocol.default_concentration_mg_per_ml is not None
        assert dose is not None
        default = protocol.default_concentration_mg_per_ml
        log.use(default, f"{agent.name} default bag concentration (mg/mL)", default.value)
        volume = round(dose / default.value, 1)
    if dose is None:
        return volume, None
    concentration = dose / volume
    allowed = protocol.concentration_mg_per_ml
    if allowed is not None:
        log.use(
            allowed,
            f"{agent.name} allowed concentration (mg/mL)",
            f"{allowed.value[0]:g}-{allowed.value[1]:g}",
        )
        check_bag(kb.limits, agent.id, agent.name, protocol, dose, volume)
    return volume, concentration


def _premedications(
    kb: KnowledgeBase, agent: Agent, profile: ProfileId, course_day: int, log: FactLog
) -> tuple[PlannedPremedication, ...]:
    planned = []
    for premed in agent.premedications:
        if profile not in premed.profiles:
            continue
        if premed.course_days and course_day not in premed.course_days:
            continue
        log.use(premed, f"{agent.name} premedication {premed.drug}")
        lead = _premed_lead(kb, premed)
        dose = premed.dose_text or (
            f"{premed.dose_mg:g} mg" if premed.dose_mg is not None else None
        )
        planned.append(
            PlannedPremedication(
                id=premed.id,
                drug=premed.drug,
                dose=dose,
                route=premed.route,
                minutes_before_min=premed.minutes_before_min,
                minutes_before_max=premed.minutes_before_max,
                required=premed.required,
                lead_minutes=lead,
                note=premed.note,
                source=premed.citation_text(),
            )
        )
    herpes = _herpes_prophylaxis(agent, profile, course_day, log)
    if herpes is not None:
        planned.append(herpes)
    return tuple(planned)


def _herpes_prophylaxis(
    agent: Agent, profile: ProfileId, course_day: int, log: FactLog
) -> PlannedPremedication | None:
    """Antiviral prophylaxis starts on day 1 of each course (alemtuzumab): listed with the
    first infusion's premedication, with how long it continues under ``profile``."""
    prophylaxis = agent.herpes_prophylaxis
    if prophylaxis is None or course_day != 1:
        return None
    log.use(prophylaxis.start, f"{agent.name} herpes prophylaxis start")
    duration = prophylaxis.duration_after_course.get(profile)
    if duration is None:
        how_long = (
            "How long it continues after the course is not established for the "
            f"{profile.upper()} profile."
        )
    else:
        log.use(duration, f"{agent.name} herpes prophylaxis after the course", str(duration.value))
        how_long = f"Continue for at least {duration.value} after the course"
        cd4 = prophylaxis.or_until_cd4_at_least
        if cd4 is not None and profile == "us":
            log.use(cd4, f"{agent.name} herpes prophylaxis CD4 threshold", cd4.value)
            how_long += (
                f", or until the CD4+ count is at least {cd4.value:g} cells/uL, whichever is later"
            )
        how_long += "."
    return PlannedPremedication(
        id="herpes-prophylaxis",
        drug="oral anti-herpes prophylaxis (antiviral)",
        dose=None,
        route="oral",
        minutes_before_min=None,
        minutes_before_max=None,
        required=True,
        lead_minutes=0.0,
        note=f"{prophylaxis.start.value} {how_long}",
        source=prophylaxis.start.citation_text(),
    )


def _premed_lead(kb: KnowledgeBase, premed: Premedication) -> float:
    if premed.lead_from_protocol is not None:
        other_id, _, protocol_id = premed.lead_from_protocol.partition(":")
        other = kb.agents[other_id]
        protocol = next(p for p in other.rate_protocols if p.id == protocol_id)
        volume = protocol.bag_volume_ml.value if protocol.bag_volume_ml else None
        assert volume is not None
        steps = _run(
            [(s, i, 0.0, "protocol") for i, s in enumerate(protocol_segments(protocol))],
            volume,
            0.0,
            protocol.rate_unit,
            1.0,
        )
        return steps[-1].end_min
    return premed.minutes_before_min or 0.0


def _observation_minutes(
    agent: Agent, profile: ProfileId, infusion: int, after_reaction: bool, log: FactLog
) -> float:
    for rule in agent.observation:
        if profile in rule.profiles and rule.infusions.contains(infusion):
            if after_reaction and rule.after_reaction_minutes is not None:
                log.use(
                    rule.after_reaction_minutes,
                    f"{agent.name} observation after a reaction (min)",
                    rule.after_reaction_minutes.value,
                )
                return rule.after_reaction_minutes.value
            log.use(
                rule.minutes,
                f"{agent.name} observation after infusion {infusion} (min)",
                rule.minutes.value,
            )
            return rule.minutes.value
    raise InvalidInput(f"no observation rule of {agent.id} covers infusion {infusion} ({profile})")


def _reaction_action(agent: Agent, grade: int) -> ReactionAction | None:
    return next((a for a in agent.reaction_management if grade in a.grades), None)


def _clock(start: datetime, minutes: float) -> str:
    return (start + timedelta(minutes=minutes)).strftime("%H:%M")


def _finish(
    kb: KnowledgeBase,
    agent: Agent,
    protocol: RateProtocol,
    plan: RatePlan,
    start: time | None,
    findings: list[Finding],
    log: FactLog,
) -> RatePlan:
    """Add chair time, minimum-duration checks, pump program and provenance to a plan."""
    setup = kb.clinic.setup_minutes
    disconnect = kb.clinic.disconnection_minutes
    log.use(setup, "set-up allowance (min)", setup.value)
    log.use(disconnect, "disconnection allowance (min)", disconnect.value)
    infused = sum(s.volume_ml for s in plan.steps)
    infusion_minutes = plan.steps[-1].end_min if plan.steps else 0.0
    minimum = protocol.minimum_minutes
    if minimum is not None and infused >= plan.volume_ml - 1e-6:
        log.use(minimum, f"{agent.name} minimum infusion time (min)", minimum.value)
        if infusion_minutes < minimum.value - _EPS:
            findings.append(
                Finding.from_fact(
                    "hold",
                    "rates.too-fast",
                    f"This plan infuses in {infusion_minutes:.0f} minutes, faster than the "
                    f"{minimum.value:g}-minute minimum for {agent.name}.",
                    minimum,
                )
            )
    chair = (
        setup.value
        + plan.premedication_lead_minutes
        + infusion_minutes
        + plan.observation_minutes
        + disconnect.value
    )
    pump: tuple[PumpLine, ...] = ()
    timeline: Timeline | None = None
    if start is not None:
        origin = datetime.combine(datetime(2000, 1, 1).date(), start)
        cumulative = 0.0
        lines = []
        for number, step in enumerate(plan.steps, start=1):
            cumulative += step.volume_ml
            lines.append(
                PumpLine(
                    number,
                    _clock(origin, step.start_min),
                    _clock(origin, step.end_min),
                    step.rate_ml_per_h,
                    step.volume_ml,
                    cumulative,
                    step.kind,
                )
            )
        pump = tuple(lines)
        premed_times = tuple(
            (
                p.drug,
                _clock(
                    origin,
                    -(p.lead_minutes if p.minutes_before_max is None else p.minutes_before_max),
                ),
            )
            for p in plan.premedications
        )
        timeline = Timeline(
            arrival=_clock(origin, -(plan.premedication_lead_minutes + setup.value)),
            infusion_start=_clock(origin, 0),
            infusion_end=_clock(origin, infusion_minutes),
            observation_end=_clock(origin, infusion_minutes + plan.observation_minutes),
            departure=_clock(
                origin, infusion_minutes + plan.observation_minutes + disconnect.value
            ),
            premedications=premed_times,
        )
    return replace(
        plan,
        infusion_minutes=infusion_minutes,
        volume_infused_ml=infused,
        setup_minutes=setup.value,
        disconnection_minutes=disconnect.value,
        chair_minutes=chair,
        pump_program=pump,
        timeline=timeline,
        findings=sort_findings([*findings, *log.weak_findings()]),
        sources=log.sources(),
    )


# ------------------------------------------------------------------------------ re-planning


def _step_up_from(
    protocol: RateProtocol, segments: tuple[Segment, ...], reduced: float
) -> list[tuple[Segment, int | None, float, str]]:
    """After the hold, climb from the reduced rate: by the escalation's increment every
    interval up to its maximum, or through the protocol steps faster than the reduced rate."""
    esc = protocol.escalation
    if esc is not None:
        out: list[tuple[Segment, int | None, float, str]] = []
        rate = min(reduced + esc.increment, esc.maximum)
        while rate < esc.maximum - _EPS:
            out.append((Segment(rate, esc.every_minutes), None, 0.0, "protocol"))
            rate = min(rate + esc.increment, esc.maximum)
        out.append((Segment(esc.maximum, None), len(segments) - 1, 0.0, "protocol"))
        return out
    faster: list[tuple[Segment, int | None, float, str]] = [
        (s, i, 0.0, "protocol") for i, s in enumerate(segments) if s.rate > reduced + _EPS
    ]
    return faster or [(segments[-1], len(segments) - 1, 0.0, "protocol")]


def replan_after_reaction(
    kb: KnowledgeBase,
    plan: RatePlan,
    onset_min: float,
    grade: int,
    resume_min: float | None = None,
    start: time | None = None,
) -> RatePlan:
    """Re-plan the rest of the bag after an infusion reaction (clinical-decisions §4).

    - grade 1-2: the rate at onset is halved and held for at least the hold time, then the
      infusion continues as the clinic's ``reaction_resume`` policy says: back to the step
      that was running at onset and on along the protocol (``rate_at_onset``), or climbing
      from the reduced rate by the protocol's own steps (``step_up_from_reduced``);
    - grade 3: the infusion stops at onset and restarts at ``resume_min`` (once all symptoms
      resolved) at half the rate at onset, then steps up the same way;
    - grade 4-5: the infusion stops for good and the agent is discontinued.

    The bag volume never changes; only the time grows.
    """
    agent = _find_agent(kb, plan.agent)
    if grade < 1 or grade > 5:
        raise InvalidInput("the CTCAE grade must be between 1 and 5")
    if plan.reaction is not None and plan.reaction.grade >= 4:
        raise InvalidInput("this infusion was already stopped for good")
    if not plan.steps or onset_min < 0 or onset_min >= plan.steps[-1].end_min - _EPS:
        end = plan.steps[-1].end_min if plan.steps else 0.0
        raise InvalidInput(
            f"the reaction minute must be between 0 and the end of the infusion ({end:.2f})"
        )
    action = _reaction_action(agent, grade)
    if action is None:
        raise InvalidInput(f"no reaction rule of {agent.id} covers grade {grade}")
    protocol = next(p for p in agent.rate_protocols if p.id == plan.protocol_id)
    log = FactLog()
    log.use(action, f"{agent.name} grade {grade} reaction rule")

    index = next(i for i, s in enumerate(plan.steps) if s.start_min <= onset_min < s.end_min)
    running = plan.steps[index]
    done = list(plan.steps[:index])
    elapsed = onset_min - running.start_min
    if elapsed > _EPS:
        done.append(
            replace(
                running,
                end_min=onset_min,
                volume_ml=running.rate_ml_per_h * elapsed / 60.0,
            )
        )
    infused = sum(s.volume_ml for s in done)
    remaining = plan.volume_ml - infused
    segments = plan.segments
    unit = plan.rate_unit
    onset_rate_unit = (
        running.rate_mg_per_h if unit == "mg/h" and running.rate_mg_per_h else running.rate_ml_per_h
    )

    # Where the protocol resumes after the reaction handling.
    if running.kind == "protocol" and running.segment is not None:
        seg_minutes = segments[running.segment].minutes
        resume_segment: int | None = running.segment
        resume_remaining = (
            None
            if seg_minutes is None
            else max(0.0, seg_minutes - running.segment_offset_min - elapsed)
        )
    else:
        resume_segment, resume_remaining = running.resume_segment, running.resume_remaining_min

    findings: list[Finding] = [
        f
        for f in plan.findings
        if not f.rule.startswith("provenance.") and f.rule != "rates.too-fast"
    ]
    steps = list(done)
    now = onset_min
    if action.action == "discontinue":
        findings.append(
            Finding.from_fact(
                "hold",
                "rates.discontinue",
                f"Grade {grade} reaction at minute {onset_min:g}: stop the infusion and discontinue "
                f"{agent.name} permanently. {action.text}",
                action,
            )
        )
        contraindication = next(
            (c for c in agent.contraindications if c.condition == "life_threatening_irr"), None
        )
        if contraindication is not None:
            findings.append(
                Finding.from_fact(
                    "hold",
                    "rates.contraindicated",
                    f"{agent.name} is now contraindicated: {contraindication.text}",
                    contraindication,
                )
            )
        resume_at = None
    else:
        if action.action == "stop_restart":
            if resume_min is None:
                raise InvalidInput(
                    "a grade 3 reaction stops the infusion: give the minute it resumes (--resume-min)"
                )
            if resume_min < onset_min:
                raise InvalidInput("the infusion cannot resume before the reaction started")
            if resume_min > onset_min:
                steps.append(
                    RateStep(
                        onset_min,
                        resume_min,
                        0.0,
                        0.0,
                        0.0 if unit == "mg/h" else None,
                        "paused",
                        resume_segment=resume_segment,
                        resume_remaining_min=resume_remaining,
                    )
                )
            now = resume_min
        elif resume_min is not None:
            raise InvalidInput("--resume-min applies only to grade 3 reactions")
        factor = action.rate_factor or 0.5
        hold = action.hold_minutes
        reduced = onset_rate_unit * factor
        resume = kb.clinic.reaction_resume
        log.use(resume, "how the rate resumes after the reduced-rate hold", resume.value)
        queue: list[tuple[Segment, int | None, float, str]] = [
            (Segment(reduced, hold), None, 0.0, "hold")
        ]
        if resume.value == "step_up_from_reduced":
            queue.extend(_step_up_from(protocol, segments, reduced))
            resume_segment, resume_remaining = None, None
        elif resume_segment is not None:
            if resume_remaining is None or resume_remaining > _EPS:
                queue.append(
                    (
                        Segment(segments[resume_segment].rate, resume_remaining),
                        resume_segment,
                        (segments[resume_segment].minutes or 0.0) - (resume_remaining or 0.0),
                        "protocol",
                    )
                )
            queue.extend(
                (s, i, 0.0, "protocol") for i, s in enumerate(segments) if i > resume_segment
            )
        steps.extend(
            _run(
                queue,
                remaining,
                now,
                unit,
                plan.concentration_mg_per_ml or 1.0,
                (resume_segment, resume_remaining),
            )
        )
        resume_at = resume_min
        then = (
            "then climbs from the reduced rate by the protocol's own steps"
            if resume.value == "step_up_from_reduced"
            else f"then returns to the rate running at onset ({onset_rate_unit:g} {unit}) and "
            "carries on along the protocol"
        )
        findings.append(
            Finding.from_facts(
                "warn",
                "rates.reaction-replanned",
                f"Grade {grade} reaction at minute {onset_min:g}: {action.text} Re-planned: "
                f"{reduced:g} {unit} for at least {hold or 0:g} min, {then} "
                f"(clinic policy: {resume.value.replace('_', ' ')}).",
                [action, resume],
            )
        )
    reaction = ReactionEvent(onset_min, grade, action.action, resume_at, running.rate_ml_per_h)
    observation = _observation_minutes(agent, plan.profile, plan.infusion, True, log)
    replanned = replace(
        plan,
        steps=tuple(steps),
        reaction=reaction,
        observation_minutes=observation
        if action.action != "discontinue"
        else plan.observation_minutes,
    )
    return _finish(kb, agent, protocol, replanned, start, findings, log)
