"""Limits on every documented entry of an infusion visit, like a smart pump's dose-error
reduction library.

Each check takes the knowledge base's facts (``limits.yaml``, the rate protocol, the
premedications) and the entry, and either refuses it with :class:`InvalidInput` naming the
field at fault, in plain words, or accepts it and returns what the record must show
(abnormal flags, a soft limit passed with its reason, a partial dose) as typed values with
:class:`Finding` s that cite their source:

- a bag must fit the label's nominal volume (within the clinic's tolerance) or the
  allowed concentration range, so the pump rates deliver the drug as the protocol says;
- a pump rate above the protocol's maximum is refused (hard limit); a rate above the step
  in force needs a reason (soft limit);
- a premedication dose must be positive and inside the drug's accepted range;
- a vital sign must be physiologically possible; outside its usual range it is flagged;
- every time lies inside the visit and never in the future; a reaction starts inside the
  infusion;
- the end of an infusion states the volume infused; ending well early, or with volume
  left, needs a reason and records a partial dose.

Pure: the clock (``now``, elapsed minutes) is an argument.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from msinfuse.domain.findings import Finding, sort_findings
from msinfuse.domain.knowledge.entry_limits import EntryLimits, VitalSignRange
from msinfuse.domain.knowledge.facts import Fact, ProfileId
from msinfuse.domain.knowledge.schema import KnowledgeBase, RateProtocol
from msinfuse.errors import InvalidInput

if TYPE_CHECKING:
    from msinfuse.domain.rates.planner import RatePlan

#: Half the 0.1 mL/h resolution of a pump display: a rate within this of a limit is at it.
RATE_ROUNDING_ML_PER_H = 0.05
#: Slack for clocks that disagree by a few seconds (an entry "now" is never in the future).
CLOCK_SLACK = timedelta(minutes=1)
_EPS = 1e-6

RateKind = Literal["start", "change", "pause", "resume", "stop"]


def _n(value: float, digits: int = 1) -> str:
    """A number for a message: no trailing zeros, thousands separated."""
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _weak_note(facts: tuple[Fact, ...]) -> str:
    """A sentence saying the limit rests on a policy or unconfirmed value (or nothing)."""
    weak = sorted({f.status for f in facts if f.is_weak})
    if not weak:
        return ""
    words = " and ".join("a clinic policy" if w == "policy" else "an unconfirmed" for w in weak)
    return f" This limit rests on {words} value."


def _finite(value: float, field: str, what: str) -> float:
    if not math.isfinite(value):
        raise InvalidInput(f"enter {what} as a number", field=field)
    return value


# ------------------------------------------------------------------------------------- bags


@dataclass(frozen=True, slots=True)
class BagRange:
    """The bag volumes (and so concentrations) a protocol's rates are valid for."""

    nominal_ml: float | None
    low_ml: float
    high_ml: float
    dose_mg: float | None
    low_mg_per_ml: float | None
    high_mg_per_ml: float | None
    basis: tuple[Fact, ...]

    @property
    def source(self) -> str:
        """The citations the range rests on."""
        return "; ".join(f.citation_text() for f in self.basis)


