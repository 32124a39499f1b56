"""Commands over the clinic's records: database, patients, plans, records, appointments,
worklists and sites. Each opens one transaction and calls one service."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import Progress
from sqlalchemy.orm import Session

from msinfuse.cli.common import (
    JsonOption,
    console,
    emit_json,
    err_console,
    knowledge,
    parse_date,
    print_findings,
    table,
)
from msinfuse.config import get_settings
from msinfuse.domain.provenance import DECISION_SUPPORT
from msinfuse.persistence.engine import make_engine, session_factory, session_scope
from msinfuse.persistence.migrate import upgrade
from msinfuse.services import appointments, checks, clinic, csv_export, plans, records, worklists
from msinfuse.services.context import SYSTEM, ServiceContext

T = TypeVar("T")

db_app = typer.Typer(help="The database: create or upgrade its schema.", no_args_is_help=True)
patients_app = typer.Typer(help="Patients and their clinical record.", no_args_is_help=True)
plan_app = typer.Typer(help="Treatment plans and their dose calendars.", no_args_is_help=True)
record_app = typer.Typer(
    help="Record labs, vaccinations, conditions, procedures, authorizations, therapies, infusions.",
    no_args_is_help=True,
)
appointment_app = typer.Typer(help="Chair appointments.", no_args_is_help=True)
worklist_app = typer.Typer(help="Clinic-wide worklists.", no_args_is_help=True)
sites_app = typer.Typer(help="Sites and chairs.", no_args_is_help=True)

SiteOption = Annotated[str | None, typer.Option("--site", help="Site code.")]
CsvOption = Annotated[
    bool,
    typer.Option("--csv", help="Print CSV (header row, then every row) instead of a table."),
]
DateOption = Annotated[str | None, typer.Option("--date", help="Date (YYYY-MM-DD; default today).")]


def database_url() -> str:
    """The configured database URL (``MSINFUSE_DATABASE_URL`` or the embedded SQLite file)."""
    return get_settings().effective_database_url()


@contextmanager
def transaction() -> Iterator[tuple[Session, ServiceContext]]:
    """One transaction with the command line's service context."""
    engine = make_engine(database_url())
    try:
        with session_scope(session_factory(engine)) as session:
            yield session, ServiceContext(knowledge(), SYSTEM, date.today(), datetime.now(UTC))
    finally:
        engine.dispose()


def run(fn: Callable[[Session, ServiceContext], T]) -> T:
    """Run a service call in one transaction."""
    with transaction() as (session, ctx):
        return fn(session, ctx)


def _load_json(value: str) -> Any:
    path = Path(value)
    text = path.read_text(encoding="utf-8") if path.exists() else value
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(
            f"not valid JSON (line {exc.lineno}): give a JSON object or a file"
        ) from None


# ------------------------------------------------------------------------------- database


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    upgrade(database_url())
    console.print("Database schema is up to date.")


# ------------------------------------------------------------------------------- patients


@patients_app.command("add")
def patients_add(
    mrn: Annotated[str, typer.Option("--mrn", help="Medical record number.")],
    given_name: Annotated[str, typer.Option("--given-name")],
    family_name: Annotated[str, typer.Option("--family-name")],
    birth_date: Annotated[str | None, typer.Option("--birth-date")] = None,
    sex: Annotated[str | None, typer.Option("--sex", help="female, male or other")] = None,
    ms_course: Annotated[
        str | None, typer.Option("--ms-course", help="CIS, RRMS, SPMS-active, SPMS-nonactive, PPMS")
    ] = None,
    weight_kg: Annotated[float | None, typer.Option("--weight-kg")] = None,
    height_cm: Annotated[float | None, typer.Option("--height-cm")] = None,
    site: SiteOption = None,
    profile: Annotated[str, typer.Option("--profile", help="us or eu")] = "us",
    json_: JsonOption = False,
) -> None:
    """Register a patient."""
    data = {
        "mrn": mrn,
        "given_name": given_name,
        "family_name": family_name,
        "birth_date": birth_date,
        "sex": sex,
        "ms_course": ms_course,
        "weight_kg": weight_kg,
        "height_cm": height_cm,
        "home_site": site,
        "profile": profile,
    }
    out = run(
        lambda s, c: records.register_patient(
            s, c, {k: v for k, v in data.items() if v is not None}
        )
    )
    emit_json(out) if json_ else console.print(f"Registered patient {out['id']}.")


