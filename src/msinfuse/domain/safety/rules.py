"""Pre-infusion check rules: small named functions in a registry (clinical-decisions §5).

Each rule reads the :class:`CheckContext` and returns findings. Thresholds, windows and
texts come from the knowledge base; a rule that needs data the record lacks returns a
finding saying so (missing data is never a silent pass). ``docs/rules/checks.md`` is
generated from :data:`RULES`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from msinfuse.domain.calendar import CalendarRequest, GivenDose, build_calendar
from msinfuse.domain.findings import Finding
from msinfuse.domain.knowledge.facts import Duration, Fact
from msinfuse.domain.knowledge.schema import (
    PROCEDURE_CODES,
    Contraindication,
    LabLimit,
    LabRequirement,
    MonitoringItem,
    Rems,
)
from msinfuse.domain.monitoring.due import ItemDue, agent_items, applies, exposure, item_due
from msinfuse.domain.patient import Authorization, Condition, Lab
from msinfuse.domain.provenance import DECISIONS_CITATION
from msinfuse.domain.risk import PmlRisk, pml_risk_from_state
from msinfuse.domain.risk.pml import pml_monitoring_item
from msinfuse.domain.safety.context import CheckContext
from msinfuse.errors import InvalidInput

RuleFn = Callable[[CheckContext], list[Finding]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A registered check rule."""

    id: str
    title: str
    description: str
    agents: tuple[str, ...] | None
    fn: RuleFn

    def applies_to(self, agent_id: str) -> bool:
        """Whether the rule runs for ``agent_id``."""
        return self.agents is None or agent_id in self.agents


RULES: list[Rule] = []

ANTI_CD20 = ("ocrelizumab", "ublituximab", "rituximab")


def rule(
    rule_id: str, title: str, description: str, agents: Iterable[str] | None = None
) -> Callable[[RuleFn], RuleFn]:
    """Register a rule function under a stable id."""

    def register(fn: RuleFn) -> RuleFn:
        RULES.append(Rule(rule_id, title, description, tuple(agents) if agents else None, fn))
        return fn

    return register


def _finding(
    ctx: CheckContext,
    severity: str,
    rule_id: str,
    message: str,
    fact: Fact,
    data: dict[str, Any] | None = None,
) -> Finding:
    ctx.use(fact, rule_id)
    return Finding.from_fact(severity, rule_id, message, fact, data)  # type: ignore[arg-type]


def _findings(
    ctx: CheckContext,
    severity: str,
    rule_id: str,
    message: str,
    facts: Sequence[Fact],
    data: dict[str, Any] | None = None,
) -> Finding:
    for fact in facts:
        ctx.use(fact, rule_id)
    return Finding.from_facts(severity, rule_id, message, facts, data)  # type: ignore[arg-type]


def _checks_fact(ctx: CheckContext, word: str) -> Fact | None:
    return next((c for c in ctx.agent.checks_before_each_dose if word in c.value.lower()), None)


# ------------------------------------------------------------------------- all agents


@rule(
    "infection.active",
    "Active infection",
    "Hold while an active infection is recorded on the day of the dose (postpone until resolved).",
)
def active_infection(ctx: CheckContext) -> list[Finding]:
    condition = ctx.state.has_condition("active_infection", ctx.date)
    if condition is None:
        return []
    fact = next(
        (
            c
            for c in ctx.agent.contraindications
            if c.condition == "active_infection" and ctx.profile in c.profiles
        ),
        None,
    ) or _checks_fact(ctx, "infection")
    if fact is None:  # pragma: no cover - every agent's data names the infection check
        return []
    return [
        _finding(
            ctx,
            "hold",
            "infection.active",
            "Active infection recorded: postpone the infusion until it has resolved.",
            fact,
            {"onset": condition.onset},
        )
    ]


@rule(
    "pregnancy.status",
    "Pregnancy status",
    "Where the label asks for pregnancy status (or a test) before each dose, an unknown status "
    "in a patient who may become pregnant is a warning; a recorded pregnancy is a hold for "
    "agents needing contraception or a status check, otherwise a warning. A recorded pregnancy "
    "cites every pregnancy fact of the agent and profile (contraception period, status or test "
    "before each dose, the label's pregnancy statements).",
)
def pregnancy_status(ctx: CheckContext) -> list[Finding]:
    preg = ctx.agent.pregnancy
    contraception = (
        preg.contraception_after_last_dose.get(ctx.profile)
        if preg.contraception_after_last_dose is not None
        else None
    )
    status_fact = preg.pregnancy_status_before_each_dose or preg.pregnancy_test_before_each_dose
    if ctx.state.pregnant:
        facts: list[Fact] = [f for f in (contraception, status_fact) if f is not None]
        facts += preg.pregnancy
        severe = contraception is not None or status_fact is not None
        if facts:
            said = " ".join(str(t.value).rstrip(".") + "." for t in preg.pregnancy)
            if contraception is not None:
                said = (
                    f"Contraception is needed for {contraception.value} after the last dose. "
                    + said
                )
            return [
                _findings(
                    ctx,
                    "hold" if severe else "warn",
                    "pregnancy.status",
                    (
                        f"The patient is recorded as pregnant; {ctx.agent.name} requires pregnancy "
                        "to be excluded or a prescriber decision."
                        if severe
                        else f"The patient is recorded as pregnant; confirm the prescriber has "
                        f"weighed {ctx.agent.name} in pregnancy."
                    )
                    + (f" {said.strip()}" if said.strip() else ""),
                    facts,
                )
            ]
        return [
            Finding(
                "warn",
                "pregnancy.status",
                f"The patient is recorded as pregnant; no pregnancy rule of {ctx.agent.name} is "
                "established in the knowledge base: the prescriber must decide.",
                DECISIONS_CITATION,
            )
        ]
    if (
        status_fact is not None
        and status_fact.value
        and ctx.state.pregnant is None
        and ctx.state.childbearing_potential is not False
        and ctx.state.sex != "male"
    ):
        return [
            _finding(
                ctx,
                "warn",
                "pregnancy.status",
                "Pregnancy status is not recorded for a patient who may become pregnant; confirm it "
                "before the infusion.",
                status_fact,
            )
        ]
    return []