def bag_range(
    limits: EntryLimits, agent_id: str, protocol: RateProtocol, dose_mg: float | None
) -> BagRange:
    """The bag volumes a protocol accepts for ``dose_mg``: the label's nominal final volume
    within the clinic's tolerance (or the clinic's range for the protocol), and/or the
    allowed concentration range."""
    low, high = 0.0, math.inf
    nominal = None
    basis: list[Fact] = []
    clinic_range = limits.bag_range(agent_id, protocol.id)
    if clinic_range is not None:
        low, high = clinic_range.volume_ml.value
        nominal = protocol.bag_volume_ml.value if protocol.bag_volume_ml is not None else None
        basis.append(clinic_range.volume_ml)
    elif protocol.bag_volume_ml is not None:
        nominal = protocol.bag_volume_ml.value
        low = nominal * (1 - limits.bag.below_percent.value / 100)
        high = nominal * (1 + limits.bag.above_percent.value / 100)
        basis += [protocol.bag_volume_ml, limits.bag.below_percent, limits.bag.above_percent]
    allowed = protocol.concentration_mg_per_ml
    if allowed is not None and dose_mg is not None:
        low = max(low, dose_mg / allowed.value[1])
        high = min(high, dose_mg / allowed.value[0])
        basis.append(allowed)
    if protocol.bag_volume_ml is None and allowed is None:  # pragma: no cover - schema
        raise InvalidInput("the protocol gives neither a bag volume nor a concentration")
    return BagRange(
        nominal_ml=nominal,
        low_ml=low,
        high_ml=high,
        dose_mg=dose_mg,
        low_mg_per_ml=dose_mg / high if dose_mg is not None and high < math.inf else None,
        high_mg_per_ml=dose_mg / low if dose_mg is not None and low > 0 else None,
        basis=tuple(basis),
    )


def check_bag(
    limits: EntryLimits,
    agent_id: str,
    agent_name: str,
    protocol: RateProtocol,
    dose_mg: float | None,
    volume_ml: float,
) -> BagRange:
    """Refuse a bag the protocol's rates are not valid for (``volume_ml`` at fault)."""
    _finite(volume_ml, "volume_ml", "the bag volume in mL")
    if volume_ml <= 0:
        raise InvalidInput("the bag volume must be more than 0 mL", field="volume_ml")
    found = bag_range(limits, agent_id, protocol, dose_mg)
    if found.low_ml - _EPS <= volume_ml <= found.high_ml + _EPS:
        return found
    name = agent_name.lower()
    what = f"{_n(dose_mg)} mg {name}" if dose_mg is not None else name
    details = []
    if found.low_mg_per_ml is not None and found.high_mg_per_ml is not None:
        details.append(f"about {_n(found.low_mg_per_ml, 2)}–{_n(found.high_mg_per_ml, 2)} mg/mL")
    if found.nominal_ml is not None and protocol.bag_volume_ml is not None:
        source = "label" if protocol.bag_volume_ml.status == "label" else "default"
        details.append(f"{source} {_n(found.nominal_ml)} mL")
    accepted = f"{_n(found.low_ml)}–{_n(found.high_ml)} mL" + (
        f" ({'; '.join(details)})" if details else ""
    )
    if volume_ml < found.low_ml:
        problem = (
            f"A {_n(volume_ml)} mL bag is too small for {what}: the pump rates are set for "
            f"{accepted}, so the drug would run faster than the protocol allows."
        )
    else:
        problem = f"A {_n(volume_ml)} mL bag is more than a bag of {what} holds: {accepted}."
    raise InvalidInput(problem + _weak_note(found.basis), field="volume_ml")


