"""``msinfuse fhir export|import`` and ``msinfuse calendar-feed``: the same exchange as the
server, offline, on the configured database."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from msinfuse.cli.common import console, err_console
from msinfuse.cli.records import run
from msinfuse.config import get_settings
from msinfuse.domain.provenance import DECISION_SUPPORT
from msinfuse.errors import InvalidInput
from msinfuse.services import calendar_feed
from msinfuse.services.fhir import exchange

fhir_app = typer.Typer(help="FHIR R4 exchange (JSON Bundles).", no_args_is_help=True)

#: The base of ``fullUrl`` in a Bundle written by the command line (references are relative).
OFFLINE_BASE = "http://localhost/fhir"

OutputOption = Annotated[
    Path | None, typer.Option("-o", "--output", help="Write to this file instead of stdout.")
]


def _tz() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def _write(data: str | bytes, output: Path | None) -> None:
    if output is None:
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        return
    if isinstance(data, bytes):
        output.write_bytes(data)
    else:
        output.write_text(data, encoding="utf-8")
    err_console.print(f"Wrote {output}.")


@fhir_app.command("export")
def fhir_export(
    patient_id: Annotated[int, typer.Argument(help="The patient's id.")],
    output: OutputOption = None,
) -> None:
    """A patient's whole record as a FHIR R4 transaction Bundle (re-importable)."""
    bundle = run(lambda s, c: exchange.export_bundle(s, c, patient_id, _tz(), OFFLINE_BASE))
    _write(json.dumps(bundle, indent=2, ensure_ascii=False) + "\n", output)
    err_console.print(DECISION_SUPPORT)


@fhir_app.command("import")
def fhir_import(
    file: Annotated[Path, typer.Argument(help="A transaction or batch Bundle (JSON).")],
) -> None:
    """Import one patient's history: all or nothing; a repeated import changes nothing."""
    try:
        bundle = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read a JSON bundle from {file}: {type(exc).__name__}") from None
    try:
        response = run(lambda s, c: exchange.import_bundle(s, c, bundle, _tz()))
    except exchange.ImportRejected as exc:
        for problem in exc.problems:
            err_console.print(f"[red]{problem.location}[/red]: {problem.message} ({problem.code})")
        raise
    statuses = [e["response"]["status"] for e in response["entry"]]
    created = sum(s.startswith("201") for s in statuses)
    console.print(
        f"Imported {created} new resource(s); {len(statuses) - created} already present, unchanged."
    )


def calendar_feed_command(
    patient_id: Annotated[int, typer.Argument(help="The patient's id.")],
    output: OutputOption = None,
) -> None:
    """A patient's calendar (iCalendar): planned infusions with expected chair time,
    monitoring due dates and the visit preparation text."""
    data = run(lambda s, c: calendar_feed.patient_calendar(s, c, patient_id, _tz()))
    _write(data, output)
