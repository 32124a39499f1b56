"""Shared pieces of the command line: consoles, options, parsing, JSON and footers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, time
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from msinfuse.domain.knowledge.facts import ProfileId
from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.domain.knowledge.schema import KnowledgeBase

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class ProfileChoice(StrEnum):
    """Label profile: FDA labels (us, the default) or EMA SmPCs (eu)."""

    us = "us"
    eu = "eu"


ProfileOption = Annotated[
    ProfileChoice,
    typer.Option("--profile", help="Label profile: us (FDA labels, default) or eu (EMA SmPCs)."),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON for machines instead of tables.")
]


def profile_id(choice: ProfileChoice) -> ProfileId:
    """The domain profile id for a CLI choice."""
    return "eu" if choice is ProfileChoice.eu else "us"


def knowledge() -> KnowledgeBase:
    """The packaged knowledge base."""
    return default_knowledge_base()


def parse_date(text: str, what: str) -> date:
    """Parse ``YYYY-MM-DD`` or fail with a clear message naming ``what``."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{what} {text!r} is not a valid date (YYYY-MM-DD)") from None


def parse_clock(text: str) -> time:
    """Parse ``HH:MM``."""
    try:
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise typer.BadParameter(f"start time {text!r} is not a valid clock time (HH:MM)") from None


def emit_json(data: Any) -> None:
    """Write ``data`` as indented JSON to standard output."""
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A Rich table with the given columns and rows (cells rendered as text)."""
    result = Table(title=title, title_justify="left", show_lines=False)
    for index, column in enumerate(columns):
        # The first column holds identifiers: never fold them.
        result.add_column(column, overflow="fold", no_wrap=index == 0)
    for row in rows:
        result.add_row(*("" if cell is None else str(cell) for cell in row))
    return result


SEVERITY_STYLE = {"hold": "bold red", "warn": "yellow", "info": "cyan"}


def print_findings(findings: Sequence[Mapping[str, Any]]) -> None:
    """Findings, holds first, with their sources."""
    if not findings:
        return
    out = Table(title="Findings", title_justify="left")
    out.add_column("Severity", overflow="fold")
    out.add_column("Rule", overflow="fold")
    out.add_column("Message", overflow="fold")
    out.add_column("Source", style="dim", overflow="fold")
    for f in findings:
        style = SEVERITY_STYLE.get(str(f["severity"]), "")
        out.add_row(
            f"[{style}]{f['severity']}[/]", str(f["rule"]), str(f["message"]), str(f["source"])
        )
    console.print(out)


def print_footer(labels: Sequence[Mapping[str, str]], decision_support: str) -> None:
    """The decision-support line and the label revisions an output rests on."""
    console.print(f"[italic]{decision_support}[/]")
    if labels:
        console.print("Label revisions:")
        for label in labels:
            console.print(f"  - {label['document']}, revision {label['revision']}")
    else:
        console.print("Label revisions: none recorded for this profile.")


@contextmanager
def counted_progress(
    description: str, unit: str, *, quiet: bool = False
) -> Iterator[Callable[[int, int], None]]:
    """A transient progress bar counting ``unit`` on the console (hidden when ``quiet``,
    e.g. under ``--json``); yields ``tick(done, total)`` for the long-running work."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn(f"{{task.completed}}/{{task.total}} {unit}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet,
    ) as bar:
        task = bar.add_task(description, total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield tick