# ------------------------------------------------------------------------------------ rates


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The limits in force at a minute of an infusion: the running step and the maximum."""

    minute: float
    step_number: int
    step_ml_per_h: float
    step_kind: str
    maximum_ml_per_h: float


@dataclass(frozen=True, slots=True)
class RateEntry:
    """An accepted pump rate; ``above_step`` when the soft limit was passed with a reason."""

    rate_ml_per_h: float
    limits: RateLimits
    above_step: bool
    findings: tuple[Finding, ...]


def protocol_maximum_ml_per_h(plan: RatePlan) -> float:
    """The fastest rate of the plan's protocol, in mL/h for the plan's bag."""
    concentration = plan.concentration_mg_per_ml or 1.0
    rates = [s.rate / concentration if plan.rate_unit == "mg/h" else s.rate for s in plan.segments]
    return max(rates)


def rate_limits(plan: RatePlan, minute: float) -> RateLimits:
    """The step in force at ``minute`` of the (re-planned) plan and the protocol maximum.
    Past the planned end the last step stays in force; a plan stopped at its start (a grade
    4 reaction at minute 0) has none: nothing may run."""
    if not plan.steps:
        return RateLimits(minute, 0, 0.0, "stopped", protocol_maximum_ml_per_h(plan))
    index = next(
        (i for i, s in enumerate(plan.steps) if s.start_min - _EPS <= minute < s.end_min),
        len(plan.steps) - 1,
    )
    step = plan.steps[index]
    return RateLimits(
        minute=minute,
        step_number=index + 1,
        step_ml_per_h=step.rate_ml_per_h,
        step_kind=step.kind,
        maximum_ml_per_h=protocol_maximum_ml_per_h(plan),
    )


def _protocol_fact(kb: KnowledgeBase, plan: RatePlan) -> RateProtocol | None:
    agent = kb.agent(plan.agent)
    if agent is None:
        return None
    return next((p for p in agent.rate_protocols if p.id == plan.protocol_id), None)


def check_rate(
    kb: KnowledgeBase,
    plan: RatePlan,
    minute: float,
    rate_ml_per_h: float,
    kind: RateKind,
    elapsed_min: float,
    reason: str | None = None,
) -> RateEntry:
    """Check a pump rate documented at ``minute`` (``elapsed_min`` minutes into the infusion
    now): hard limit the protocol maximum, soft limit the step in force (needs ``reason``)."""
    _finite(minute, "minute", "the minute of the infusion")
    _finite(rate_ml_per_h, "rate_ml_h", "the rate in mL/h")
    check_minute(minute, elapsed_min, "minute", "a rate change")
    if kind in ("pause", "stop"):
        if rate_ml_per_h != 0:
            raise InvalidInput(
                f"a {kind} runs at 0 mL/h; enter 0 or record a rate change", field="rate_ml_h"
            )
    elif rate_ml_per_h <= 0:
        raise InvalidInput(
            "enter the rate the pump runs at, in mL/h (more than 0); record a pause or a stop "
            "instead of a rate of 0",
            field="rate_ml_h",
        )
    limits = rate_limits(plan, minute)
    protocol = _protocol_fact(kb, plan)
    source = protocol.citation_text() if protocol is not None else ""
    if rate_ml_per_h > limits.maximum_ml_per_h + RATE_ROUNDING_ML_PER_H:
        raise InvalidInput(
            f"{_n(rate_ml_per_h)} mL/h is above the maximum of the {plan.protocol_name} "
            f"protocol ({_n(limits.maximum_ml_per_h)} mL/h for this bag); the pump may not "
            "run faster",
            field="rate_ml_h",
        )
    findings: list[Finding] = []
    above = rate_ml_per_h > limits.step_ml_per_h + RATE_ROUNDING_ML_PER_H
    if above:
        step = (
            "the infusion is paused after a reaction"
            if limits.step_kind == "paused"
            else f"step {limits.step_number} runs at {_n(limits.step_ml_per_h)} mL/h"
        )
        if not reason or not reason.strip():
            raise InvalidInput(
                f"{_n(rate_ml_per_h)} mL/h is faster than the plan at minute {_n(minute)} "
                f"({step}); to record it, give the reason",
                field="reason",
            )
        findings.append(
            Finding(
                "warn",
                "rates.above-step",
                f"Rate {_n(rate_ml_per_h)} mL/h at minute {_n(minute)} is faster than the plan "
                f"({step}). Reason given: {reason.strip()}",
                source,
            )
        )
    return RateEntry(rate_ml_per_h, limits, above, tuple(findings))


def check_minute(minute: float, elapsed_min: float, field: str, what: str) -> None:
    """A minute of the infusion lies between its start and now."""
    if minute < 0:
        raise InvalidInput(f"{what} cannot come before the infusion started", field=field)
    slack = CLOCK_SLACK.total_seconds() / 60
    if minute > elapsed_min + slack:
        raise InvalidInput(
            f"{what} at minute {_n(minute)} would be in the future: the infusion has run "
            f"{_n(max(elapsed_min, 0.0), 0)} minutes so far",
            field=field,
        )


# ---------------------------------------------------------------------------- premedication

_DOSE = re.compile(
    r"^\s*(?P<sign>[-−–]?)\s*(?P<amount>\d+(?:[.,]\d+)?)\s*(?P<unit>mg|g|mcg|µg|ug)?\s*$",
    re.IGNORECASE,
)
_TO_MG = {"mg": 1.0, "g": 1000.0, "mcg": 0.001, "µg": 0.001, "ug": 0.001}


def parse_dose_mg(text: str, field: str = "dose") -> float:
    """A dose written like ``650 mg``, ``1 g`` or ``650``, in mg; refused in plain words
    when it is not a positive amount."""
    match = _DOSE.match(text)
    if match is None:
        raise InvalidInput("enter the dose in mg, for example 650 mg", field=field)
    amount = float(match["amount"].replace(",", "."))
    if match["sign"] or amount <= 0:
        raise InvalidInput("the dose must be more than 0 mg", field=field)
    return amount * _TO_MG[(match["unit"] or "mg").lower()]


@dataclass(frozen=True, slots=True)
class PremedicationEntry:
    """An accepted premedication dose and what the record shows about it."""

    dose_mg: float
    findings: tuple[Finding, ...]


def premedication_findings(
    kb: KnowledgeBase, agent_id: str, profile: ProfileId, drug: str, dose_mg: float
) -> tuple[Finding, ...]:
    """What the record shows about a premedication dose: outside the drug's accepted range,
    different from the agent's planned premedication, or no range on file (missing data is a
    finding)."""
    findings: list[Finding] = []
    accepted = kb.limits.premedication(drug)
    if accepted is None:
        findings.append(
            Finding(
                "info",
                "premedication.no-range",
                "No dose range is on file for this drug: check the dose against its label.",
            )
        )
    else:
        low, high = accepted.dose_mg.value
        if not low - _EPS <= dose_mg <= high + _EPS:
            findings.append(
                Finding.from_fact(
                    "warn",
                    "premedication.outside-range",
                    f"{_n(dose_mg)} mg {accepted.drug} is outside the accepted premedication "
                    f"dose of {_n(low)}–{_n(high)} mg.",
                    accepted.dose_mg,
                )
            )
        elif accepted.dose_mg.is_weak:
            findings.append(
                Finding.from_fact(
                    "info",
                    f"provenance.{accepted.dose_mg.status}",
                    f"Accepted {accepted.drug} doses ({_n(low)}–{_n(high)} mg) are a clinic limit.",
                    accepted.dose_mg,
                )
            )
    agent = kb.agent(agent_id)
    names = accepted.names if accepted is not None else (drug.strip().lower(),)
    planned = next(
        (
            p
            for p in (agent.premedications if agent is not None else ())
            if profile in p.profiles and p.dose_mg is not None
            if any(n in p.drug.lower() for n in names)
        ),
        None,
    )
    if (
        planned is not None
        and planned.dose_mg is not None
        and abs(planned.dose_mg - dose_mg) > _EPS
    ):
        findings.append(
            Finding.from_fact(
                "warn",
                "premedication.dose-differs",
                f"{_n(dose_mg)} mg differs from the planned premedication "
                f"({planned.drug} {_n(planned.dose_mg)} mg).",
                planned,
            )
        )
    return sort_findings(findings)


def check_premedication(
    kb: KnowledgeBase, agent_id: str, profile: ProfileId, drug: str, dose_mg: float
) -> PremedicationEntry:
    """Refuse a premedication dose that is not positive or lies outside the drug's accepted
    range (``dose`` at fault); accept it with :func:`premedication_findings` otherwise."""
    _finite(dose_mg, "dose", "the dose in mg")
    if dose_mg <= 0:
        raise InvalidInput("the dose must be more than 0 mg", field="dose")
    accepted = kb.limits.premedication(drug)
    if accepted is not None:
        low, high = accepted.dose_mg.value
        if not low - _EPS <= dose_mg <= high + _EPS:
            raise InvalidInput(
                f"{_n(dose_mg)} mg {accepted.drug} is outside the accepted premedication dose "
                f"of {_n(low)}–{_n(high)} mg.{_weak_note((accepted.dose_mg,))}",
                field="dose",
            )
    return PremedicationEntry(dose_mg, premedication_findings(kb, agent_id, profile, drug, dose_mg))


# ------------------------------------------------------------------------------ vital signs

_UNITS: dict[str, tuple[str, ...]] = {
    "mm[Hg]": ("mm[hg]", "mmhg", "mm hg"),
    "/min": ("/min", "bpm", "per min", "/ min", "beats/min", "breaths/min", "min-1"),
    "Cel": ("cel", "°c", "c", "degc", "celsius", "deg c"),
    "%": ("%", "percent"),
    "kg": ("kg",),
}
_FAHRENHEIT = ("°f", "f", "[degf]", "degf", "fahrenheit", "deg f")
_POUNDS = ("lb", "lbs", "[lb_av]")
_SHOWN = {"mm[Hg]": "mmHg", "/min": "/min", "Cel": "°C", "%": "%", "kg": "kg"}

VitalFlag = Literal["low", "high"]


@dataclass(frozen=True, slots=True)
class VitalEntry:
    """An accepted vital sign in its UCUM unit, flagged when outside its usual range."""

    kind: str
    value: float
    unit: str
    flag: VitalFlag | None
    findings: tuple[Finding, ...]


def shown_unit(unit: str) -> str:
    """A UCUM unit as people write it (``mm[Hg]`` → ``mmHg``)."""
    return _SHOWN.get(unit, unit)


def _in_unit(kind: str, value: float, unit: str | None, limit: VitalSignRange) -> float:
    """``value`` converted to the vital's UCUM unit (°F and lb are converted)."""
    if unit is None or not unit.strip():
        return value
    given = unit.strip().lower()
    if given == limit.unit.lower() or given in _UNITS.get(limit.unit, ()):
        return value
    if limit.unit == "Cel" and given in _FAHRENHEIT:
        return round((value - 32) * 5 / 9, 1)
    if limit.unit == "kg" and given in _POUNDS:
        return round(value * 0.45359237, 1)
    raise InvalidInput(
        f"{kind.replace('_', ' ')} is recorded in {shown_unit(limit.unit)}", field="unit"
    )