@rule(
    "breastfeeding",
    "Breastfeeding",
    "A patient recorded as breastfeeding is a hold where the label says not to breastfeed during "
    "treatment (alemtuzumab: during each course and for 4 months after it), an information "
    "finding where breastfeeding is allowed, and a warning where the knowledge base holds no "
    "breastfeeding rule for the profile. Where breastfeeding must be avoided and the record does "
    "not say whether the patient breastfeeds, an information finding reminds the nurse to ask.",
)
def breastfeeding(ctx: CheckContext) -> list[Finding]:
    facts = [b for b in ctx.agent.pregnancy.breastfeeding if ctx.profile in b.profiles]
    avoid = [b for b in facts if b.advice == "avoid"]
    if ctx.state.breastfeeding:
        if avoid:
            return [
                _findings(
                    ctx,
                    "hold",
                    "breastfeeding",
                    "The patient is recorded as breastfeeding: "
                    + " ".join(b.text for b in avoid)
                    + " Do not infuse until breastfeeding has stopped, or a prescriber decides.",
                    avoid,
                )
            ]
        weigh = [b for b in facts if b.advice == "weigh"]
        if weigh:
            return [
                _findings(
                    ctx,
                    "warn",
                    "breastfeeding",
                    "The patient is recorded as breastfeeding: "
                    + " ".join(b.text for b in weigh)
                    + " Confirm the prescriber has weighed it.",
                    weigh,
                )
            ]
        if facts:
            return [
                _findings(
                    ctx,
                    "info",
                    "breastfeeding",
                    "The patient is recorded as breastfeeding: " + " ".join(b.text for b in facts),
                    facts,
                )
            ]
        return [
            Finding(
                "warn",
                "breastfeeding",
                f"The patient is recorded as breastfeeding; no breastfeeding rule of "
                f"{ctx.agent.name} is established for the {ctx.profile.upper()} profile in the "
                "knowledge base: the prescriber must decide.",
                DECISIONS_CITATION,
            )
        ]
    if (
        avoid
        and ctx.state.breastfeeding is None
        and ctx.state.sex != "male"
        and ctx.state.childbearing_potential is not False
    ):
        return [
            _findings(
                ctx,
                "info",
                "breastfeeding.status",
                "Whether the patient breastfeeds is not recorded; ask: "
                + " ".join(b.text for b in avoid),
                avoid,
            )
        ]
    return []


def _calendar(ctx: CheckContext):  # type: ignore[no-untyped-def]
    plan = ctx.state.plan_for(ctx.agent.id)
    given = ctx.given
    start = given[0].date if given else (plan.start if plan and plan.start else ctx.date)
    if start > ctx.date:
        start = ctx.date
    return build_calendar(
        ctx.kb,
        CalendarRequest(
            agent=ctx.agent.id,
            start=start,
            today=ctx.date,
            regimen=ctx.regimen.id,
            profile=ctx.profile,
            given=tuple(GivenDose(a.date, a.dose_mg) for a in given),
            count=1,
            height_cm=ctx.state.height_cm,
            weight_kg=ctx.state.weight_kg,
            prior_cumulative_mg_per_m2=ctx.state.prior_cumulative_mg_per_m2.get(ctx.agent.id, 0.0),
        ),
    )