@patients_app.command("list")
def patients_list(
    search: Annotated[str | None, typer.Option("--search", help="Name or record number.")] = None,
    site: SiteOption = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    offset: Annotated[int, typer.Option("--offset")] = 0,
    json_: JsonOption = False,
) -> None:
    """List patients."""
    out = run(lambda s, c: records.list_patients(s, c, search, site, limit, offset))
    if json_:
        emit_json(out)
        return
    console.print(
        table(
            f"Patients ({out['total']} in all)",
            ["Id", "MRN", "Name", "Born", "MS course"],
            [
                (
                    p["id"],
                    p["mrn"],
                    f"{p['family_name']}, {p['given_name']}",
                    p["birth_date"],
                    p["ms_course"],
                )
                for p in out["items"]
            ],
        )
    )


@patients_app.command("show")
def patients_show(patient_id: Annotated[int, typer.Argument()], json_: JsonOption = False) -> None:
    """A patient's record, plans and recent checks."""

    def fetch(s: Session, c: ServiceContext) -> dict[str, Any]:
        out = records.patient_record_json(s, c, patient_id)
        out["plans"] = plans.list_plans(s, c, patient_id)
        out["checks"] = checks.checks_for_patient(s, c, patient_id)
        return out

    out = run(fetch)
    if json_:
        emit_json(out)
        return
    p = out["patient"]
    console.print(
        f"[bold]{p['family_name']}, {p['given_name']}[/] (id {p['id']}, MRN {p['mrn']}) - {p['ms_course'] or 'MS course not recorded'}"
    )
    for plan in out["plans"]:
        upcoming = [d for d in plan["doses"] if d["status"] not in ("given", "cancelled")]
        nxt = upcoming[0] if upcoming else None
        console.print(
            f"  plan {plan['id']}: {plan['agent']} {plan['regimen']} ({plan['status']})"
            + (
                f", next dose {nxt['number']} on {nxt['planned_on']} ({nxt['status']})"
                if nxt
                else ""
            )
        )
    console.print(
        table(
            "Labs",
            ["Date", "Test", "Value", "Flag"],
            [(x["date"], x["test"], x["value"], x["flag"] or "") for x in out["labs"][-15:]],
        )
    )


@patients_app.command("state")
def patients_state(patient_id: Annotated[int, typer.Argument()]) -> None:
    """The patient's state in the patient-state JSON format (docs/patient-state.md)."""
    out = run(lambda s, c: records.patient_record_json(s, c, patient_id))
    p = out["patient"]
    emit_json(
        {
            "id": str(p["id"]),
            **{
                k: p[k]
                for k in (
                    "birth_date",
                    "sex",
                    "weight_kg",
                    "height_cm",
                    "ms_course",
                    "pregnant",
                    "breastfeeding",
                    "childbearing_potential",
                )
            },
            "labs": [
                {k: x[k] for k in ("test", "value", "date", "unit", "flag")} for x in out["labs"]
            ],
            "vaccinations": [
                {k: x[k] for k in ("vaccine", "live", "date")} for x in out["vaccinations"]
            ],
            "conditions": [
                {k: x[k] for k in ("condition", "onset", "resolved")} for x in out["conditions"]
            ],
            "therapies": [
                {k: x[k] for k in ("agent", "start", "end", "immunosuppressant")}
                for x in out["therapies"]
            ],
            "administrations": [
                {k: x[k] for k in ("agent", "date", "dose_mg", "reaction_grade")}
                for x in out["administrations"]
            ],
            "authorizations": [
                {k: x[k] for k in ("program", "date")} for x in out["authorizations"]
            ],
            "procedures": [{k: x[k] for k in ("procedure", "date")} for x in out["procedures"]],
        }
    )


@patients_app.command("check")
def patients_check(
    patient_id: Annotated[int, typer.Argument()],
    agent: Annotated[str, typer.Option("--agent")],
    on: DateOption = None,
    protocol: Annotated[str, typer.Option("--protocol")] = "standard",
    json_: JsonOption = False,
) -> None:
    """Run and store the pre-infusion check of a stored patient (exit 3 on hold)."""
    out = run(
        lambda s, c: checks.run_check(
            s, c, patient_id, agent, parse_date(on, "--date") if on else None, protocol
        )
    )
    if json_:
        emit_json(out)
    else:
        console.print(
            f"{out['decision'].upper()} - check {out['id']} for {out['agent']} on {out['date']}"
        )
        print_findings(out["findings"])
    if out["decision"] == "hold":
        raise typer.Exit(3)


# ---------------------------------------------------------------------------------- plans