def vital_flag(limit: VitalSignRange, value: float) -> VitalFlag | None:
    """``low`` or ``high`` when ``value`` lies outside the usual range."""
    if limit.usual is None:
        return None
    low, high = limit.usual.value
    if value < low - _EPS:
        return "low"
    if value > high + _EPS:
        return "high"
    return None


def check_vital(
    limits: EntryLimits, kind: str, value: float, unit: str | None = None
) -> VitalEntry:
    """Refuse an impossible vital sign (a typing or unit mistake); flag an abnormal one."""
    limit = limits.vital(kind)
    if limit is None:
        known = ", ".join(v.kind.replace("_", " ") for v in limits.vital_signs)
        raise InvalidInput(f"choose a vital sign: {known}", field="kind")
    _finite(value, "value", "the value")
    converted = _in_unit(kind, value, unit, limit)
    low, high = limit.possible.value
    what = kind.replace("_", " ")
    shown = shown_unit(limit.unit)
    if not low - _EPS <= converted <= high + _EPS:
        hint = ""
        if limit.unit == "Cel" and converted > high and 86 <= value <= 111:
            hint = "; if it was measured in °F, enter the unit °F"
        raise InvalidInput(
            f"a {what} of {_n(converted)} {shown} is not possible (accepted "
            f"{_n(low)}–{_n(high)} {shown}): check the value and its unit{hint}",
            field="value",
        )
    flag = vital_flag(limit, converted)
    findings: list[Finding] = []
    if flag is not None and limit.usual is not None:
        u_low, u_high = limit.usual.value
        findings.append(
            Finding.from_fact(
                "warn",
                f"vitals.{flag}",
                f"{what.capitalize()} {_n(converted)} {shown} is {flag} (usual "
                f"{_n(u_low)}–{_n(u_high)} {shown}).",
                limit.usual,
            )
        )
    return VitalEntry(kind, converted, limit.unit, flag, tuple(findings))


