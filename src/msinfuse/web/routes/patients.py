"""Patients: the list, the patient page, and starting or changing a plan."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from msinfuse.domain.provenance import DECISION_SUPPORT
from msinfuse.http.deps import DB
from msinfuse.services import calendar_feed, checks, clinical, plans, records
from msinfuse.services.plan_preview import preview_plan
from msinfuse.web.charts import timeline_svg
from msinfuse.web.common import (
    FormErrors,
    WebRequest,
    attempt,
    field_error,
    form_values,
    labels_for,
    redirect,
    render,
    web,
)

router = APIRouter()
READ = web("patients.read")
PLAN = web("plans.write")
FEEDS = web("feeds.manage")
PAGE = 50


@router.get("/patients", response_class=HTMLResponse)
def patient_list(
    search: str | None = Query(default=None, max_length=100),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    sort: str | None = Query(default=None, max_length=20),
    wr: WebRequest = READ,
    session: Session = DB,
) -> HTMLResponse:
    """Find a patient by name or record number."""
    sort = sort if sort and sort.lstrip("-") in records.PATIENT_SORTS else None
    found = records.list_patients(session, wr.ctx, search or None, None, PAGE, offset, sort)
    return render(
        wr, "patients.html", found=found, search=search or "", sort=sort or "", page_size=PAGE
    )


def patient_data(wr: WebRequest, session: Session, patient_id: int) -> dict[str, Any]:
    """Everything the patient page shows, from the services the API uses."""
    ctx = wr.ctx
    record = records.patient_record_json(session, ctx, patient_id)
    patient = record["patient"]
    all_plans = plans.list_plans(session, ctx, patient_id)
    active = [p for p in all_plans if p["state"]["live"]]
    state = records.patient_state(session, ctx, patient_id)
    profile: Literal["us", "eu"] = "eu" if patient["profile"] == "eu" else "us"
    monitoring = clinical.patient_monitoring(ctx.kb, state, ctx.today, profile)
    agents = {p["agent"] for p in all_plans}
    pml = (
        clinical.pml_from_state(ctx.kb, state, ctx.today)
        if any(p["agent"] == "natalizumab" for p in active)
        else None
    )
    doses = [
        {**d, "agent": p["agent"], "plan_held": p["state"]["held"]}
        for p in all_plans
        for d in p["doses"]
    ]
    upcoming = sorted(
        (d for d in doses if d["status"] not in ("given", "cancelled")),
        key=lambda d: d["planned_on"],
    )
    holds = [
        {
            "message": f"{p['agent']} plan {p['state']['label']}: {p['state']['reason']}",
            "review_plan_id": p["id"],
        }
        for p in active
        if p["state"]["code"] == "review"
    ]
    holds += [
        f
        for c in checks.checks_for_patient(session, ctx, patient_id)[:5]
        for f in c["findings"]
        if f["severity"] == "hold" and f["rule"] in c["pending_holds"]
    ]
    live = {
        **record,
        "administrations": [
            a for a in record["administrations"] if a["record_status"] != "entered_in_error"
        ],
        "labs": [x for x in record["labs"] if x["record_status"] != "entered_in_error"],
    }
    recent_checks = checks.checks_for_patient(session, ctx, patient_id)[:5]
    return {
        "patient": patient,
        "record": record,
        "plans": all_plans,
        "active_plans": active,
        "next_dose": upcoming[0] if upcoming else None,
        "upcoming": upcoming,
        "monitoring": monitoring,
        "pml": pml,
        "open_holds": holds,
        "checks": recent_checks,
        "timeline": timeline_svg(live, doses, ctx.today),
        "review_decisions": plans.REVIEW_DECISIONS,
        "feeds": (
            calendar_feed.list_feeds(session, ctx, patient_id) if wr.can("feeds.manage") else []
        ),
        "new_feed_url": None,
        "labels": labels_for(wr, agents, profile),
        "decision_support": DECISION_SUPPORT,
    }


def render_patient(
    wr: WebRequest,
    session: Session,
    patient_id: int,
    fix: tuple[str, FormErrors] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The patient page, with the errors of a correction or review form when one failed
    (``fix``: the form's key and its errors)."""
    return render(
        wr,
        "patient.html",
        status=status,
        fix_key=fix[0] if fix else None,
        fix_errors=fix[1] if fix else None,
        fix_values=values or {},
        **patient_data(wr, session, patient_id),
    )


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(patient_id: int, wr: WebRequest = READ, session: Session = DB) -> HTMLResponse:
    """The patient page."""
    return render_patient(wr, session, patient_id)


@router.post("/plans/{plan_id}/review", response_class=HTMLResponse)
async def review(
    plan_id: int, request: Request, wr: WebRequest = PLAN, session: Session = DB
) -> Response:
    """A prescriber's decision on a plan held pending review (after a grade 4 or 5
    reaction): confirm the permanent discontinuation, resume or stop, with a reason."""
    values = form_values(await request.form())
    plan = plans.get_plan(session, wr.ctx, plan_id)
    decision = values.get("decision", "")
    errors = FormErrors()
    if decision not in plans.REVIEW_DECISIONS:
        errors.fields["decision"] = "choose a decision"
    if not errors:
        _, error = attempt(
            session,
            lambda: plans.decide_review(
                session,
                wr.ctx,
                plan_id,
                decision,  # type: ignore[arg-type]
                values.get("reason") or None,
            ),
        )
        if error is None:
            return redirect(f"/patients/{plan['patient_id']}", "reviewed")
        errors = field_error(error, ("decision", "reason"))
    return render_patient(
        wr, session, plan["patient_id"], (f"review:{plan_id}", errors), values, 400
    )