@plan_app.command("start")
def plan_start(
    patient_id: Annotated[int, typer.Argument()],
    agent: Annotated[str, typer.Option("--agent")],
    start: Annotated[str, typer.Option("--start", help="Date of the first dose.")],
    regimen: Annotated[str | None, typer.Option("--regimen")] = None,
    profile: Annotated[str | None, typer.Option("--profile")] = None,
    protocol: Annotated[str, typer.Option("--protocol")] = "standard",
    json_: JsonOption = False,
) -> None:
    """Start a treatment plan and lay out its dose calendar."""
    data = {
        "agent": agent,
        "start": start,
        "regimen": regimen,
        "profile": profile,
        "protocol": protocol,
    }
    out = run(
        lambda s, c: plans.start_plan(
            s, c, patient_id, {k: v for k, v in data.items() if v is not None}
        )
    )
    _print_plan(out, json_)


def _print_plan(out: dict[str, Any], json_: bool) -> None:
    if json_:
        emit_json(out)
        return
    console.print(
        f"Plan {out['id']}: {out['agent']} {out['regimen']} ({out['profile'].upper()}, {out['status']})"
    )
    console.print(
        table(
            None,
            ["#", "Course/day", "Planned", "Earliest", "mg", "Status"],
            [
                (
                    d["number"],
                    f"{d['course']}/{d['course_day']}",
                    d["planned_on"],
                    d["earliest_on"],
                    d["dose_mg"],
                    d["status"],
                )
                for d in out["doses"]
            ],
        )
    )
    if out.get("findings"):
        print_findings(out["findings"])


@plan_app.command("show")
def plan_show(plan_id: Annotated[int, typer.Argument()], json_: JsonOption = False) -> None:
    """A plan and its doses."""
    _print_plan(run(lambda s, c: plans.get_plan(s, c, plan_id)), json_)


@plan_app.command("pause")
def plan_pause(plan_id: Annotated[int, typer.Argument()]) -> None:
    """Pause a plan."""
    _print_plan(run(lambda s, c: plans.change_plan_status(s, c, plan_id, "pause")), False)


@plan_app.command("resume")
def plan_resume(plan_id: Annotated[int, typer.Argument()]) -> None:
    """Resume a paused plan."""
    _print_plan(run(lambda s, c: plans.change_plan_status(s, c, plan_id, "resume")), False)


@plan_app.command("stop")
def plan_stop(
    plan_id: Annotated[int, typer.Argument()], reason: Annotated[str, typer.Option("--reason")]
) -> None:
    """Stop a plan (its doses not given are cancelled)."""
    _print_plan(run(lambda s, c: plans.change_plan_status(s, c, plan_id, "stop", reason)), False)


@plan_app.command("switch")
def plan_switch(
    plan_id: Annotated[int, typer.Argument()],
    agent: Annotated[str, typer.Option("--agent")],
    start: Annotated[str, typer.Option("--start")],
    reason: Annotated[str, typer.Option("--reason")],
    regimen: Annotated[str | None, typer.Option("--regimen")] = None,
) -> None:
    """Stop a plan and start another, linked to it."""
    data = {"agent": agent, "start": start, "regimen": regimen}
    _print_plan(
        run(
            lambda s, c: plans.switch_plan(
                s, c, plan_id, {k: v for k, v in data.items() if v}, reason
            )
        ),
        False,
    )


@plan_app.command("mark")
def plan_mark(
    dose_id: Annotated[int, typer.Argument(help="Planned dose id.")],
    status: Annotated[str, typer.Option("--status", help="held or missed")],
    reason: Annotated[str, typer.Option("--reason")],
) -> None:
    """Mark a planned dose held or missed, with the reason."""
    if status not in ("held", "missed"):
        raise typer.BadParameter("--status must be held or missed")
    out = run(lambda s, c: plans.mark_dose(s, c, dose_id, status, reason))  # type: ignore[arg-type]
    console.print(f"Dose {out['id']} marked {out['status']}.")


# -------------------------------------------------------------------------------- records


def _record(kind: records.RecordKind) -> Callable[..., None]:
    def command(
        patient_id: Annotated[int, typer.Argument()],
        data: Annotated[
            str,
            typer.Argument(
                help="A JSON object (or a file holding one), as in docs/patient-state.md."
            ),
        ],
    ) -> None:
        out = run(lambda s, c: records.add_record(s, c, patient_id, kind, _load_json(data)))
        console.print(f"Recorded {kind} {out['id']} for patient {patient_id}.")

    command.__doc__ = f"Record a {kind} for a patient."
    return command


for _kind in ("lab", "vaccination", "condition", "procedure", "authorization", "therapy"):
    record_app.command(_kind)(_record(_kind))


