"""``msinfuse check``, ``monitoring``, ``pml-risk`` and ``options`` on a patient-state file."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from msinfuse.cli.common import (
    SEVERITY_STYLE,
    JsonOption,
    ProfileChoice,
    ProfileOption,
    console,
    emit_json,
    knowledge,
    parse_date,
    print_findings,
    print_footer,
    profile_id,
    table,
)
from msinfuse.domain.safety import CheckRequest
from msinfuse.services import clinical
from msinfuse.services.patient_state import load_patient_state

EXIT_HOLD = 3

StateArgument = Annotated[
    Path, typer.Argument(help="Patient-state JSON file (see docs/patient-state.md).")
]
DateOption = Annotated[
    str | None, typer.Option("--date", help="Date to evaluate (YYYY-MM-DD; default today).")
]

DECISION_STYLE = {"go": "bold green", "caution": "bold yellow", "hold": "bold red"}


class JcvChoice(StrEnum):
    """Anti-JCV antibody status."""

    positive = "positive"
    negative = "negative"


def _date(value: str | None) -> date:
    return parse_date(value, "--date") if value else date.today()


def check_command(
    state: StateArgument,
    agent: Annotated[str, typer.Option("--agent", help="Agent to be given, e.g. ocrelizumab.")],
    on: DateOption = None,
    profile: ProfileOption = ProfileChoice.us,
    protocol: Annotated[
        str, typer.Option("--protocol", help="Planned rate protocol: standard or shorter.")
    ] = "standard",
    infusion_minutes: Annotated[
        float | None,
        typer.Option(
            "--infusion-minutes", help="Planned infusion duration, when not the label plan."
        ),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Pre-infusion check: go, caution or hold, with every finding and its source.

    Exit code 0 for go or caution, 3 for hold, 2 for bad input.
    """
    kb = knowledge()
    patient = load_patient_state(state, kb)
    request = CheckRequest(agent, _date(on), profile_id(profile), protocol, infusion_minutes)
    data = clinical.run_check(kb, patient, request)
    if json_:
        emit_json(data)
    else:
        style = DECISION_STYLE[data["decision"]]
        console.print(
            f"[{style}]{data['decision'].upper()}[/] - {data['agent']} on {data['date']} "
            f"(infusion {data['infusion_number']}"
            + (
                f", course {data['course']} day {data['course_day']}"
                if data["course_based"]
                else ""
            )
            + f", {data['profile'].upper()} label profile)"
        )
        print_findings(data["findings"])
        print_footer(data["label_revisions"], data["decision_support"])
    if data["decision"] == "hold":
        raise typer.Exit(EXIT_HOLD)


def monitoring_command(
    state: StateArgument,
    on: DateOption = None,
    profile: ProfileOption = ProfileChoice.us,
    json_: JsonOption = False,
) -> None:
    """Every monitoring item the patient is due for: labs, MRI, authorizations, evaluations."""
    kb = knowledge()
    data = clinical.patient_monitoring(
        kb, load_patient_state(state, kb), _date(on), profile_id(profile)
    )
    if json_:
        emit_json(data)
        return
    console.print(
        table(
            f"Monitoring on {data['date']} ({data['profile'].upper()})",
            ["Agent", "Item", "Due", "Status", "Last done", "Every", "Until", "Source"],
            [
                (
                    i["agent"],
                    i["item"],
                    i["due"],
                    _status_cell(i["status"]),
                    i["last_done"] or "-",
                    i["interval"] or "-",
                    i["until"] or "-",
                    f"{i['source']} [{i['fact_status']}]",
                )
                for i in data["items"]
            ],
        )
    )
    if not data["items"]:
        console.print("Nothing to monitor: no infusion agent on record.")
    print_findings(data["findings"])
    print_footer(data["label_revisions"], data["decision_support"])


def _status_cell(status: str) -> str:
    style = {"overdue": SEVERITY_STYLE["hold"], "due": SEVERITY_STYLE["warn"]}.get(status)
    return f"[{style}]{status}[/]" if style else status