# ------------------------------------------------------------------------------------ times


@dataclass(frozen=True, slots=True)
class VisitWindow:
    """When a visit began (the planned arrival, or its booking if earlier) and ended
    (``None``: still going on)."""

    opens: datetime
    closes: datetime | None


def visit_window(
    plan: RatePlan,
    started_at: datetime,
    booked_at: datetime | None = None,
    observation_until: datetime | None = None,
) -> VisitWindow:
    """The visit around an infusion started at ``started_at``: from the planned arrival
    (set-up and premedication lead before the pump starts) to the end of observation and
    disconnection once the infusion is over."""
    lead = max(
        [plan.premedication_lead_minutes]
        + [max(p.lead_minutes, p.minutes_before_max or 0.0) for p in plan.premedications]
    )
    opens = started_at - timedelta(minutes=plan.setup_minutes + lead)
    if booked_at is not None:
        opens = min(opens, booked_at)
    closes = (
        observation_until + timedelta(minutes=plan.disconnection_minutes)
        if observation_until is not None
        else None
    )
    return VisitWindow(opens, closes)


def check_time(window: VisitWindow, when: datetime, now: datetime, field: str, what: str) -> None:
    """Refuse a documented time in the future or outside the visit."""
    if when > now + CLOCK_SLACK:
        raise InvalidInput(f"{what} cannot be in the future (now {now:%H:%M})", field=field)
    if when < window.opens:
        raise InvalidInput(
            f"{what} ({when:%H:%M}) is before the visit began ({window.opens:%H:%M})", field=field
        )
    if window.closes is not None and when > window.closes:
        raise InvalidInput(
            f"{what} ({when:%H:%M}) is after the visit ended ({window.closes:%H:%M})", field=field
        )