@record_app.command("administration")
def record_administration(
    patient_id: Annotated[int, typer.Argument()],
    data: Annotated[
        str,
        typer.Argument(help="A JSON object (or file): planned_dose_id, started_at, reactions..."),
    ],
) -> None:
    """Record an infusion with its rate events, premedication, vital signs and reactions."""
    from msinfuse.services import infusions

    out = run(lambda s, c: infusions.record_administration(s, c, patient_id, _load_json(data)))
    console.print(
        f"Recorded administration {out['id']} ({out['agent']}, outcome {out['outcome']})."
    )
    for line in out["consequences"]:
        console.print(f"[bold red]{line}[/]")


# --------------------------------------------------------------------------- appointments


@appointment_app.command("book")
def appointment_book(
    patient_id: Annotated[int, typer.Option("--patient")],
    chair_id: Annotated[int, typer.Option("--chair")],
    starts_at: Annotated[str, typer.Option("--at", help="YYYY-MM-DDTHH:MM")],
    dose_id: Annotated[
        int | None, typer.Option("--dose", help="Planned dose id (chair time from its rate plan).")
    ] = None,
    ends_at: Annotated[str | None, typer.Option("--until", help="YYYY-MM-DDTHH:MM")] = None,
    json_: JsonOption = False,
) -> None:
    """Book a chair."""
    data = {
        "patient_id": patient_id,
        "chair_id": chair_id,
        "starts_at": starts_at,
        "planned_dose_id": dose_id,
        "ends_at": ends_at,
    }
    out = run(
        lambda s, c: appointments.book(s, c, {k: v for k, v in data.items() if v is not None})
    )
    emit_json(out) if json_ else console.print(
        f"Booked appointment {out['id']}: {out['site']} {out['chair']} {out['starts_at']}-{out['ends_at'][11:]}."
    )


@appointment_app.command("move")
def appointment_move(
    appointment_id: Annotated[int, typer.Argument()],
    starts_at: Annotated[str | None, typer.Option("--at", help="YYYY-MM-DDTHH:MM")] = None,
    chair_id: Annotated[int | None, typer.Option("--chair")] = None,
) -> None:
    """Move an appointment."""
    when = datetime.fromisoformat(starts_at) if starts_at else None
    out = run(lambda s, c: appointments.move(s, c, appointment_id, when, chair_id))
    console.print(
        f"Moved appointment {out['id']}: {out['site']} {out['chair']} {out['starts_at']}."
    )


@appointment_app.command("cancel")
def appointment_cancel(
    appointment_id: Annotated[int, typer.Argument()],
    reason: Annotated[str, typer.Option("--reason")],
) -> None:
    """Cancel an appointment."""
    out = run(lambda s, c: appointments.cancel(s, c, appointment_id, reason))
    console.print(f"Cancelled appointment {out['id']}.")


# ------------------------------------------------------------------------------ worklists


def _day(on: str | None) -> date | None:
    return parse_date(on, "--date") if on else None


def emit_csv(kind: str, rows: list[dict[str, Any]]) -> None:
    """Write a worklist as CSV on standard output; the decision-support statement goes to
    standard error (it does not fit in CSV)."""
    sys.stdout.write(csv_export.to_csv(kind, rows))
    err_console.print(DECISION_SUPPORT)


@worklist_app.command("today")
def worklist_today(
    on: DateOption = None,
    site: SiteOption = None,
    json_: JsonOption = False,
    csv_: CsvOption = False,
) -> None:
    """The day's infusions per site and chair, with each check decision."""
    rows = run(lambda s, c: worklists.today(s, c, _day(on), site))
    if csv_:
        emit_csv("today", rows)
        return
    if json_:
        emit_json(rows)
        return
    console.print(
        table(
            "Today's infusions",
            ["Site", "Chair", "Start", "End", "Patient", "Agent", "#", "Check"],
            [
                (
                    r["site"],
                    r["chair"],
                    r["starts_at"][11:16],
                    r["ends_at"][11:16],
                    f"{r['family_name']}, {r['given_name']}",
                    r["agent"] or "-",
                    r["infusion_number"] or "-",
                    r["decision"] or "not run",
                )
                for r in rows
            ],
        )
    )


@worklist_app.command("due")
def worklist_due(
    on: DateOption = None,
    days: Annotated[int, typer.Option("--days", help="Due within this many days.")] = 14,
    site: SiteOption = None,
    json_: JsonOption = False,
    csv_: CsvOption = False,
) -> None:
    """Doses overdue or due within N days that have no appointment."""
    rows = run(lambda s, c: worklists.due(s, c, _day(on), days, site))
    if csv_:
        emit_csv("due", rows)
        return
    if json_:
        emit_json(rows)
        return
    console.print(
        table(
            f"Doses without an appointment ({len(rows)})",
            ["Planned", "Earliest", "Patient", "Agent", "#", "Status"],
            [
                (
                    r["planned_on"],
                    r["earliest_on"],
                    f"{r['family_name']}, {r['given_name']}",
                    r["agent"],
                    r["number"],
                    "overdue" if r["overdue"] else r["status"],
                )
                for r in rows
            ],
        )
    )