@rule(
    "spacing.too-early",
    "Dose spacing, course limits and cumulative dose",
    "The dose calendar of the current plan (doses given so far) decides the earliest date of the "
    "next dose: earlier than the minimum spacing (or a course gap) is a hold; earlier than the "
    "label day inside a course is a warning; a cumulative lifetime limit or course cap reached "
    "is a hold.",
)
def spacing(ctx: CheckContext) -> list[Finding]:
    if ctx.regimen.uses_bsa and (ctx.state.height_cm is None or ctx.state.weight_kg is None):
        return [
            _finding(
                ctx,
                "warn",
                "spacing.bsa-missing",
                "Height and weight are not recorded: the body-surface-area dose and the lifetime "
                "cumulative limit cannot be checked.",
                ctx.regimen.initial,
            )
        ]
    if ctx.position is None and ctx.regimen.repeat is None:
        return [
            _finding(
                ctx,
                "warn",
                "spacing.course-complete",
                f"The {ctx.regimen.name} course is complete; another dose needs a new course.",
                ctx.regimen.initial,
            )
        ]
    try:
        calendar = _calendar(ctx)
    except InvalidInput as exc:
        return [
            Finding(
                "warn",
                "spacing.unreadable",
                f"The dose history cannot be laid on the regimen: {exc}",
                ctx.regimen.initial.citation_text(),
            )
        ]
    findings: list[Finding] = []
    for finding in calendar.findings:
        if finding.rule in (
            "calendar.cumulative-limit",
            "calendar.cumulative-exceeded",
            "calendar.course-cap-exceeded",
        ):
            findings.append(
                Finding("hold", "spacing.limit", finding.message, finding.source, finding.data)
            )
        elif finding.rule in (
            "calendar.interval-not-established",
            "calendar.limit-not-established",
        ):
            findings.append(
                Finding("warn", "spacing.not-established", finding.message, finding.source)
            )
        elif finding.rule == "calendar.course-cap-reached":
            findings.append(Finding("hold", "spacing.limit", finding.message, finding.source))
        elif finding.rule == "calendar.prior-treatment" and finding.severity == "warn":
            # Before the first dose the contraindication rule holds; later doses are flagged.
            findings.append(
                Finding(
                    "warn",
                    "spacing.prior-treatment",
                    finding.message,
                    finding.source,
                    finding.data,
                    finding.facts,
                )
            )
    for source in calendar.sources:
        ctx.log.use_source(source)
    # The calendar's own notes on policy or unconfirmed values it used (spacing, limits).
    findings.extend(f for f in calendar.findings if f.rule.startswith("provenance."))
    upcoming = calendar.next_dose
    if upcoming is None:
        if not findings:
            findings.append(
                Finding(
                    "hold",
                    "spacing.no-dose",
                    "The regimen plans no further dose.",
                    ctx.regimen.initial.citation_text(),
                )
            )
        return findings
    if ctx.date < upcoming.earliest:
        within_course = upcoming.course_day > 1
        fact: Fact = ctx.regimen.initial
        if ctx.regimen.repeat is not None:
            fact = (
                ctx.regimen.repeat.min_spacing.get(ctx.profile) or ctx.regimen.repeat
                if not within_course
                else ctx.regimen.repeat.block
                if upcoming.course > 1
                else ctx.regimen.initial
            )
        last = ctx.given[-1].date if ctx.given else None
        findings.append(
            _finding(
                ctx,
                "warn" if within_course else "hold",
                "spacing.too-early",
                f"Too early: the earliest allowed date for this dose is {upcoming.earliest.isoformat()} "
                + (
                    f"(label day {upcoming.course_day} of the course)."
                    if within_course
                    else f"(minimum spacing from the last dose given{', ' + last.isoformat() if last else ''})."
                ),
                fact,
                {"earliest": upcoming.earliest, "last_dose": last},
            )
        )
    return findings


@rule(
    "indication.off-label-course",
    "On-label for the patient's MS course",
    "Warns when the patient's MS course is not on-label for the agent under the profile (or the "
    "agent is off-label in MS), and when the course is not recorded.",
)
def off_label_course(ctx: CheckContext) -> list[Finding]:
    indication = ctx.agent.indications.get(ctx.profile)
    if indication is None:
        return [
            Finding(
                "warn",
                "indication.not-established",
                f"The {ctx.profile.upper()} indication of {ctx.agent.name} is not established in the knowledge base.",
                DECISIONS_CITATION,
            )
        ]
    course = ctx.state.ms_course
    if course is None:
        return [
            _finding(
                ctx,
                "warn",
                "indication.course-missing",
                "The patient's MS course is not recorded: on-label use cannot be checked.",
                indication,
            )
        ]
    if ctx.agent.off_label_in_ms.value:
        return [
            _finding(
                ctx,
                "warn",
                "indication.off-label-course",
                f"{ctx.agent.name} is off-label in MS; confirm the prescriber's documented reason.",
                ctx.agent.off_label_in_ms,
            )
        ]
    if course not in indication.value.ms_courses:
        return [
            _finding(
                ctx,
                "warn",
                "indication.off-label-course",
                f"{ctx.agent.name} is not on-label for {course} under the {ctx.profile.upper()} label "
                f"(on-label: {', '.join(indication.value.ms_courses)}).",
                indication,
                {"ms_course": course},
            )
        ]
    if indication.value.restrictions:
        return [
            _finding(
                ctx,
                "info",
                "indication.restrictions",
                "Label restrictions to confirm: " + "; ".join(indication.value.restrictions),
                indication,
            )
        ]
    return []


@rule(
    "reaction.discontinued",
    "Discontinued after a grade 4 reaction",
    "Hold every later dose of an agent after a grade 4 (or 5) reaction to it.",
)
def discontinued(ctx: CheckContext) -> list[Finding]:
    worst = max((a.reaction_grade for a in ctx.ever_given), default=0)
    if worst < 4:
        return []
    action = next((a for a in ctx.agent.reaction_management if 4 in a.grades), None)
    if action is None:  # pragma: no cover - every agent encodes grade 4
        return []
    return [
        _finding(
            ctx,
            "hold",
            "reaction.discontinued",
            f"{ctx.agent.name} was discontinued after a grade {worst} infusion reaction: do not infuse.",
            action,
            {"grade": worst},
        )
    ]