def check_reaction_minutes(
    plan: RatePlan, onset_min: float, resume_min: float | None, elapsed_min: float
) -> None:
    """A reaction starts inside the infusion, never in the future; a restart follows it."""
    _finite(onset_min, "onset_minute", "the minute the reaction began")
    check_minute(onset_min, elapsed_min, "onset_minute", "a reaction")
    end = plan.steps[-1].end_min if plan.steps else 0.0
    if onset_min >= end - _EPS:
        raise InvalidInput(
            f"a reaction during the infusion starts before its end (minute {_n(end, 0)})",
            field="onset_minute",
        )
    if resume_min is not None:
        _finite(resume_min, "resume_minute", "the restart minute")
        if resume_min < onset_min:
            raise InvalidInput(
                "the infusion cannot restart before the reaction began", field="resume_minute"
            )
        check_minute(resume_min, elapsed_min, "resume_minute", "the restart")


# ------------------------------------------------------------------------------- completion


@dataclass(frozen=True, slots=True)
class Completion:
    """How an infusion ended: time and volume against the plan, and the dose given."""

    minutes: float
    planned_minutes: float
    early: bool
    volume_ml: float
    volume_infused_ml: float
    partial: bool
    dose_mg: float | None
    dose_given_mg: float | None
    findings: tuple[Finding, ...]


