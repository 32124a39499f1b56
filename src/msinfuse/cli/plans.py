"""``msinfuse calendar`` and ``msinfuse rates``: dose calendars and pump programs."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from msinfuse.cli.common import (
    JsonOption,
    ProfileChoice,
    ProfileOption,
    console,
    emit_json,
    knowledge,
    parse_clock,
    parse_date,
    print_findings,
    print_footer,
    profile_id,
    table,
)
from msinfuse.domain.calendar import CalendarRequest, GivenDose
from msinfuse.domain.rates import RateRequest
from msinfuse.services.engines import ReactionInput, dose_calendar, rate_plan


def _parse_given(values: list[str]) -> tuple[GivenDose, ...]:
    given = []
    for value in values:
        day, _, dose = value.partition(":")
        dose_mg: float | None = None
        if dose:
            try:
                dose_mg = float(dose)
            except ValueError:
                raise typer.BadParameter(
                    f"--given {value!r}: the dose after ':' must be a number of mg"
                ) from None
            if dose_mg <= 0:
                raise typer.BadParameter(f"--given {value!r}: the dose must be positive")
        given.append(GivenDose(parse_date(day, "--given date"), dose_mg))
    return tuple(given)


def calendar_command(
    agent: Annotated[str, typer.Argument(help="Agent id, e.g. ocrelizumab.")],
    start: Annotated[str, typer.Option("--start", help="Date of the first dose (YYYY-MM-DD).")],
    given: Annotated[
        list[str] | None,
        typer.Option("--given", help="A dose given, DATE or DATE:MG; repeat in date order."),
    ] = None,
    regimen: Annotated[
        str | None, typer.Option("--regimen", help="Regimen id (default: the agent's default).")
    ] = None,
    profile: ProfileOption = ProfileChoice.us,
    today: Annotated[
        str | None, typer.Option("--today", help="Reference date for statuses (default: today).")
    ] = None,
    count: Annotated[
        int, typer.Option("--count", min=0, help="How many future doses to show.")
    ] = 4,
    height_cm: Annotated[
        float | None, typer.Option("--height-cm", help="Height for BSA dosing.")
    ] = None,
    weight_kg: Annotated[
        float | None, typer.Option("--weight-kg", help="Weight for BSA dosing.")
    ] = None,
    cumulative: Annotated[
        float,
        typer.Option(
            "--cumulative-mg-m2", help="Lifetime dose already received before these doses (mg/m2)."
        ),
    ] = 0.0,
    json_: JsonOption = False,
) -> None:
    """The dose calendar: given, due, overdue and planned doses with their earliest dates."""
    request = CalendarRequest(
        agent=agent,
        start=parse_date(start, "--start"),
        today=parse_date(today, "--today") if today else date.today(),
        regimen=regimen,
        profile=profile_id(profile),
        given=_parse_given(given or []),
        count=count,
        height_cm=height_cm,
        weight_kg=weight_kg,
        prior_cumulative_mg_per_m2=cumulative,
    )
    data = dose_calendar(knowledge(), request)
    if json_:
        emit_json(data)
        return
    title = f"{data['agent']} - {data['regimen_name']} ({data['profile'].upper()}), today {data['today']}"
    if data["bsa_m2"] is not None:
        title += f", BSA {data['bsa_m2']} m2"
    console.print(
        table(
            title,
            ["#", "Dose", "Course/day", "Date", "Earliest", "Dose (mg)", "Status"],
            [
                (
                    d["number"],
                    d["label"],
                    f"{d['course']}/{d['course_day']}",
                    d["date"],
                    d["earliest"],
                    f"{d['dose_mg']:g}"
                    + (f" ({d['dose_mg_per_m2']:g} mg/m2)" if d["dose_mg_per_m2"] else ""),
                    d["status"],
                )
                for d in data["doses"]
            ],
        )
    )
    if data["cumulative_mg_per_m2"] is not None:
        console.print(
            f"Cumulative lifetime dose including planned doses: {data['cumulative_mg_per_m2']} mg/m2"
        )
    print_findings(data["findings"])
    print_footer(data["label_revisions"], data["decision_support"])


def _parse_reaction(reaction: str | None, resume_min: float | None) -> ReactionInput | None:
    if reaction is None:
        if resume_min is not None:
            raise typer.BadParameter("--resume-min needs --reaction MIN:GRADE")
        return None
    minute, _, grade = reaction.partition(":")
    try:
        return ReactionInput(float(minute), int(grade), resume_min)
    except ValueError:
        raise typer.BadParameter(
            f"--reaction {reaction!r} must read MIN:GRADE, e.g. 45:2"
        ) from None


def rates_command(
    agent: Annotated[str, typer.Argument(help="Agent id, e.g. ocrelizumab.")],
    infusion: Annotated[
        int, typer.Option("--infusion", help="Infusion number in the plan (1 = first).")
    ],
    protocol: Annotated[
        str,
        typer.Option("--protocol", help="standard, or shorter (ocrelizumab 600 mg maintenance)."),
    ] = "standard",
    regimen: Annotated[
        str | None, typer.Option("--regimen", help="Regimen id (default: the agent's default).")
    ] = None,
    dose_mg: Annotated[
        float | None, typer.Option("--dose-mg", help="Dose in mg (default from the regimen).")
    ] = None,
    volume_ml: Annotated[
        float | None, typer.Option("--volume-ml", help="Bag volume in mL (default from the label).")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start", help="Infusion start time HH:MM, for a pump program with clock times."
        ),
    ] = None,
    reaction: Annotated[
        str | None, typer.Option("--reaction", help="Reaction MIN:GRADE (CTCAE) to re-plan for.")
    ] = None,
    resume_min: Annotated[
        float | None, typer.Option("--resume-min", help="Grade 3: minute the infusion restarts.")
    ] = None,
    prior_grade: Annotated[
        list[int] | None,
        typer.Option(
            "--prior-reaction",
            help="Highest reaction grade of an earlier infusion of this agent; repeat.",
        ),
    ] = None,
    height_cm: Annotated[
        float | None, typer.Option("--height-cm", help="Height for BSA dosing.")
    ] = None,
    weight_kg: Annotated[
        float | None, typer.Option("--weight-kg", help="Weight for BSA dosing.")
    ] = None,
    profile: ProfileOption = ProfileChoice.us,
    json_: JsonOption = False,
) -> None:
    """The rate plan of one infusion: pump steps, premedication, observation and chair time."""
    if protocol not in ("standard", "shorter"):
        raise typer.BadParameter(f"--protocol {protocol!r} is not one of 'standard', 'shorter'")
    request = RateRequest(
        agent=agent,
        infusion=infusion,
        profile=profile_id(profile),
        protocol=protocol,
        regimen=regimen,
        dose_mg=dose_mg,
        volume_ml=volume_ml,
        prior_reaction_grades=tuple(prior_grade or ()),
        start=parse_clock(start) if start else None,
        height_cm=height_cm,
        weight_kg=weight_kg,
    )
    data = rate_plan(knowledge(), request, _parse_reaction(reaction, resume_min))
    if json_:
        emit_json(data)
        return
    _print_plan(data)


def _print_plan(d: dict[str, Any]) -> None:
    dose = f"{d['dose_mg']:g} mg" if d["dose_mg"] is not None else "dose by BSA"
    console.print(
        f"[bold]{d['agent']}[/] infusion {d['infusion']} (course {d['course']}, day {d['course_day']}) - "
        f"{d['protocol_name']}: {dose} in {d['volume_ml']:g} mL"
        + (f" ({d['concentration_mg_per_ml']} mg/mL)" if d["concentration_mg_per_ml"] else "")
        + (f"; label: {d['label_duration']}" if d["label_duration"] else "")
    )
    console.print(
        table(
            "Pump steps",
            [
                "Start (min)",
                "End (min)",
                "Rate (mL/h)",
                *(["Rate (mg/h)"] if d["rate_unit"] == "mg/h" else []),
                "Volume (mL)",
                "Step",
            ],
            [
                (
                    s["start_min"],
                    s["end_min"],
                    s["rate_ml_h"],
                    *([s["rate_mg_h"]] if d["rate_unit"] == "mg/h" else []),
                    s["volume_ml"],
                    s["kind"],
                )
                for s in d["steps"]
            ],
        )
    )
    if d["premedication"]:
        console.print(
            table(
                "Premedication",
                ["Drug", "Dose", "Route", "Timing", "Required"],
                [
                    (
                        p["drug"],
                        p["dose"] or "",
                        p["route"],
                        _timing(p),
                        "yes" if p["required"] else "optional",
                    )
                    for p in d["premedication"]
                ],
            )
        )
    console.print(
        f"Infusion {d['infusion_min']} min; observation {d['observation_min']} min; chair time "
        f"{d['chair_min']} min = set-up {d['setup_min']} + premedication lead {d['premedication_lead_min']} + "
        f"infusion {d['infusion_min']} + observation {d['observation_min']} + disconnection {d['disconnection_min']}."
    )
    if d["pump_program"]:
        t = d["timeline"]
        console.print(
            table(
                f"Pump program (arrive {t['arrival']}, infusion {t['infusion_start']}-{t['infusion_end']}, "
                f"observation until {t['observation_end']}, leave {t['departure']})",
                ["Step", "From", "To", "Rate (mL/h)", "Volume (mL)", "Cumulative (mL)", ""],
                [
                    (
                        p["step"],
                        p["start"],
                        p["end"],
                        p["rate_ml_h"],
                        p["volume_ml"],
                        p["cumulative_ml"],
                        p["kind"],
                    )
                    for p in d["pump_program"]
                ],
            )
        )
        for premed in t["premedications"]:
            console.print(f"  premedication {premed['drug']}: from {premed['at']}")
    print_findings(d["findings"])
    print_footer(d["label_revisions"], d["decision_support"])


def _timing(p: dict[str, Any]) -> str:
    low, high = p["minutes_before_min"], p["minutes_before_max"]
    if low is None and high is None:
        return (
            f"before the infusion ({p['lead_min']:g} min lead)"
            if p["lead_min"]
            else "before the infusion"
        )
    if low == high or high is None:
        return f"{low:g} min before"
    return f"{low:g}-{high:g} min before"