@rule(
    "hypersensitivity.history",
    "Hypersensitivity to the agent",
    "Hold when the record lists hypersensitivity to this agent; a reaction recorded as resolved "
    "still counts (an allergy does not resolve; the contraindication is worded as a history).",
)
def hypersensitivity(ctx: CheckContext) -> list[Finding]:
    item = next(
        (
            c
            for c in ctx.agent.contraindications
            if c.condition == "hypersensitivity" and ctx.profile in c.profiles
        ),
        None,
    )
    wording = item.wording if item is not None else "history"
    condition = _recorded(ctx, f"hypersensitivity:{ctx.agent.id}", wording)
    if condition is None:
        return []
    fact = (
        item
        or next((w for w in ctx.agent.warnings if "hypersensitivity" in w.id), None)
        or ctx.agent.reaction_management[-1]
    )
    return [
        _finding(
            ctx,
            "hold",
            "hypersensitivity.history",
            f"Hypersensitivity to {ctx.agent.name} is recorded{_when(condition, ctx.date)}: do not "
            "infuse without a prescriber decision.",
            fact,
        )
    ]


def _recorded(ctx: CheckContext, name: str, wording: str) -> Condition | None:
    """The record that makes a contraindication worded ``wording`` apply on the check date:
    for ``current``, a condition present that day; for ``history``, any record up to that
    day, resolved or not (clinical-decisions §5)."""
    if wording == "current":
        return ctx.state.has_condition(name, ctx.date)
    return ctx.state.had_condition(name, ctx.date)


def _when(condition: Condition, day: date) -> str:
    if condition.active_on(day):
        return ""
    resolved = condition.resolved.isoformat() if condition.resolved else "?"
    onset = f"from {condition.onset.isoformat()} " if condition.onset else ""
    return f" ({onset}resolved {resolved}; the contraindication covers a past condition too)"


def _prior_mitoxantrone(ctx: CheckContext) -> str | None:
    """Why the patient counts as previously treated with mitoxantrone when this dose would
    initiate it (no dose of the current plan given yet), or ``None``."""
    if ctx.agent.id != "mitoxantrone" or ctx.given:
        return None
    reasons = []
    prior_dose = ctx.state.prior_cumulative_mg_per_m2.get("mitoxantrone", 0.0)
    if prior_dose > 0:
        reasons.append(f"a prior cumulative dose of {prior_dose:g} mg/m2 is on record")
    if ctx.ever_given:
        reasons.append("earlier mitoxantrone infusions are on record")
    if any(
        t.agent == "mitoxantrone" and t.end is not None and t.end < ctx.date
        for t in ctx.state.therapies
    ):
        reasons.append("an earlier mitoxantrone therapy is on record")
    return "; ".join(reasons) or None


def _applies(ctx: CheckContext, item: Contraindication) -> str | None:
    """Why ``item`` applies on the check date (a short note, possibly empty), or ``None``."""
    name = item.condition
    assert name is not None
    if name == "under_18":
        age = ctx.state.age_on(ctx.date)
        return f" (age {age})" if age is not None and age < 18 else None
    if name == "concomitant_dmt":
        others = _concomitant(ctx)
        return f" ({', '.join(others)})" if others else None
    if name == "prior_mitoxantrone":
        reason = _prior_mitoxantrone(ctx)
        return f" ({reason})" if reason else None
    recorded: str = name
    if name == "life_threatening_irr":
        recorded = f"life_threatening_irr:{ctx.agent.id}"
    condition = _recorded(ctx, recorded, item.wording)
    return None if condition is None else _when(condition, ctx.date)


def _concomitant(ctx: CheckContext) -> list[str]:
    dmts = {t.id for t in ctx.kb.terminology.therapies if t.dmt or t.immunosuppressant}
    dmts |= {a.id for a in ctx.kb.alternatives}
    return sorted(
        {
            t.agent
            for t in ctx.state.therapies
            if t.agent != ctx.agent.id
            and (t.agent in dmts or t.immunosuppressant)
            and t.active_on(ctx.date)
        }
    )


@rule(
    "contraindication",
    "Label contraindications",
    "Hold for every coded contraindication of the profile that the record shows (conditions such "
    "as PML, HIV, active malignancy, active hepatitis B; or derived ones: under 18, concomitant "
    "disease-modifying therapy, prior mitoxantrone). A contraindication worded as current (active "
    "infection, active malignancy) stops applying once the condition is resolved; one worded "
    "'have or have had' or 'history of' (natalizumab PML, EU alemtuzumab stroke, arterial "
    "dissection, myocardial infarction or angina, a life-threatening infusion reaction) applies to a "
    "resolved condition too. EU mitoxantrone must not be initiated after earlier mitoxantrone: a "
    "therapy entry, earlier infusions or a prior cumulative dose on record.",
)
def contraindications(ctx: CheckContext) -> list[Finding]:
    findings = []
    seen: set[str] = set()
    for item in ctx.agent.contraindications:
        if item.condition is None or ctx.profile not in item.profiles or item.condition in seen:
            continue
        if item.condition in ("active_infection", "hypersensitivity"):
            continue  # dedicated rules above
        if item.condition == "concomitant_dmt":
            continue  # natalizumab.concomitant-therapy reports it with the therapies named
        detail = _applies(ctx, item)
        if detail is not None:
            seen.add(item.condition)
            findings.append(_contraindication(ctx, item, detail))
    return findings


def _contraindication(ctx: CheckContext, item: Contraindication, detail: str = "") -> Finding:
    return _finding(
        ctx,
        "hold",
        f"contraindication.{item.condition}",
        f"Contraindication ({ctx.profile.upper()} label): {item.text}{detail}",
        item,
    )


