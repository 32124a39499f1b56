"""``msinfuse demo-data``: build the synthetic demo clinic in the configured database."""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from msinfuse.cli.common import (
    JsonOption,
    console,
    emit_json,
    err_console,
    knowledge,
    parse_date,
    table,
)
from msinfuse.cli.records import database_url
from msinfuse.persistence.engine import make_engine, session_factory, session_scope
from msinfuse.persistence.migrate import upgrade
from msinfuse.services import demo
from msinfuse.services.context import SYSTEM, ServiceContext

#: From this many patients on, ``--workers 0`` generates in parallel.
PARALLEL_FROM = 5000


def _workers(requested: int, patients: int) -> int:
    if requested > 0:
        return requested
    if patients < PARALLEL_FROM:
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def demo_data_command(
    patients: Annotated[int, typer.Option("--patients", help="How many patients.")] = 300,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same clinic).")] = 1,
    sites: Annotated[int, typer.Option("--sites", help="How many sites.")] = 1,
    chairs: Annotated[int, typer.Option("--chairs", help="Chairs per site.")] = 12,
    on: Annotated[
        str | None, typer.Option("--date", help="The clinic's today (YYYY-MM-DD; default today).")
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Empty the clinic tables first (patients, records, plans, sites...); the "
            "audit log and staff accounts stay.",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            help=f"Processes generating patients (0: automatic, parallel from {PARALLEL_FROM} patients).",
        ),
    ] = 0,
    json_: JsonOption = False,
) -> None:
    """Build a deterministic synthetic demo clinic (no real person's data) in the database."""
    day = parse_date(on, "--date") if on else date.today()
    out = build_demo(
        database_url(),
        patients=patients,
        seed=seed,
        sites=sites,
        chairs=chairs,
        day=day,
        replace=replace,
        workers=workers,
    )
    if json_:
        emit_json(out)
        return
    print_summary(out)


def build_demo(
    url: str,
    *,
    patients: int,
    seed: int,
    sites: int,
    chairs: int,
    day: date,
    replace: bool,
    workers: int,
) -> dict[str, Any]:
    """Migrate the database at ``url`` and build the demo clinic into it, with a progress bar;
    returns the summary."""
    upgrade(url)
    engine = make_engine(url)
    ctx = ServiceContext(knowledge(), SYSTEM, day, datetime.now(UTC))
    started = time.perf_counter()
    try:
        with Progress(
            TextColumn("Building the demo clinic"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("patients", total=patients)

            def tick(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            factory = session_factory(engine)
            with session_scope(factory) as session:
                cleared = demo.clear_clinic(session, ctx) if replace else {}
                out = demo.build_demo_clinic(
                    session,
                    ctx,
                    patients=patients,
                    seed=seed,
                    sites=sites,
                    chairs_per_site=chairs,
                    on=day,
                    progress=tick,
                    workers=_workers(workers, patients),
                )
        seconds = time.perf_counter() - started
        with session_scope(factory) as session:
            size = demo.clinic_size(session, ctx)
    finally:
        engine.dispose()
    out["seconds"] = round(seconds, 1)
    out["cleared_rows"] = sum(cleared.values())
    out["database_bytes"] = size["bytes"]
    return out


def print_summary(out: dict[str, Any]) -> None:
    rows = out["rows"]
    console.print(
        f"Built a demo clinic of {out['patients']} patients at {len(out['sites'])} site(s) "
        f"({', '.join(out['sites'][:6])}{'...' if len(out['sites']) > 6 else ''}), "
        f"{out['chairs_per_site']} chairs each, as of {out['date']} (seed {out['seed']}) "
        f"in {out['seconds']} s."
    )
    if out["cleared_rows"]:
        console.print(f"Emptied the clinic tables first ({out['cleared_rows']} rows).")
    console.print(
        table(
            f"Rows written ({sum(rows.values())} in all)",
            ["Table", "Rows"],
            [(name, count) for name, count in rows.items()],
        )
    )
    decisions = ", ".join(f"{k} {v}" for k, v in out["check_decisions_today"].items()) or "none"
    console.print(
        f"Today: {out['appointments_today']} appointments; pre-infusion checks: {decisions}."
    )
    if out["database_bytes"] is not None:
        console.print(f"Database size: {out['database_bytes'] / 1e6:.1f} MB.")
    console.print("Every name and record in it is synthetic (record numbers start with DEMO-).")
