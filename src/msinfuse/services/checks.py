"""Stored pre-infusion checks: run and store, acknowledge warnings, override holds.

A stored check keeps the findings exactly as they were shown, with the label revisions and
knowledge-base version. A nurse acknowledges each warning; only a prescriber may override a
hold, and only with a reason. A check is *cleared* when every warning is acknowledged and
every hold overridden.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from msinfuse.domain.safety import CheckRequest, check
from msinfuse.errors import Conflict, InvalidInput
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.models import CheckAcknowledgement, CheckOverride, CheckResult, Patient
from msinfuse.services import audit
from msinfuse.services.clinical import check_json
from msinfuse.services.context import ServiceContext, require
from msinfuse.services.state import build_patient_state

#: Shortest reason a prescriber may give for overriding a hold.
MIN_REASON = 10


def stored_check_json(session: Session, row: CheckResult) -> dict[str, Any]:
    """A stored check with its acknowledgements, overrides and clearance."""
    acks, overrides = repo.check_details(session, row.id)
    acked = {a.rule for a in acks}
    overridden = {o.rule for o in overrides}
    warns = {f["rule"] for f in row.findings if f["severity"] == "warn"}
    holds = {f["rule"] for f in row.findings if f["severity"] == "hold"}
    return {
        "id": row.id,
        "patient_id": row.patient_id,
        "planned_dose_id": row.planned_dose_id,
        "agent": row.agent,
        "date": row.check_date.isoformat(),
        "profile": row.profile,
        "protocol": row.protocol,
        "decision": row.decision,
        "findings": row.findings,
        "label_revisions": row.label_revisions,
        "kb_version": row.kb_version,
        "acknowledged": sorted(acked),
        "overridden": [
            {"rule": o.rule, "reason": o.reason, "user_id": o.user_id, "at": o.at.isoformat()}
            for o in overrides
        ],
        "pending_warnings": sorted(warns - acked),
        "pending_holds": sorted(holds - overridden),
        "cleared": warns <= acked and holds <= overridden,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
    }


def run_check(
    session: Session,
    ctx: ServiceContext,
    patient_id: int,
    agent: str,
    on: date | None = None,
    protocol: str = "standard",
    planned_infusion_minutes: float | None = None,
    planned_dose_id: int | None = None,
) -> dict[str, Any]:
    """Run the pre-infusion check for a stored patient and store it as shown."""
    require(ctx.actor, "checks.run")
    patient = repo.get_or_raise(session, Patient, patient_id, "patient")
    plan = repo.active_plan(session, patient.id, agent)
    profile = plan.profile if plan is not None else patient.profile
    state = build_patient_state(session, ctx.kb, patient)
    result = check(
        ctx.kb,
        state,
        CheckRequest(agent, on or ctx.today, profile, protocol, planned_infusion_minutes),  # type: ignore[arg-type]
    )
    data = check_json(result)
    row = CheckResult(
        patient_id=patient.id,
        planned_dose_id=planned_dose_id,
        agent=result.agent,
        check_date=result.date,
        profile=result.profile,
        protocol=protocol,
        decision=result.decision,
        findings=data["findings"],
        label_revisions=data["label_revisions"],
        kb_version=ctx.kb.version,
        created_by=ctx.actor.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(session, ctx, "create", "CheckResult", row.id)
    out = stored_check_json(session, row)
    out["sources"] = data["sources"]
    out["decision_support"] = data["decision_support"]
    return out


def get_check(session: Session, ctx: ServiceContext, check_id: int) -> dict[str, Any]:
    """A stored check."""
    require(ctx.actor, "patients.read")
    row = repo.get_or_raise(session, CheckResult, check_id, "check")
    audit.record(session, ctx, "read", "CheckResult", row.id)
    return stored_check_json(session, row)


def acknowledge(session: Session, ctx: ServiceContext, check_id: int, rule: str) -> dict[str, Any]:
    """Acknowledge one warning of a stored check."""
    require(ctx.actor, "checks.acknowledge")
    row = repo.get_or_raise(session, CheckResult, check_id, "check")
    severities = {f["rule"]: f["severity"] for f in row.findings}
    if severities.get(rule) != "warn":
        raise InvalidInput(f"the check has no warning {rule!r} to acknowledge")
    acks, _ = repo.check_details(session, row.id)
    if rule in {a.rule for a in acks}:
        raise Conflict(f"warning {rule!r} was already acknowledged")
    session.add(
        CheckAcknowledgement(check_id=row.id, rule=rule, user_id=ctx.actor.user_id, at=ctx.now)
    )
    session.flush()
    audit.record(session, ctx, "acknowledge", "CheckResult", row.id)
    return stored_check_json(session, row)


def override(
    session: Session, ctx: ServiceContext, check_id: int, rule: str, reason: str
) -> dict[str, Any]:
    """A prescriber overrides one hold of a stored check, with a recorded reason."""
    require(ctx.actor, "checks.override")
    row = repo.get_or_raise(session, CheckResult, check_id, "check")
    severities = {f["rule"]: f["severity"] for f in row.findings}
    if severities.get(rule) != "hold":
        raise InvalidInput(f"the check has no hold {rule!r} to override")
    if not reason or len(reason.strip()) < MIN_REASON:
        raise InvalidInput(f"overriding a hold needs a reason of at least {MIN_REASON} characters")
    _, overrides = repo.check_details(session, row.id)
    if rule in {o.rule for o in overrides}:
        raise Conflict(f"hold {rule!r} was already overridden")
    session.add(
        CheckOverride(
            check_id=row.id, rule=rule, reason=reason.strip(), user_id=ctx.actor.user_id, at=ctx.now
        )
    )
    session.flush()
    audit.record(session, ctx, "override", "CheckResult", row.id)
    return stored_check_json(session, row)


def checks_for_patient(
    session: Session, ctx: ServiceContext, patient_id: int
) -> list[dict[str, Any]]:
    """A patient's recent stored checks."""
    require(ctx.actor, "patients.read")
    repo.get_or_raise(session, Patient, patient_id, "patient")
    audit.record(session, ctx, "read", "CheckResult", f"patient:{patient_id}")
    return [stored_check_json(session, row) for row in repo.checks_for_patient(session, patient_id)]
