"""Clinical use cases on a patient state: checks, monitoring, PML risk, options.

Each returns JSON-ready data; the CLI, API and web render it. The record-backed services
build the patient state from the database and call the same functions.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from msinfuse.domain.knowledge.facts import ProfileId
from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.domain.monitoring import MonitoringResult, monitoring
from msinfuse.domain.options import Options, options
from msinfuse.domain.patient import PatientState
from msinfuse.domain.provenance import LabelRef
from msinfuse.domain.risk import PmlRisk, pml_risk, pml_risk_from_state
from msinfuse.domain.risk.pml import JcvStatus
from msinfuse.domain.safety import CheckRequest, CheckResult, check
from msinfuse.services.knowledge import burden_json, finding_json


def _labels(refs: tuple[LabelRef, ...]) -> list[dict[str, str]]:
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for r in refs:
        seen.setdefault(
            (r.document, r.revision),
            {"agent": r.agent, "document": r.document, "revision": r.revision, "status": r.status},
        )
    return list(seen.values())


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def check_json(result: CheckResult) -> dict[str, Any]:
    """A check result as JSON."""
    return {
        "agent": result.agent,
        "date": result.date.isoformat(),
        "profile": result.profile,
        "regimen": result.regimen,
        "infusion_number": result.infusion_number,
        "course": result.course,
        "course_day": result.course_day,
        "course_based": result.course_based,
        "decision": result.decision,
        "findings": [
            {**finding_json(f), "data": {k: _iso(v) for k, v in f.data.items()}}
            for f in result.findings
        ],
        "sources": list(result.sources),
        "label_revisions": _labels(result.labels),
        "decision_support": result.decision_support,
    }


def run_check(kb: KnowledgeBase, state: PatientState, request: CheckRequest) -> dict[str, Any]:
    """Run the pre-infusion check and return it as JSON-ready data."""
    return check_json(check(kb, state, request))


def monitoring_json(result: MonitoringResult) -> dict[str, Any]:
    """A monitoring result as JSON."""
    return {
        "date": result.date.isoformat(),
        "profile": result.profile,
        "items": [
            {
                "agent": e.agent,
                "item": e.item,
                "item_id": e.item_id,
                "kind": e.kind,
                "due": e.due.isoformat(),
                "status": e.status,
                "last_done": _iso(e.last_done),
                "interval": e.interval,
                "until": _iso(e.until),
                "source": e.source,
                "fact_status": e.fact_status,
                "note": e.note,
            }
            for e in result.items
        ],
        "findings": [finding_json(f) for f in result.findings],
        "sources": list(result.sources),
        "label_revisions": _labels(result.labels),
        "decision_support": result.decision_support,
    }


def patient_monitoring(
    kb: KnowledgeBase, state: PatientState, on: date, profile: ProfileId
) -> dict[str, Any]:
    """Every monitoring item of a patient as JSON-ready data."""
    return monitoring_json(monitoring(kb, state, on, profile))


def pml_json(risk: PmlRisk, kb: KnowledgeBase) -> dict[str, Any]:
    """A PML risk estimate as JSON."""
    agent = kb.agents["natalizumab"]
    return {
        "risk_per_1000": risk.risk_per_1000,
        "band": risk.band,
        "band_note": risk.band_note or None,
        "table": {"id": risk.table_id, "name": risk.table_name, "status": risk.table_status},
        "category": risk.category,
        "jcv_status": risk.jcv_status,
        "index": risk.index,
        "months_exposed": risk.months_exposed,
        "prior_immunosuppressant": risk.prior_immunosuppressant,
        "risk_factors": [
            {"factor": f.factor, "applies": f.applies, "source": f.source}
            for f in risk.risk_factors
        ],
        "retest_due": _iso(risk.retest_due),
        "retest_interval_months": risk.retest_interval_months,
        "mri_interval_months": risk.mri_interval_months,
        "extended_interval_note": risk.extended_interval_note,
        "invalid_sample": risk.invalid_sample,
        "source": risk.source,
        "label_revisions": [
            {
                "agent": "natalizumab",
                "document": r.document,
                "revision": r.revision,
                "status": r.status,
            }
            for r in agent.labels
        ],
        "decision_support": risk.decision_support,
    }


def pml_from_factors(
    kb: KnowledgeBase, jcv: JcvStatus, index: float | None, months: int, prior_is: bool
) -> dict[str, Any]:
    """PML risk from explicit risk factors."""
    return pml_json(pml_risk(kb, jcv, index, months, prior_is), kb)


def pml_from_state(kb: KnowledgeBase, state: PatientState, on: date) -> dict[str, Any]:
    """PML risk of a patient on a date."""
    return pml_json(pml_risk_from_state(kb, state, on), kb)


def options_json(result: Options) -> dict[str, Any]:
    """Treatment options as JSON."""
    return {
        "date": result.date.isoformat(),
        "profile": result.profile,
        "ms_course": result.ms_course,
        "framing": result.framing,
        "agents": [
            {
                "agent": a.agent,
                "name": a.name,
                "drug_class": a.drug_class,
                "on_label": a.on_label,
                "off_label_in_ms": a.off_label_in_ms,
                "holds_today": [finding_json(f) for f in a.holds_today],
                "burden": burden_json(a.burden),
                "key_risks": [
                    {"title": r.title, "boxed": r.boxed, "figure": r.figure, "source": r.source}
                    for r in a.key_risks
                ],
            }
            for a in result.agents
        ],
        "alternatives": [
            {
                "id": alt.id,
                "name": alt.name,
                "brands": list(alt.brands),
                "route": alt.route,
                "frequency": alt.frequency,
                "drug_class": alt.drug_class,
                "status": alt.status,
            }
            for alt in result.alternatives
        ],
        "label_revisions": _labels(result.labels),
        "decision_support": result.decision_support,
    }


def patient_options(
    kb: KnowledgeBase, state: PatientState, on: date, profile: ProfileId
) -> dict[str, Any]:
    """Treatment options for a patient as JSON-ready data."""
    return options_json(options(kb, state, on, profile))
