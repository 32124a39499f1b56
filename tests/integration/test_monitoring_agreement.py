"""The worklists, the stored pre-infusion check and the monitoring list give one due date for
the same task, on SQLite and PostgreSQL (one source of truth for monitoring intervals)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from msinfuse.domain.monitoring import monitoring
from msinfuse.domain.risk import pml_risk_from_state
from msinfuse.persistence.models import Patient
from msinfuse.services import checks, clinic, infusions, plans, records, worklists
from msinfuse.services.context import ServiceContext
from msinfuse.services.state import build_patient_state
from tests.integration.conftest import TODAY, make_ctx


def _natalizumab_patient(session: Session, ctx: ServiceContext) -> int:
    clinic.create_site(session, ctx, {"code": "SJCV", "name": "Site", "chairs": 2})
    pid = int(
        records.register_patient(
            session,
            ctx,
            {
                "mrn": "JCV-1",
                "given_name": "Ana",
                "family_name": "Diaz",
                "birth_date": "1985-02-01",
                "sex": "female",
                "ms_course": "RRMS",
                "pregnant": False,
                "childbearing_potential": True,
                "home_site": "SJCV",
            },
        )["id"]
    )
    start = make_ctx(today=date(2026, 6, 1))
    plan = plans.start_plan(session, start, pid, {"agent": "natalizumab", "start": "2026-06-01"})
    later = make_ctx(today=date(2026, 10, 1))
    for dose in plan["doses"][:5]:
        infusions.record_administration(
            session,
            later,
            pid,
            {
                "planned_dose_id": dose["id"],
                "started_at": datetime.fromisoformat(dose["planned_on"] + "T09:00"),
                "historical": True,
            },
        )
    entries: list[tuple[str, dict[str, Any]]] = [
        # A negative anti-JCV test eight months before infusion 1: the retest is overdue.
        ("lab", {"test": "jcv_antibody", "value": "negative", "date": "2025-10-01"}),
        ("lab", {"test": "cbc", "value": "normal", "date": "2026-05-20"}),
        ("procedure", {"procedure": "mri_brain", "date": "2026-05-15"}),
        ("authorization", {"program": "TOUCH", "date": "2026-05-20"}),
    ]
    for kind, data in entries:
        records.add_record(session, ctx, pid, kind, data)  # type: ignore[arg-type]
    return pid


def test_the_worklist_the_check_and_the_monitoring_list_date_the_anti_jcv_retest_alike(
    session: Session, ctx: ServiceContext
):
    pid = _natalizumab_patient(session, ctx)
    worklists.refresh(session, ctx)
    rows = {
        r["item_id"]: r
        for r in worklists.monitoring_due(session, ctx, TODAY)
        if r["patient_id"] == pid
    }
    stored = checks.run_check(session, ctx, pid, "natalizumab", TODAY)
    findings = {f["rule"]: f for f in stored["findings"]}
    patient = session.get(Patient, pid)
    assert patient is not None
    state = build_patient_state(session, ctx.kb, patient)
    listed = {e.item_id: e for e in monitoring(ctx.kb, state, TODAY, "us").items}

    # Anti-JCV retest: 6 months after the last negative test of 2025-10-01.
    assert rows["jcv-retest-negative"]["due_on"] == "2026-04-01"
    assert rows["jcv-retest-negative"]["status"] == "overdue"
    assert listed["jcv-retest-negative"].due == date(2026, 4, 1)
    assert findings["natalizumab.jcv-status"]["data"]["due"] == "2026-04-01"
    assert pml_risk_from_state(ctx.kb, state, TODAY).retest_due == date(2026, 4, 1)

    # TOUCH re-authorization: 6 months after the authorization of 2026-05-20.
    assert rows["touch-reauthorization"]["due_on"] == "2026-11-20"
    assert listed["touch-reauthorization"].status == "overdue"
    assert findings["natalizumab.touch-authorization"]["severity"] == "hold"
    assert findings["natalizumab.touch-authorization"]["data"]["due"] == "2026-11-20"
