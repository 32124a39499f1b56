"""``msinfuse schedule``: generate, solve, check and bound chair/nurse scheduling instances.

    msinfuse schedule generate --size M --load 0.85 --seed 7 -o m.json
    msinfuse schedule solve m.json --solver cpsat --time-limit 10 -o m.sol.json
    msinfuse schedule check m.json m.sol.json          # exit 1 when a hard constraint fails
    msinfuse schedule generate --size M --load 0.85 --seed 7 --variant addons -o ma.json
    msinfuse schedule online ma.json --solver cpsat --time-limit 1 -o ma.online.json
    msinfuse schedule check ma.json ma.online.json     # also the online rules (auto-detected)
    msinfuse schedule bound m.json [--mip-time 60] [--write]
    msinfuse schedule capacity m.json --resource nurses
    msinfuse schedule week --site MAIN --week 2026-12-14 [--time-limit 10] [--accept]
    msinfuse schedule accept 3
    msinfuse schedule shifts add --site MAIN --day 2026-12-14 --starts 08:00 --ends 17:30 \
        --break 12:00 --days 5 --count 3
    msinfuse schedule shifts list --site MAIN --start 2026-12-14
    msinfuse schedule capacity --site MAIN --week 2026-12-14 --resource chairs

Files are described in docs/scheduling.md. Exit codes: 0 ok, 1 the checked schedule violates
a hard constraint, 2 bad input (a bad file names the JSON path of the bad value).
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from msinfuse.cli.common import (
    JsonOption,
    console,
    counted_progress,
    emit_json,
    knowledge,
    parse_clock,
    parse_date,
    print_findings,
    print_footer,
    table,
)
from msinfuse.domain import scheduling as sch
from msinfuse.domain.scheduling.bound import lower_bound
from msinfuse.domain.scheduling.capacity import capacity
from msinfuse.errors import InvalidInput

app = typer.Typer(
    help="Chair and nurse scheduling: generate instances, solve, check, bound, capacity.",
    no_args_is_help=True,
)

FOOTER = (
    "Decision support: a scheduler confirms every booking. Chair times are the instance's "
    "planning durations; verify them against each patient's rate plan."
)


class Size(StrEnum):
    S = "S"
    M = "M"
    L = "L"


class SolverChoice(StrEnum):
    fcfs = "fcfs"
    lpt = "lpt"
    cpsat = "cpsat"


class Resource(StrEnum):
    chairs = "chairs"
    nurses = "nurses"


InstanceArg = Annotated[Path, typer.Argument(help="Instance JSON file.")]
TimeLimit = Annotated[
    float, typer.Option("--time-limit", help="CP-SAT time limit in seconds.", min=0.05)
]
Workers = Annotated[int, typer.Option("--workers", help="CP-SAT / HiGHS threads.", min=1)]
Seed = Annotated[int, typer.Option("--seed", help="Solver random seed.")]
SolverOpt = Annotated[SolverChoice, typer.Option("--solver", help="fcfs, lpt or cpsat.")]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read ({type(exc).__name__})") from None


def load_instance(path: Path) -> sch.Instance:
    """Read and validate an instance file (errors name the JSON path)."""
    return sch.instance_from_json(_read(path), source=str(path))


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot write ({type(exc).__name__})") from None


def _summary_rows(solution: sch.Solution) -> list[tuple[str, Any]]:
    o, m = solution.objective, solution.metrics
    return [
        ("Z (objective)", o.get("total")),
        ("rejected", f"{m.get('rejections')} of {m.get('visits')} ({m.get('rejection_pct')} %)"),
        ("overtime min", o.get("overtime_min")),
        ("past close min", m.get("makespan_past_close_min")),
        (
            "pref. dev. min (sum/mean/p90)",
            f"{o.get('pref_dev_min')} / {m.get('pref_dev_mean_min')} / {m.get('pref_dev_p90_min')}",
        ),
        (
            "days away/non-home/spread",
            f"{o.get('days_away')} / {o.get('non_home')} / {o.get('spread_min')}",
        ),
        ("chair utilisation", m.get("chair_utilisation")),
        (
            "peak chairs/nurse/starts/hoods",
            f"{m.get('peak_chairs')} / {m.get('peak_nurse_load')} / {m.get('max_starts_per_slot')} / {m.get('peak_hoods')}",
        ),
        ("solver", f"{solution.solver.get('name')} in {solution.solver.get('wall_s')} s"),
    ]


@app.command("generate")
def generate_command(
    size: Annotated[
        Size, typer.Option("--size", help="S (small clinic), M (large centre), L (network week).")
    ],
    load: Annotated[
        float, typer.Option("--load", help="Load factor rho (0.70, 0.85, 1.00).")
    ] = 0.85,
    seed: Annotated[int, typer.Option("--seed", help="Generator seed.")] = 1,
    variant: Annotated[
        list[str] | None,
        typer.Option("--variant", help="week, beds, acuity, m4 or addons (repeatable)."),
    ] = None,
    start_date: Annotated[
        str, typer.Option("--start-date", help="First day (YYYY-MM-DD).")
    ] = "2026-01-05",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here (default: standard output).")
    ] = None,
) -> None:
    """Generate an MSINF v1 instance (every parameter is written into the file)."""
    instance = sch.generate(
        size.value, load, seed, variants=tuple(variant or ()), start_date=start_date
    )
    text = sch.instance_to_json(instance)
    if output is None:
        typer.echo(text, nl=False)
        return
    _write(output, text)
    console.print(
        f"{output}: {len(instance.requests)} visits, {len(instance.sites)} site(s), "
        f"{len(instance.days)} day(s) (size {size.value}, load {load}, seed {seed})"
    )


@app.command("solve")
def solve_command(
    instance_path: InstanceArg,
    solver: SolverOpt = SolverChoice.cpsat,
    time_limit: TimeLimit = 10.0,
    workers: Workers = 2,
    seed: Seed = 0,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the solution JSON here.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Schedule an instance with fcfs, lpt or cpsat and report the objective and metrics."""
    instance = load_instance(instance_path)
    with counted_progress(
        f"{solver.value} (limit {time_limit:g} s)", "site-days", quiet=as_json
    ) as tick:
        solution = sch.solve(
            instance,
            solver.value,
            time_limit=time_limit,
            workers=workers,
            seed=seed,
            progress=tick,
        )
    if output is not None:
        _write(output, sch.solution_to_json(instance, solution))
    if as_json:
        data = sch.solution_to_dict(instance, solution)
        if output is not None:
            data.pop("assignments")
        emit_json(data)
        return
    console.print(
        table(f"{instance_path.name}: {solver.value}", ["", "value"], _summary_rows(solution))
    )
    if output is not None:
        console.print(f"solution written to {output}")
    console.print(f"[italic]{FOOTER}[/]")


