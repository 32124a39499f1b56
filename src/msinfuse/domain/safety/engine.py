"""The pre-infusion check: run every registered rule, decide go / caution / hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from msinfuse.domain.findings import Decision, Finding, decide, sort_findings
from msinfuse.domain.knowledge.facts import ProfileId
from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.domain.patient import PatientState
from msinfuse.domain.provenance import DECISION_SUPPORT, LabelRef, label_refs
from msinfuse.domain.safety.context import CheckContext, CheckRequest
from msinfuse.domain.safety.rules import RULES
from msinfuse.errors import InvalidInput, NotFound


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of a pre-infusion check."""

    agent: str
    agent_name: str
    date: date
    profile: ProfileId
    regimen: str
    infusion_number: int
    course: int | None
    course_day: int | None
    course_based: bool
    decision: Decision
    findings: tuple[Finding, ...]
    sources: tuple[str, ...]
    labels: tuple[LabelRef, ...]
    decision_support: str = DECISION_SUPPORT


def check(kb: KnowledgeBase, state: PatientState, request: CheckRequest) -> CheckResult:
    """Check ``state`` before giving ``request.agent`` on ``request.date``.

    The decision is ``hold`` if any finding holds, else ``caution`` if any warns, else ``go``
    (clinical-decisions §5). An infusion recorded after the check date is bad input
    (:class:`~msinfuse.errors.InvalidInput`), as for a dose calendar.
    """
    agent = kb.agent(request.agent)
    if agent is None:
        raise NotFound(
            f"unknown agent {request.agent!r}; valid agents: {', '.join(sorted(kb.agents))}"
        )
    if request.protocol not in ("standard", "shorter"):
        raise InvalidInput(f"unknown protocol {request.protocol!r}; valid: standard, shorter")
    if any(a.date > request.date for a in state.administrations):
        raise InvalidInput(
            "the record holds an infusion dated after the check date: a check looks at the doses "
            "given before the planned dose; check a later date or correct the record"
        )
    plan = state.plan_for(agent.id)
    regimen = agent.regimen(plan.regimen) if plan and plan.regimen else agent.default_regimen
    if regimen is None:
        valid = ", ".join(r.id for r in agent.regimens)
        raise InvalidInput(f"the plan names an unknown {agent.id} regimen; valid regimens: {valid}")
    ctx = CheckContext(kb, agent, regimen, state, request)
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for registered in RULES:
        if not registered.applies_to(agent.id):
            continue
        for finding in registered.fn(ctx):
            key = (finding.rule, finding.message)
            if key not in seen:
                seen.add(key)
                findings.append(finding)
    decision = decide(findings)
    position = ctx.position
    return CheckResult(
        agent=agent.id,
        agent_name=agent.name,
        date=request.date,
        profile=request.profile,
        regimen=regimen.id,
        infusion_number=ctx.infusion_number,
        course=position.course if position else None,
        course_day=position.course_day if position else None,
        course_based=regimen.initial.kind == "course",
        decision=decision,
        findings=sort_findings([*findings, *ctx.log.weak_findings()]),
        sources=ctx.log.sources(),
        labels=label_refs(agent, request.profile),
    )