def pml_risk_command(
    state: Annotated[
        Path | None,
        typer.Argument(help="Patient-state JSON file; or give the risk factors as options."),
    ] = None,
    on: DateOption = None,
    jcv: Annotated[
        JcvChoice | None, typer.Option("--jcv", help="Anti-JCV antibody status.")
    ] = None,
    index: Annotated[float | None, typer.Option("--index", help="Anti-JCV antibody index.")] = None,
    months: Annotated[
        int | None, typer.Option("--months", min=0, help="Months of natalizumab treatment.")
    ] = None,
    prior_is: Annotated[
        bool, typer.Option("--prior-is", help="Prior immunosuppressant use.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Natalizumab PML risk: estimate, band, risk factors, retest date, MRI cadence."""
    kb = knowledge()
    if state is not None:
        if jcv is not None or months is not None or index is not None or prior_is:
            raise typer.BadParameter(
                "give either a patient-state file or --jcv/--index/--months/--prior-is, not both"
            )
        data = clinical.pml_from_state(kb, load_patient_state(state, kb), _date(on))
    else:
        if jcv is None or months is None:
            raise typer.BadParameter(
                "without a patient-state file, --jcv and --months are required"
            )
        data = clinical.pml_from_factors(kb, jcv.value, index, months, prior_is)
    if json_:
        emit_json(data)
        return
    _print_pml(data)


def _print_pml(d: dict[str, Any]) -> None:
    estimate = (
        f"{d['risk_per_1000']:g} per 1,000"
        if d["risk_per_1000"] is not None
        else f"no value ({d['band_note']})"
    )
    console.print(
        f"[bold]PML risk ({d['category']})[/]: {estimate}; exposure band {d['band'] or '-'}"
    )
    console.print(f"Table: {d['table']['name']} [{d['table']['status']}] - {d['source']}")
    for factor in d["risk_factors"]:
        mark = "yes" if factor["applies"] else "unknown" if factor["applies"] is None else "no"
        console.print(f"  - {factor['factor']}: {mark}")
    if d["invalid_sample"]:
        console.print(f"[yellow]{d['invalid_sample']}[/]")
    retest = d["retest_due"] or (
        f"every {d['retest_interval_months']} months"
        if d["retest_interval_months"]
        else "not needed by the rules"
    )
    console.print(f"Anti-JCV retest: {retest}; MRI every {d['mri_interval_months']} months")
    console.print(d["extended_interval_note"])
    print_footer(d["label_revisions"], d["decision_support"])


def options_command(
    state: StateArgument,
    on: DateOption = None,
    profile: ProfileOption = ProfileChoice.us,
    json_: JsonOption = False,
) -> None:
    """Treatment options to discuss with the neurologist (listed by name, never ranked)."""
    kb = knowledge()
    data = clinical.patient_options(
        kb, load_patient_state(state, kb), _date(on), profile_id(profile)
    )
    if json_:
        emit_json(data)
        return
    console.print(f"[italic]{data['framing']}[/]")
    console.print(
        table(
            f"Infusion options for {data['ms_course'] or 'an unrecorded MS course'} ({data['profile'].upper()})",
            ["Agent", "On-label", "Holds today", "Visits/year", "Chair h/year", "Key risks"],
            [
                (
                    a["name"],
                    "off-label in MS"
                    if a["off_label_in_ms"]
                    else (
                        "yes" if a["on_label"] else "no" if a["on_label"] is False else "unknown"
                    ),
                    "; ".join(h["rule"] for h in a["holds_today"]) or "none",
                    a["burden"]["visits_per_year"]
                    if a["burden"]["visits_per_year"] is not None
                    else a["burden"]["courses_note"],
                    a["burden"]["chair_hours_per_year"]
                    if a["burden"]["chair_hours_per_year"] is not None
                    else "-",
                    "; ".join(
                        r["title"] + (f" ({r['figure']})" if r["figure"] else "")
                        for r in a["key_risks"][:3]
                    ),
                )
                for a in data["agents"]
            ],
        )
    )
    console.print(
        table(
            "Non-infusion alternatives",
            ["Medicine", "Route", "Frequency", "Class"],
            [
                (a["name"], a["route"], a["frequency"], a["drug_class"])
                for a in data["alternatives"]
            ],
        )
    )
    print_footer(data["label_revisions"], data["decision_support"])