@app.command("online")
def online_command(
    instance_path: InstanceArg,
    solver: SolverOpt = SolverChoice.cpsat,
    time_limit: Annotated[
        float,
        typer.Option("--time-limit", help="CP-SAT time limit per reveal in seconds.", min=0.05),
    ] = 1.0,
    offline_time_limit: Annotated[
        float,
        typer.Option("--offline-time-limit", help="Time limit of the offline plan.", min=0.05),
    ] = 10.0,
    workers: Workers = 2,
    seed: Seed = 0,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the online result JSON here.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add-on (online) variant: plan offline, then place each add-on at its reveal."""
    instance = load_instance(instance_path)
    if not any(r.reveal is not None for r in instance.requests):
        raise InvalidInput(f"{instance_path}: no add-ons (generate with --variant addons)")
    with counted_progress(
        f"online {solver.value} (limit {time_limit:g} s per reveal)", "reveals", quiet=as_json
    ) as tick:
        result = sch.simulate(
            instance,
            solver.value,
            time_limit=time_limit,
            offline_time_limit=offline_time_limit,
            workers=workers,
            seed=seed,
            progress=tick,
        )
    if output is not None:
        _write(output, sch.online_to_json(instance, result))
    if as_json:
        data = sch.online_to_dict(instance, result)
        if output is not None:
            data = {"summary": data["summary"]}
        emit_json(data)
        return
    s = result.summary
    rows: list[tuple[str, Any]] = [
        ("add-ons accepted", f"{s['accepted']} of {s['addons']} ({s['accepted_visits']} visits)"),
        ("visits moved", s["visits_moved"]),
        ("minutes moved (total)", s["minutes_moved"]),
        ("re-timings logged", s["moves"]),
        ("offline Z", s["offline_total"]),
        *_summary_rows(result.final),
    ]
    console.print(table(f"{instance_path.name}: online {solver.value}", ["", "value"], rows))
    if output is not None:
        console.print(f"online result written to {output}")
    console.print(f"[italic]{FOOTER}[/]")


@app.command("check")
def check_command(
    instance_path: InstanceArg,
    solution_path: Annotated[Path, typer.Argument(help="Solution or online result JSON file.")],
    online: Annotated[
        bool,
        typer.Option("--online", help="Check an online result (detected from the file anyway)."),
    ] = False,
    as_json: JsonOption = False,
) -> int:
    """Check every hard constraint independently of the solvers; exit 1 on any violation.

    An online (add-on) result is checked as a whole: offline plan, final schedule and the
    online rules (check-in, ±30 min shift, reveal + 60 min).
    """
    instance = load_instance(instance_path)
    text = _read(solution_path)
    if online or sch.is_online(text):
        result = sch.online_from_json(text, instance, source=str(solution_path))
        solution = result.final
        violations = sch.check_online(instance, result)
    else:
        solution = sch.solution_from_json(text, instance, source=str(solution_path))
        violations = sch.check(instance, solution)
    if as_json:
        emit_json(
            {
                "feasible": not violations,
                "violations": [
                    {
                        "rule": v.rule,
                        "message": v.message,
                        "visit": v.visit,
                        "site": v.site,
                        "day": None if v.day is None else instance.days[v.day],
                    }
                    for v in violations
                ],
            }
        )
    elif violations:
        console.print(
            table(
                f"{len(violations)} violation(s)",
                ["rule", "message"],
                [(v.rule, v.message) for v in violations],
            )
        )
    else:
        console.print(
            f"feasible: {len(solution.assignments)} scheduled, {len(solution.rejected)} rejected; "
            "every hard constraint holds"
        )
    return 1 if violations else 0


@app.command("bound")
def bound_command(
    instance_path: InstanceArg,
    mip_time: Annotated[
        float,
        typer.Option(
            "--mip-time",
            help="Also run the time-indexed MIP this many seconds (0 = LP only).",
            min=0,
        ),
    ] = 0.0,
    workers: Workers = 2,
    write: Annotated[
        bool, typer.Option("--write", help="Store the bounds in the instance file.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Lower bounds: time-indexed LP (HiGHS), optional MIP dual bound, energetic LP; best."""
    instance = load_instance(instance_path)
    with Progress(
        SpinnerColumn(),
        TextColumn("bounding"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ):
        result = lower_bound(instance, mip_time=mip_time, threads=workers)
    if write:
        data = json.loads(_read(instance_path))
        data["bounds"] = result.as_dict()
        _write(instance_path, json.dumps(data, indent=1) + "\n")
    if as_json:
        emit_json(result.as_dict())
        return
    rows = [
        ("best", result.best),
        ("time-indexed LP", result.lp),
        ("MIP dual bound", result.mip_dual),
        ("energetic LP", result.energy),
        ("LP columns", result.columns),
        ("seconds", ", ".join(f"{k} {v}" for k, v in result.seconds.items())),
    ]
    console.print(table(f"{instance_path.name}: lower bound on Z", ["", "value"], rows))
    for note in result.notes:
        console.print(f"note: {note}")


@app.command("capacity")
def capacity_command(
    instance_path: Annotated[
        Path | None, typer.Argument(help="Instance JSON file (or give --week for the clinic's).")
    ] = None,
    resource: Annotated[
        Resource, typer.Option("--resource", help="chairs or nurses.")
    ] = Resource.chairs,
    site: Annotated[
        str | None,
        typer.Option(
            "--site", help="Site id (needed when there are several; with --week the site code)."
        ),
    ] = None,
    week: Annotated[
        str | None,
        typer.Option("--week", help="A day of the clinic week to answer from the records."),
    ] = None,
    solver: SolverOpt = SolverChoice.cpsat,
    time_limit: TimeLimit = 10.0,
    workers: Workers = 2,
    seed: Seed = 0,
    as_json: JsonOption = False,
) -> None:
    """The fewest chairs or nurses at a site with which no visit is rejected (what-if).

    With ``--site S --week YYYY-MM-DD`` the week comes from the clinic's records (the due
    doses, existing appointments and shifts ``schedule week`` would use); nurses then count
    the same roster every day.
    """
    if week is not None:
        result = _clinic_capacity(site, week, resource, time_limit, as_json)
    elif instance_path is None:
        raise typer.BadParameter("give an instance file, or --site and --week")
    else:
        instance = load_instance(instance_path)
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=as_json,
        ) as bar:
            task = bar.add_task("searching", total=None)
            result = capacity(
                instance,
                resource.value,
                site=site,
                solver=solver.value,
                time_limit=time_limit,
                workers=workers,
                seed=seed,
                progress=lambda text: bar.update(task, description=f"trying {text}"),
            ).as_dict()
    if as_json:
        emit_json(result)
        return
    rows = [
        (t["count"], t["rejections"], t["objective"], t["lp_rejections_needed"])
        for t in result["tried"]
    ]
    console.print(
        table(
            f"{resource.value} at site {result['site']}",
            [resource.value, "rejected", "Z (objective)", "LP: rejections needed"],
            rows,
        )
    )
    if result["needed"] is None:
        console.print(f"no count up to the search limit avoids rejections ({resource.value})")
    else:
        how = (
            "the LP proves one fewer cannot avoid a rejection"
            if result["proven"]
            else f"one fewer was not shown impossible; {solver.value} with {time_limit:g} s found no schedule without rejections"
        )
        console.print(
            f"{result['needed']} {resource.value} suffice (now {result['current']}); {how}."
        )
    if result.get("findings"):
        print_findings(result["findings"])
    console.print(f"[italic]{FOOTER}[/]")


def _clinic_capacity(
    site: str | None, week: str, resource: Resource, time_limit: float, quiet: bool
) -> dict[str, Any]:
    from msinfuse.cli.records import run
    from msinfuse.services import scheduling

    if site is None:
        raise typer.BadParameter("--week needs --site (the site code)")
    day = parse_date(week, "week")
    with console.status("searching", spinner="dots") if not quiet else nullcontext():
        return run(
            lambda session, ctx: scheduling.capacity_week(
                session, ctx, site, day, resource=resource.value, time_limit=time_limit
            )
        )


# ------------------------------------------------------------------------ the clinic's week

shifts_app = typer.Typer(
    help="Nurse shifts at a site (used by `schedule week`).", no_args_is_help=True
)
app.add_typer(shifts_app, name="shifts")


@app.command("week")
def week_command(
    site: Annotated[str, typer.Option("--site", help="Site code.")],
    week: Annotated[str, typer.Option("--week", help="A day of the week (its Monday is used).")],
    time_limit: TimeLimit = 10.0,
    allow_moves: Annotated[
        bool, typer.Option("--allow-moves", help="Let existing booked appointments move.")
    ] = False,
    accept: Annotated[
        bool, typer.Option("--accept", help="Write the bookings at once (all or nothing).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Propose the week's bookings at a site from the clinic's records (and accept them)."""
    from msinfuse.cli.records import run
    from msinfuse.services import scheduling

    day = parse_date(week, "week")
    with console.status("optimising the week", spinner="dots") if not as_json else nullcontext():
        proposal = run(
            lambda session, ctx: scheduling.propose_week(
                session, ctx, site, day, time_limit=time_limit, allow_moves=allow_moves
            )
        )
    accepted = None
    if accept:
        accepted = run(lambda session, ctx: scheduling.accept_proposal(session, ctx, proposal.id))
    data = proposal.as_dict()
    if accepted is not None:
        data["status"] = accepted["status"]
        data["accepted"] = accepted
    if as_json:
        emit_json(data)
        return
    print_proposal(data)


def print_proposal(data: dict[str, Any]) -> None:
    """A proposal as Rich tables: bookings, moves, rejections, objective, findings."""
    console.print(
        table(
            f"Proposal {data['id']} for site {data['site']}, week of {data['week_start']} "
            f"({data['status']})",
            ["Start", "End", "Chair", "Patient", "Dose", "Agent", "Dose no.", "Series"],
            [
                (
                    b["starts_at"].replace("T", " "),
                    b["ends_at"][11:],
                    b["chair"],
                    b["patient_id"],
                    b["dose_id"],
                    b["agent"],
                    b["dose_number"],
                    b["series"],
                )
                for b in data["bookings"]
            ],
        )
    )
    if data["moves"]:
        console.print(
            table(
                "Moves of existing appointments",
                ["Appointment", "Was", "Now", "Chair"],
                [
                    (m["appointment_id"], m["was_starts_at"], m["starts_at"], m["chair"])
                    for m in data["moves"]
                ],
            )
        )
    if data["rejections"]:
        console.print(
            table(
                "Not booked",
                ["Dose", "Patient", "Agent", "Dose no.", "Reason"],
                [
                    (r["dose_id"], r["patient_id"], r["agent"], r["dose_number"], r["reason"])
                    for r in data["rejections"]
                ],
            )
        )
    objective = data["objective"]
    console.print(
        table("Objective", ["Term", "Value"], [(k, objective[k]) for k in sorted(objective)])
    )
    console.print(
        f"{len(data['bookings'])} new bookings, {len(data['moves'])} moves, "
        f"{data['fixed']} existing appointments kept, {len(data['rejections'])} not booked; "
        f"checker: {'no violation' if not data['violations'] else '; '.join(data['violations'])}; "
        f"solver: {data['solver'].get('name')}"
        + (f" ({data['solver']['fallback']})" if data["solver"].get("fallback") else "")
    )
    print_findings(data["findings"])
    if data.get("accepted"):
        console.print(f"Accepted: {len(data['accepted']['booked'])} appointments booked.")
    elif data["status"] == "proposed":
        console.print(
            f"Nothing is booked yet: accept with `msinfuse schedule accept {data['id']}`."
        )
    print_footer(data["label_revisions"], data["decision_support"])


@app.command("accept")
def accept_command(
    proposal_id: Annotated[int, typer.Argument(help="Proposal id.")],
    as_json: JsonOption = False,
) -> None:
    """Write every booking of a stored proposal (refused when it has gone stale)."""
    from msinfuse.cli.records import run
    from msinfuse.services import scheduling

    result = run(lambda session, ctx: scheduling.accept_proposal(session, ctx, proposal_id))
    if as_json:
        emit_json(result)
        return
    console.print(
        f"Proposal {result['proposal_id']} accepted: {len(result['booked'])} booked, "
        f"{len(result['moved'])} moved."
    )


@shifts_app.command("add")
def shifts_add(
    site: Annotated[str, typer.Option("--site", help="Site code.")],
    day: Annotated[str, typer.Option("--day", help="YYYY-MM-DD.")],
    starts: Annotated[str, typer.Option("--starts", help="HH:MM.")],
    ends: Annotated[str, typer.Option("--ends", help="HH:MM.")],
    break_starts: Annotated[
        str | None, typer.Option("--break", help="Break start HH:MM (default: no break).")
    ] = None,
    days: Annotated[
        int, typer.Option("--days", help="Repeat on this many days from --day (weekdays).", min=1)
    ] = 1,
    count: Annotated[int, typer.Option("--count", help="Nurses on this shift.", min=1)] = 1,
    as_json: JsonOption = False,
) -> None:
    """Record nurse shifts (``--count`` nurses, on ``--days`` weekdays from ``--day``); the
    nurses of one shift take their breaks one after another from ``--break``."""
    from msinfuse.cli.records import run
    from msinfuse.services import scheduling

    first = parse_date(day, "day")
    dates: list[date] = []
    current = first
    while len(dates) < days:
        if current.weekday() < 5:
            dates.append(current)
        current += timedelta(days=1)
    body = {"site": site, "starts": starts, "ends": ends}
    breaks: list[str | None] = [None] * count
    if break_starts is not None:
        # Several nurses on one shift take their breaks one after another, never all at once.
        first_break = datetime.combine(first, parse_clock(break_starts))
        length = timedelta(minutes=knowledge().clinic.schedule_nurse_break_minutes.value)
        breaks = [(first_break + k * length).strftime("%H:%M") for k in range(count)]
    rows = run(
        lambda session, ctx: [
            scheduling.add_shift(session, ctx, {**body, "day": on, "break_starts": brk})
            for on in dates
            for brk in breaks
        ]
    )
    if as_json:
        emit_json(rows)
        return
    _print_shifts(rows, f"Recorded {len(rows)} shifts")


@shifts_app.command("list")
def shifts_list(
    site: Annotated[str, typer.Option("--site", help="Site code.")],
    start: Annotated[
        str | None, typer.Option("--start", help="YYYY-MM-DD (default today).")
    ] = None,
    days: Annotated[int, typer.Option("--days", help="Days to list.", min=1, max=31)] = 7,
    as_json: JsonOption = False,
) -> None:
    """The nurse shifts recorded at a site."""
    from msinfuse.cli.records import run
    from msinfuse.services import scheduling

    rows = run(
        lambda session, ctx: scheduling.list_shifts(
            session, ctx, site, parse_date(start, "start") if start else ctx.today, days
        )
    )
    if as_json:
        emit_json(rows)
        return
    _print_shifts(rows, f"Nurse shifts at {site}")


@shifts_app.command("delete")
def shifts_delete(shift_id: Annotated[int, typer.Argument(help="Shift id.")]) -> None:
    """Remove a recorded nurse shift."""
    from msinfuse.cli.records import run
    from msinfuse.services import scheduling

    row = run(lambda session, ctx: scheduling.delete_shift(session, ctx, shift_id))
    console.print(f"Removed shift {row['id']} ({row['day']} {row['starts']}-{row['ends']}).")


def _print_shifts(rows: list[dict[str, Any]], title: str) -> None:
    console.print(
        table(
            title,
            ["Id", "Day", "Starts", "Ends", "Break", "Nurse (user id)"],
            [
                (r["id"], r["day"], r["starts"], r["ends"], r["break_starts"], r["user_id"])
                for r in rows
            ],
        )
    )