@router.post("/patients/{patient_id}/calendar-feeds", response_class=HTMLResponse)
async def create_feed(
    patient_id: int, request: Request, wr: WebRequest = FEEDS, session: Session = DB
) -> HTMLResponse:
    """A new private calendar link: the page shows its full address this once (the token is
    stored only as a hash, so it cannot be shown again; the response is never cached)."""
    await request.form()
    created = calendar_feed.create_feed(session, wr.ctx, patient_id)
    data = patient_data(wr, session, patient_id)
    data["new_feed_url"] = str(request.base_url).rstrip("/") + created["path"]
    data["new_feed_id"] = created["id"]
    return render(wr, "patient.html", status=201, **data)


@router.post("/calendar-feeds/{feed_id}/revoke", response_class=HTMLResponse)
async def revoke_feed(
    feed_id: int, request: Request, wr: WebRequest = FEEDS, session: Session = DB
) -> Response:
    """Revoke a calendar link: its address answers 404 from now on."""
    await request.form()
    feed = calendar_feed.revoke_feed(session, wr.ctx, feed_id)
    return redirect(f"/patients/{feed['patient_id']}", "feed-revoked")


def _plan_form(
    wr: WebRequest,
    session: Session,
    patient_id: int,
    values: dict[str, str],
    errors: FormErrors | None = None,
    preview: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    patient = records.get_patient(session, wr.ctx, patient_id)
    current = [
        p
        for p in plans.list_plans(session, wr.ctx, patient_id)
        if p["status"] in ("active", "paused")
    ]
    agents = sorted(wr.ctx.kb.agents.values(), key=lambda a: a.name)
    return render(
        wr,
        "plan_form.html",
        status=status,
        patient=patient,
        current_plans=current,
        agents=agents,
        values=values,
        errors=errors,
        preview=preview,
        labels=preview["label_revisions"] if preview else labels_for(wr, [values.get("agent")]),
        decision_support=DECISION_SUPPORT,
    )


@router.get("/patients/{patient_id}/plan", response_class=HTMLResponse)
def plan_page(patient_id: int, wr: WebRequest = PLAN, session: Session = DB) -> HTMLResponse:
    """Choose agent, regimen, profile and start date."""
    return _plan_form(
        wr, session, patient_id, {"start": wr.ctx.today.isoformat(), "protocol": "standard"}
    )


PLAN_FIELDS = ("agent", "regimen", "profile", "start", "protocol", "reason", "replace")


def _plan_body(values: dict[str, str]) -> tuple[dict[str, Any], FormErrors]:
    errors = FormErrors()
    body: dict[str, Any] = {
        "agent": values.get("agent", ""),
        "protocol": values.get("protocol") or "standard",
    }
    if values.get("regimen"):
        body["regimen"] = values["regimen"].split(":", 1)[-1]
    if values.get("profile"):
        body["profile"] = values["profile"]
    try:
        body["start"] = date.fromisoformat(values.get("start", ""))
    except ValueError:
        errors.fields["start"] = "enter the start date (YYYY-MM-DD)"
    if not body["agent"]:
        errors.fields["agent"] = "choose an agent"
    return body, errors


@router.post("/patients/{patient_id}/plan", response_class=HTMLResponse)
async def plan_submit(
    patient_id: int, request: Request, wr: WebRequest = PLAN, session: Session = DB
) -> Response:
    """Preview the plan (action=preview) or start it (action=confirm)."""
    values = form_values(await request.form())
    body, errors = _plan_body(values)
    if errors:
        return _plan_form(wr, session, patient_id, values, errors, status=400)
    preview, error = attempt(session, lambda: preview_plan(session, wr.ctx, patient_id, body))
    if error is not None:
        return _plan_form(
            wr, session, patient_id, values, field_error(error, PLAN_FIELDS), status=400
        )
    if values.get("action") != "confirm":
        return _plan_form(wr, session, patient_id, values, preview=preview)
    replace = values.get("replace")
    if replace:
        own = {str(p["id"]) for p in plans.list_plans(session, wr.ctx, patient_id)}
        reason = values.get("reason", "").strip()
        if replace not in own:
            errors = FormErrors({"replace": "choose one of this patient's plans"})
        elif not reason:
            errors = FormErrors({"reason": "say why the current plan is replaced"})
        if errors:
            return _plan_form(wr, session, patient_id, values, errors, preview, 400)
        _, error = attempt(
            session,
            lambda: plans.switch_plan(session, wr.ctx, int(replace), body, reason),
        )
    else:
        _, error = attempt(session, lambda: plans.start_plan(session, wr.ctx, patient_id, body))
    if error is not None:
        return _plan_form(
            wr, session, patient_id, values, field_error(error, PLAN_FIELDS), preview, 400
        )
    return redirect(f"/patients/{patient_id}", "plan")