@rule(
    "age.adult",
    "Adults only",
    "Warns when the indication is for adults and the patient is under 18, or the birth date is "
    "not recorded.",
)
def adult(ctx: CheckContext) -> list[Finding]:
    indication = ctx.agent.indications.get(ctx.profile)
    if indication is None or not indication.value.adults_only:
        return []
    age = ctx.state.age_on(ctx.date)
    if age is None:
        return [
            _finding(
                ctx,
                "warn",
                "age.missing",
                "The birth date is not recorded: the adult-only indication cannot be checked.",
                indication,
            )
        ]
    if age < 18:
        return [
            _finding(
                ctx,
                "warn",
                "age.adult",
                f"The patient is {age}: {ctx.agent.name} is indicated for adults.",
                indication,
            )
        ]
    return []


def _matches(limit: LabLimit, lab: Lab) -> bool:
    if limit.comparator == "abnormal":
        return lab.abnormal
    if limit.comparator == "eq":
        return lab.text == str(limit.value).lower()
    number = lab.number
    if number is None or not isinstance(limit.value, int | float):
        return False
    return {
        "lt": number < limit.value,
        "le": number <= limit.value,
        "gt": number > limit.value,
        "ge": number >= limit.value,
    }[limit.comparator]


def _live_lead(ctx: CheckContext) -> Duration | None:
    rule_ = next(
        (
            v
            for v in ctx.agent.vaccination
            if v.vaccine_kind in ("live", "any") and ctx.profile in v.profiles
        ),
        None,
    )
    return rule_.min_before if rule_ else None


@rule(
    "labs",
    "Lab limits",
    "The newest result of each limited test (HBsAg, anti-HBc, LVEF, neutrophils, liver tests, "
    "HIV, VZV IgG, pregnancy test...) is compared with the knowledge-base limit; a match gives the "
    "limit's severity.",
)
def lab_limits(ctx: CheckContext) -> list[Finding]:
    findings = []
    for limit in ctx.agent.lab_limits:
        if ctx.profile not in limit.profiles:
            continue
        lab = ctx.state.latest_lab(limit.test, ctx.date)
        if lab is None or not _matches(limit, lab):
            continue
        if limit.cleared_by_vaccine is not None:
            lead = _live_lead(ctx)
            vaccinated = [
                v
                for v in ctx.state.vaccinations
                if limit.cleared_by_vaccine.lower() in v.vaccine.lower()
                and lead is not None
                and lead.after(v.date) <= ctx.date
                and v.date >= lab.date
            ]
            if vaccinated:
                continue
        findings.append(
            _finding(
                ctx,
                limit.severity,
                f"labs.{limit.id}",
                limit.text,
                limit,
                {"test": limit.test, "result_date": lab.date},
            )
        )
    return findings


def _requirement_due(ctx: CheckContext, req: LabRequirement) -> bool:
    if req.only_if_childbearing_potential and (
        ctx.state.childbearing_potential is False or ctx.state.sex == "male"
    ):
        return False
    if req.when == "first_dose":
        return ctx.is_first_dose
    if req.when == "every_dose":
        return True
    if req.when == "course_start":
        return ctx.is_course_start
    return ctx.is_later_course


def _result_date(ctx: CheckContext, code: str) -> date | None:
    if code in PROCEDURE_CODES:
        done = ctx.state.procedures_of([code], ctx.date)
        return done[0].date if done else None
    lab = ctx.state.latest_lab(code, ctx.date)
    return lab.date if lab else None


@rule(
    "screening",
    "Required results before a dose",
    "Screening before the first dose, results required before every dose, at the start of each "
    "course or before a later course: each required result must be on file, no older than its "
    "window (default: the clinic's screening window) and, for every-dose results, dated after the "
    "previous dose. Where the requirement follows a monitoring item (alemtuzumab monthly labs "
    "before a later course, mitoxantrone LVEF before each dose) the item's own due date decides, "
    "exactly as on the monitoring list and the worklists. Missing or stale results give the "
    "requirement's severity.",
)
def screening(ctx: CheckContext) -> list[Finding]:
    findings = []
    for req in ctx.agent.screening:
        if ctx.profile not in req.profiles or not _requirement_due(ctx, req):
            continue
        if req.window_from_monitoring:
            finding = _monitored_requirement(ctx, req)
            if finding is not None:
                findings.append(finding)
            continue
        window = req.max_age or ctx.kb.clinic.screening_max_age
        ctx.use(
            window,
            "screening window" if req.max_age is None else f"{req.id} window",
            str(window.value),
        )
        oldest = window.value.before(ctx.date)
        previous = ctx.given[-1].date if (req.when == "every_dose" and ctx.given) else None
        missing = []
        for code in req.tests:
            done = _result_date(ctx, code)
            if done is None or done < oldest or (previous is not None and done <= previous):
                missing.append(code)
        if missing:
            since = f" since the last dose ({previous.isoformat()})" if previous else ""
            weak = f", a {window.status} window" if window.is_weak else ""
            findings.append(
                _finding(
                    ctx,
                    req.severity_missing,
                    f"screening.{req.id}",
                    f"Missing or out-of-date result{'s' if len(missing) > 1 else ''} "
                    f"({', '.join(missing)}; needed within {window.value}{weak}{since}): {req.text}",
                    req,
                    {"missing": missing},
                )
            )
    return findings


def _due_for_dose(ctx: CheckContext, item: MonitoringItem) -> ItemDue | None:
    """The monitoring item's due date as the monitoring list computes it, for this dose."""
    exp = exposure(ctx.kb, ctx.agent, ctx.state, ctx.date, ctx.profile)
    return item_due(ctx.kb, ctx.agent, item, ctx.state, ctx.date, ctx.profile, exp, for_a_dose=True)