def check_completion(
    limits: EntryLimits,
    plan: RatePlan,
    started_at: datetime,
    ended_at: datetime,
    volume_infused_ml: float,
    reason: str | None = None,
) -> Completion:
    """Check the end of an infusion: the volume infused fits the bag and the time; ending
    well before the plan's time or with volume left needs ``reason``; volume left records a
    partial dose (the dose times the share infused)."""
    _finite(volume_infused_ml, "volume_infused_ml", "the volume infused in mL")
    if ended_at < started_at:
        raise InvalidInput("the infusion cannot end before it started", field="ended_at")
    minutes = (ended_at - started_at).total_seconds() / 60
    volume = plan.volume_ml
    if volume_infused_ml < 0:
        raise InvalidInput("the volume infused cannot be negative", field="volume_infused_ml")
    most = volume * (1 + limits.bag.above_percent.value / 100)
    if volume_infused_ml > most + _EPS:
        raise InvalidInput(
            f"{_n(volume_infused_ml)} mL is more than the {_n(volume)} mL bag held",
            field="volume_infused_ml",
        )
    fastest = protocol_maximum_ml_per_h(plan)
    slack = CLOCK_SLACK.total_seconds() / 60
    if volume_infused_ml > fastest * (minutes + slack) / 60 + 1.0:
        raise InvalidInput(
            f"{_n(volume_infused_ml)} mL cannot have run in {_n(minutes, 0)} minutes: the "
            f"protocol's maximum is {_n(fastest)} mL/h",
            field="volume_infused_ml",
        )
    planned = plan.infusion_minutes
    early_share = limits.completion.early_percent
    left_share = limits.completion.volume_left_percent
    early = minutes < planned * (1 - early_share.value / 100) - _EPS
    left = max(volume - volume_infused_ml, 0.0)
    partial = left > volume * left_share.value / 100 + _EPS
    problems = []
    if early:
        problems.append(f"it ran {_n(minutes, 0)} of the planned {_n(planned, 0)} minutes")
    if partial:
        problems.append(f"{_n(left)} mL of the {_n(volume)} mL bag was not infused")
    given_reason = (reason or "").strip()
    if problems and not given_reason:
        raise InvalidInput(
            f"The infusion ended early: {' and '.join(problems)}. Give the reason"
            + (" (a partial dose is recorded)" if partial else ""),
            field="reason",
        )
    dose = plan.dose_mg
    dose_given = dose
    findings: list[Finding] = []
    if partial and dose is not None:
        dose_given = round(dose * volume_infused_ml / volume, 1)
    if partial:
        findings.append(
            Finding.from_fact(
                "warn",
                "completion.partial-dose",
                f"Partial dose: {_n(volume_infused_ml)} of {_n(volume)} mL infused"
                + (f" (about {_n(dose_given or 0.0)} of {_n(dose)} mg)" if dose else "")
                + f". Reason: {given_reason}",
                left_share,
            )
        )
    elif early:
        findings.append(
            Finding.from_fact(
                "warn",
                "completion.early",
                f"Ended after {_n(minutes, 0)} of the planned {_n(planned, 0)} minutes, faster "
                f"than the protocol. Reason: {given_reason}",
                early_share,
            )
        )
    return Completion(
        minutes=minutes,
        planned_minutes=planned,
        early=early,
        volume_ml=volume,
        volume_infused_ml=volume_infused_ml,
        partial=partial,
        dose_mg=dose,
        dose_given_mg=dose_given,
        findings=tuple(findings),
    )


__all__ = [
    "BagRange",
    "Completion",
    "PremedicationEntry",
    "RateEntry",
    "RateLimits",
    "VisitWindow",
    "VitalEntry",
    "bag_range",
    "check_bag",
    "check_completion",
    "check_minute",
    "check_premedication",
    "check_rate",
    "check_reaction_minutes",
    "check_time",
    "check_vital",
    "parse_dose_mg",
    "premedication_findings",
    "protocol_maximum_ml_per_h",
    "rate_limits",
    "shown_unit",
    "visit_window",
    "vital_flag",
]