@worklist_app.command("monitoring")
def worklist_monitoring(
    on: DateOption = None,
    site: SiteOption = None,
    json_: JsonOption = False,
    csv_: CsvOption = False,
) -> None:
    """Monitoring items overdue or due clinic-wide."""
    rows = run(lambda s, c: worklists.monitoring_due(s, c, _day(on), site))
    if csv_:
        emit_csv("monitoring", rows)
        return
    if json_:
        emit_json(rows)
        return
    console.print(
        table(
            f"Monitoring due ({len(rows)})",
            ["Due", "Status", "Patient", "Agent", "Item", "Last done"],
            [
                (
                    r["due_on"],
                    r["status"],
                    f"{r['family_name']}, {r['given_name']}",
                    r["agent"],
                    r["item"],
                    r["last_done"] or "-",
                )
                for r in rows
            ],
        )
    )


@worklist_app.command("pml")
def worklist_pml(
    site: SiteOption = None, json_: JsonOption = False, csv_: CsvOption = False
) -> None:
    """Natalizumab patients by PML risk."""
    rows = run(lambda s, c: worklists.pml(s, c, site))
    if csv_:
        emit_csv("pml", rows)
        return
    if json_:
        emit_json(rows)
        return
    console.print(
        table(
            f"Natalizumab patients by PML risk ({len(rows)})",
            ["Patient", "Category", "Per 1,000", "Band", "JCV", "Index", "Months"],
            [
                (
                    f"{r['family_name']}, {r['given_name']}",
                    r["category"],
                    r["risk_per_1000"] if r["risk_per_1000"] is not None else "no value",
                    r["band"] or "-",
                    r["jcv_status"],
                    r["jcv_index"] if r["jcv_index"] is not None else "-",
                    r["months_exposed"],
                )
                for r in rows
            ],
        )
    )


@worklist_app.command("adherence")
def worklist_adherence(
    start: Annotated[str | None, typer.Option("--from")] = None,
    end: Annotated[str | None, typer.Option("--to")] = None,
    site: SiteOption = None,
    json_: JsonOption = False,
    csv_: CsvOption = False,
) -> None:
    """Doses given late and by how many days, per agent and month."""
    rows = run(lambda s, c: worklists.adherence(s, c, _day(start), _day(end), site))
    if csv_:
        emit_csv("adherence", rows)
        return
    if json_:
        emit_json(rows)
        return
    console.print(
        table(
            "Adherence",
            ["Agent", "Month", "Given", "Late", "Mean days late", "Max days late"],
            [
                (
                    r["agent"],
                    r["month"],
                    r["given"],
                    r["late"],
                    r["mean_days_late"] if r["mean_days_late"] is not None else "-",
                    r["max_days_late"] if r["max_days_late"] is not None else "-",
                )
                for r in rows
            ],
        )
    )


@worklist_app.command("refresh")
def worklist_refresh() -> None:
    """Recompute the monitoring and PML projections of every patient for today (run daily)."""
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Refreshing worklists", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        count = run(lambda s, c: worklists.refresh(s, c, tick))
    console.print(f"Refreshed {count} patients.")


# ---------------------------------------------------------------------------------- sites


@sites_app.command("add")
def sites_add(
    code: Annotated[str, typer.Option("--code")],
    name: Annotated[str, typer.Option("--name")],
    chairs: Annotated[int, typer.Option("--chairs")] = 8,
    opens: Annotated[str, typer.Option("--opens")] = "08:00",
    closes: Annotated[str, typer.Option("--closes")] = "17:00",
) -> None:
    """Create a site with its chairs."""
    out = run(
        lambda s, c: clinic.create_site(
            s, c, {"code": code, "name": name, "chairs": chairs, "opens": opens, "closes": closes}
        )
    )
    console.print(f"Created site {out['code']} with {len(out['chairs'])} chairs.")


@sites_app.command("list")
def sites_list(json_: JsonOption = False) -> None:
    """Sites and their chairs."""
    out = run(clinic.list_sites)
    if json_:
        emit_json(out)
        return
    console.print(
        table(
            "Sites",
            ["Code", "Name", "Hours", "Chairs"],
            [(s["code"], s["name"], f"{s['opens']}-{s['closes']}", len(s["chairs"])) for s in out],
        )
    )