def _monitored_requirement(ctx: CheckContext, req: LabRequirement) -> Finding | None:
    missing: list[str] = []
    parts: list[str] = []
    used: list[Fact] = [req]
    for code in req.tests:
        item = next(m for m in agent_items(ctx.agent, ctx.profile) if code in m.satisfied_by)
        due = _due_for_dose(ctx, item)
        if due is None or not due.overdue_for_dose(ctx.date):
            continue
        missing.append(code)
        used += [item, *due.facts]
        every = (
            f"every {item.interval}"
            if item.interval
            else f"since the last dose, within {ctx.kb.clinic.screening_max_age.value}"
        )
        last = f", last {due.last_done.isoformat()}" if due.last_done else ", none on file"
        parts.append(f"{code}: {every}{last}")
    if not missing:
        return None
    return _findings(
        ctx,
        req.severity_missing,
        f"screening.{req.id}",
        f"Missing or out-of-date result{'s' if len(missing) > 1 else ''} "
        f"({'; '.join(parts)}): {req.text}",
        used,
        {"missing": missing},
    )


@rule(
    "vaccines",
    "Vaccines before a dose",
    "A live or non-live vaccine given within the label's lead time before a dose (or before the "
    "first dose, or a course) gives the rule's severity: a hold for live vaccines, a warning for "
    "non-live ones under the current US anti-CD20 labels.",
)
def vaccines(ctx: CheckContext) -> list[Finding]:
    findings = []
    for rule_ in ctx.agent.vaccination:
        if ctx.profile not in rule_.profiles:
            continue
        if rule_.applies_before == "first_dose" and not ctx.is_first_dose:
            continue
        if rule_.applies_before == "course_start" and not ctx.is_course_start:
            continue
        for vaccine in ctx.state.vaccinations:
            kind_ok = rule_.vaccine_kind == "any" or (rule_.vaccine_kind == "live") == vaccine.live
            if kind_ok and vaccine.date <= ctx.date < rule_.min_before.after(vaccine.date):
                findings.append(
                    _finding(
                        ctx,
                        rule_.severity,
                        f"vaccines.{rule_.vaccine_kind}",
                        f"{'Live' if vaccine.live else 'Non-live'} vaccine given "
                        f"{(ctx.date - vaccine.date).days} day(s) ago; {rule_.text}",
                        rule_,
                        {"vaccine_date": vaccine.date},
                    )
                )
                break
    return findings


@rule(
    "switch.washout",
    "Gap after an earlier therapy (switching)",
    "Where the knowledge base sets a gap between an earlier therapy and this agent (natalizumab "
    "after an anti-CD20 antibody: a clinic policy, as the labels set none), a dose less than the "
    "gap after the last dose of that therapy gives the rule's severity and names the clinic's "
    "choice.",
)
def switching(ctx: CheckContext) -> list[Finding]:
    findings = []
    own = ctx.ever_given[-1].date if ctx.ever_given else None
    for rule_ in ctx.agent.switching:
        if ctx.profile not in rule_.profiles:
            continue
        last = _last_dose_of(ctx, rule_.after)
        if last is None or (own is not None and own >= last[1]):
            continue
        agent, when = last
        ready = rule_.min_gap.after(when)
        if ctx.date < ready:
            findings.append(
                _finding(
                    ctx,
                    rule_.severity,
                    f"switch.{rule_.id}",
                    f"Last {agent} dose on {when.isoformat()}: the earliest start after it is "
                    f"{ready.isoformat()} ({rule_.min_gap}). {rule_.text}",
                    rule_,
                    {"last_dose": when, "earliest": ready, "after": agent},
                )
            )
    return findings


def _last_dose_of(ctx: CheckContext, agents: Iterable[str]) -> tuple[str, date] | None:
    """The most recent dose (or therapy end) of any of ``agents`` before the check date."""
    wanted = set(agents)
    seen: list[tuple[date, str]] = [
        (a.date, a.agent)
        for a in ctx.state.administrations
        if a.agent in wanted and a.date < ctx.date
    ]
    seen += [
        (t.end, t.agent)
        for t in ctx.state.therapies
        if t.agent in wanted and t.end is not None and t.end < ctx.date
    ]
    if not seen:
        return None
    when, agent = max(seen)
    return agent, when


@rule(
    "rate.minimum-duration",
    "Infusion faster than allowed",
    "Hold when the planned infusion time is shorter than the protocol's minimum (methylprednisolone: "
    "never under 30 minutes).",
)
def minimum_duration(ctx: CheckContext) -> list[Finding]:
    planned = ctx.request.planned_infusion_minutes
    if planned is None:
        return []
    for protocol in ctx.agent.rate_protocols:
        if protocol.minimum_minutes is not None and planned < protocol.minimum_minutes.value:
            return [
                _finding(
                    ctx,
                    "hold",
                    "rate.minimum-duration",
                    f"A {planned:g}-minute infusion is faster than allowed: {ctx.agent.name} must run "
                    f"over at least {protocol.minimum_minutes.value:g} minutes.",
                    protocol.minimum_minutes,
                )
            ]
    return []


# -------------------------------------------------------------------------- ocrelizumab


