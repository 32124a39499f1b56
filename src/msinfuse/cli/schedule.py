"""``msinfuse schedule``: generate, solve, check and bound chair/nurse scheduling instances.

    msinfuse schedule generate --size M --load 0.85 --seed 7 -o m.json
    msinfuse schedule solve m.json --solver cpsat --time-limit 10 -o m.sol.json
    msinfuse schedule check m.json m.sol.json          # exit 1 when a hard constraint fails
    msinfuse schedule bound m.json [--mip-time 60] [--write]
    msinfuse schedule capacity m.json --resource nurses

Files are described in docs/scheduling.md. Exit codes: 0 ok, 1 the checked schedule violates
a hard constraint, 2 bad input (a bad file names the JSON path of the bad value).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from msinfuse.cli.common import JsonOption, console, emit_json, table
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
        list[str] | None, typer.Option("--variant", help="week, beds, acuity or m4 (repeatable).")
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
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} site-days"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as bar:
        task = bar.add_task(f"{solver.value} (limit {time_limit:g} s)", total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

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


@app.command("check")
def check_command(
    instance_path: InstanceArg,
    solution_path: Annotated[Path, typer.Argument(help="Solution JSON file.")],
    as_json: JsonOption = False,
) -> int:
    """Check every hard constraint independently of the solvers; exit 1 on any violation."""
    instance = load_instance(instance_path)
    solution = sch.solution_from_json(_read(solution_path), instance, source=str(solution_path))
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
    instance_path: InstanceArg,
    resource: Annotated[
        Resource, typer.Option("--resource", help="chairs or nurses.")
    ] = Resource.chairs,
    site: Annotated[
        str | None, typer.Option("--site", help="Site id (needed when there are several).")
    ] = None,
    solver: SolverOpt = SolverChoice.cpsat,
    time_limit: TimeLimit = 10.0,
    workers: Workers = 2,
    seed: Seed = 0,
    as_json: JsonOption = False,
) -> None:
    """The fewest chairs or nurses at a site with which no visit is rejected (what-if)."""
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
        )
    if as_json:
        emit_json(result.as_dict())
        return
    rows = [
        (t["count"], t["rejections"], t["objective"], t["lp_rejections_needed"])
        for t in result.tried
    ]
    console.print(
        table(
            f"{resource.value} at site {result.site}",
            [resource.value, "rejected", "Z (objective)", "LP: rejections needed"],
            rows,
        )
    )
    if result.needed is None:
        console.print(f"no count up to the search limit avoids rejections ({resource.value})")
    else:
        how = (
            "the LP proves one fewer cannot avoid a rejection"
            if result.proven
            else f"one fewer was not shown impossible; {solver.value} with {time_limit:g} s found no schedule without rejections"
        )
        console.print(f"{result.needed} {resource.value} suffice (now {result.current}); {how}.")
    console.print(f"[italic]{FOOTER}[/]")