@rule(
    "ocrelizumab.shorter-protocol",
    "Shorter 2-hour protocol eligibility",
    "When the shorter protocol is planned: hold unless the dose is a 600 mg maintenance dose and "
    "the patient never had a serious (grade 3 or more) ocrelizumab infusion reaction.",
    agents=["ocrelizumab"],
)
def shorter_protocol(ctx: CheckContext) -> list[Finding]:
    if ctx.request.protocol != "shorter":
        return []
    shorter = next((p for p in ctx.agent.rate_protocols if p.protocol == "shorter"), None)
    if shorter is None:  # pragma: no cover
        return []
    fact: Fact = shorter.eligibility[-1] if shorter.eligibility else shorter
    worst = max((a.reaction_grade for a in ctx.ever_given), default=0)
    if not shorter.infusions.contains(ctx.infusion_number):
        return [
            _finding(
                ctx,
                "hold",
                "ocrelizumab.shorter-protocol",
                f"Not eligible for the shorter protocol: infusion {ctx.infusion_number} is not a 600 mg "
                "maintenance dose. Use the standard protocol.",
                shorter.eligibility[0] if shorter.eligibility else shorter,
            )
        ]
    if worst >= 3:
        return [
            _finding(
                ctx,
                "hold",
                "ocrelizumab.shorter-protocol",
                f"Not eligible for the shorter protocol: a grade {worst} reaction to ocrelizumab is "
                "recorded. Use the standard protocol.",
                fact,
                {"worst_grade": worst},
            )
        ]
    return [
        _finding(
            ctx,
            "info",
            "ocrelizumab.shorter-protocol",
            "Eligible for the shorter 2-hour protocol.",
            fact,
        )
    ]


# -------------------------------------------------------------------------- natalizumab


@rule(
    "natalizumab.concomitant-therapy",
    "Concomitant immunosuppressant or disease-modifying therapy",
    "Hold when another disease-modifying therapy or an immunosuppressant is recorded as ongoing: "
    "natalizumab is a monotherapy.",
    agents=["natalizumab"],
)
def concomitant(ctx: CheckContext) -> list[Finding]:
    others = _concomitant(ctx)
    if not others:
        return []
    fact: Fact | None = next(
        (
            c
            for c in ctx.agent.contraindications
            if c.condition == "concomitant_dmt" and ctx.profile in c.profiles
        ),
        None,
    )
    if fact is None:
        fact = ctx.agent.indications.get(ctx.profile)
    assert fact is not None
    return [
        _finding(
            ctx,
            "hold",
            "natalizumab.concomitant-therapy",
            f"Ongoing {', '.join(others)} recorded: natalizumab is given as monotherapy.",
            fact,
            {"therapies": others},
        )
    ]


def _authorizations(ctx: CheckContext, program: Rems) -> list[Authorization]:
    return sorted(
        (
            a
            for a in ctx.state.authorizations
            if a.program in program.authorizations and a.date <= ctx.date
        ),
        key=lambda a: a.date,
    )


def _reauthorization_item(ctx: CheckContext, program: Rems) -> MonitoringItem | None:
    """The monitoring item (kind ``authorization``) that re-authorizes ``program``."""
    return next(
        (
            m
            for m in agent_items(ctx.agent, ctx.profile)
            if m.kind == "authorization" and set(m.satisfied_by) & set(program.authorizations)
        ),
        None,
    )


@rule(
    "rems.enrolment",
    "REMS enrolment on file (US)",
    "Hold when the agent is given only through a REMS under the profile (LEMTRADA REMS) and no "
    "enrolment or authorization of the patient in the programme is on file.",
)
def rems_enrolment(ctx: CheckContext) -> list[Finding]:
    findings = []
    for program in ctx.agent.rems:
        if ctx.profile not in program.profiles or _reauthorization_item(ctx, program):
            continue  # programmes with re-authorization have their own rule (TOUCH)
        if not _authorizations(ctx, program):
            findings.append(
                _finding(
                    ctx,
                    "hold",
                    "rems.enrolment",
                    f"No {program.program} enrolment is on file: {ctx.agent.name} is given only "
                    "through the programme; confirm the patient's enrolment and authorization "
                    "before infusing.",
                    program,
                )
            )
    return findings


@rule(
    "natalizumab.touch-authorization",
    "TOUCH authorization current (US)",
    "Hold when no TOUCH (or TYRUKO REMS) authorization is on file, or re-authorization is overdue "
    "by the TOUCH re-authorization monitoring item (the same due date as the monitoring list).",
    agents=["natalizumab"],
)
def touch(ctx: CheckContext) -> list[Finding]:
    program = next((r for r in ctx.agent.rems if ctx.profile in r.profiles), None)
    if program is None:
        return []
    item = _reauthorization_item(ctx, program)
    if item is None:
        return []
    auths = _authorizations(ctx, program)
    if not auths:
        return [
            _findings(
                ctx,
                "hold",
                "natalizumab.touch-authorization",
                "No TOUCH authorization is on file: do not infuse; refer to the prescriber.",
                [program, item],
            )
        ]
    due = _due_for_dose(ctx, item)
    if due is not None and due.overdue_for_dose(ctx.date):
        last = auths[-1].date
        return [
            _findings(
                ctx,
                "hold",
                "natalizumab.touch-authorization",
                f"The TOUCH authorization of {last.isoformat()} is older than {item.interval}: "
                f"re-authorization was due {due.due.isoformat()}; do not infuse until it is "
                "confirmed.",
                [program, item],
                {"last_authorization": last, "due": due.due},
            )
        ]
    return []


def _pml(ctx: CheckContext) -> PmlRisk:
    return pml_risk_from_state(ctx.kb, ctx.state, ctx.date)


@rule(
    "natalizumab.jcv-status",
    "Anti-JCV antibody status",
    "Warns when no valid anti-JCV antibody result is on file (status unknown), or when an anti-JCV "
    "retest monitoring item is overdue (every 6 months from the last valid negative result; for a "
    "low index without prior immunosuppressants, from the 2-year point): the same due date as the "
    "monitoring list, the worklists and the PML risk report.",
    agents=["natalizumab"],
)
def jcv_status(ctx: CheckContext) -> list[Finding]:
    params = ctx.agent.pml
    assert params is not None
    risk = _pml(ctx)
    if risk.jcv_status == "unknown":
        item = pml_monitoring_item(ctx.kb, "jcv_negative")
        due = _due_for_dose(ctx, item)
        return [
            _finding(
                ctx,
                "warn",
                "natalizumab.jcv-status",
                "Anti-JCV antibody status is unknown (no valid result on file): test it to "
                "stratify PML risk.",
                item,
                {"due": due.due if due is not None else ctx.date, "result_date": None},
            )
        ]
    threshold = params.high_index_threshold.value
    findings = []
    for condition in ("jcv_negative", "jcv_low_index_no_prior_is"):
        item = pml_monitoring_item(ctx.kb, condition)
        if ctx.profile not in item.profiles or not applies(
            item, ctx.state, ctx.date, risk, threshold
        ):
            continue
        due = _due_for_dose(ctx, item)
        if due is None or not due.overdue_for_dose(ctx.date):
            continue
        last = (
            f"the last valid result is from {due.last_done.isoformat()}"
            if due.last_done
            else "no result since treatment started"
        )
        findings.append(
            _finding(
                ctx,
                "warn",
                "natalizumab.jcv-status",
                f"{item.item}: due {due.due.isoformat()} ({last}; every {item.interval}): retest.",
                item,
                {"due": due.due, "result_date": due.last_done},
            )
        )
    return findings


@rule(
    "natalizumab.jcv-sample-invalid",
    "Anti-JCV sample validity",
    "Warns when the latest anti-JCV sample was taken within 2 weeks after plasma exchange or 6 "
    "months after IVIG (not valid).",
    agents=["natalizumab"],
)
def jcv_sample(ctx: CheckContext) -> list[Finding]:
    risk = _pml(ctx)
    if not risk.invalid_sample:
        return []
    params = ctx.agent.pml
    assert params is not None
    fact = (
        params.invalid_after_ivig
        if "IVIG" in risk.invalid_sample
        else params.invalid_after_plasma_exchange
    )
    return [_finding(ctx, "warn", "natalizumab.jcv-sample-invalid", risk.invalid_sample, fact)]


@rule(
    "natalizumab.pml-risk",
    "PML risk",
    "Reports the PML risk estimate with its band and table; a higher-risk patient is a warning to "
    "acknowledge, others an information finding.",
    agents=["natalizumab"],
)
def pml_risk(ctx: CheckContext) -> list[Finding]:
    risk = _pml(ctx)
    table = ctx.kb.pml_table(risk.table_id)
    assert table is not None
    estimate = (
        f"{risk.risk_per_1000:g} per 1,000"
        if risk.risk_per_1000 is not None
        else f"no table value ({risk.band_note})"
    )
    factors = ", ".join(f.factor for f in risk.risk_factors if f.applies) or "none"
    severity = "warn" if risk.category == "higher" else "info"
    return [
        _finding(
            ctx,
            severity,
            "natalizumab.pml-risk",
            f"PML risk ({risk.category}): {estimate}; risk factors present: {factors}.",
            table,
            {"risk_per_1000": risk.risk_per_1000, "band": risk.band},
        )
    ]


@rule(
    "natalizumab.baseline-mri",
    "Baseline MRI on file",
    "Warns when no brain MRI is on file for a patient already on natalizumab (before the first "
    "dose the screening rule holds instead).",
    agents=["natalizumab"],
)
def baseline_mri(ctx: CheckContext) -> list[Finding]:
    if ctx.is_first_dose or ctx.state.procedures_of(["mri_brain"], ctx.date):
        return []
    req = next((s for s in ctx.agent.screening if "mri_brain" in s.tests), None)
    assert req is not None
    return [
        _finding(
            ctx,
            "warn",
            "natalizumab.baseline-mri",
            "No brain MRI is on file for this natalizumab patient.",
            req,
        )
    ]


# -------------------------------------------------------------------------- mitoxantrone


@rule(
    "mitoxantrone.lvef-fall",
    "LVEF reduction",
    "Warns when the newest LVEF is lower than the previous one: a clinically significant reduction "
    "must be excluded before dosing.",
    agents=["mitoxantrone"],
)
def lvef_fall(ctx: CheckContext) -> list[Finding]:
    results = [lab for lab in ctx.state.labs_of("lvef", ctx.date) if lab.number is not None]
    if len(results) < 2:
        return []
    newest, previous = results[0], results[1]
    assert newest.number is not None
    assert previous.number is not None
    if newest.number >= previous.number:
        return []
    limit = next(limit for limit in ctx.agent.lab_limits if limit.test == "lvef")
    return [
        _finding(
            ctx,
            "warn",
            "mitoxantrone.lvef-fall",
            f"LVEF fell from {previous.number:g}% to {newest.number:g}%: exclude a clinically "
            "significant reduction before dosing.",
            limit,
        )
    ]
