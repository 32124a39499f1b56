"""The ``msinfuse`` command: entry point and error mapping.

Exit codes: 0 success; 2 bad input (unknown agent, bad option, impossible value) or any
other user error; 3 a pre-infusion check that holds; 70 an internal error (a bug).
Errors print one line, never a traceback, and never patient data.
"""

from __future__ import annotations

import os
import sys

import typer

from msinfuse.cli import clinical, demo, drugs, exchange, plans, records, schedule, server
from msinfuse.cli.common import err_console
from msinfuse.errors import InternalError, MsinfuseError, UserError

EXIT_USER_ERROR = 2
EXIT_HOLD = 3
EXIT_INTERNAL = 70

app = typer.Typer(
    name="msinfuse",
    help="msinfuse - the infusion side of an MS clinic. Decision support only: verify every output "
    "against the current prescribing information.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(drugs.app, name="drugs")
app.command("sources")(drugs.sources_command)
app.command("calendar")(plans.calendar_command)
app.command("rates")(plans.rates_command)
app.command("check")(clinical.check_command)
app.command("monitoring")(clinical.monitoring_command)
app.command("pml-risk")(clinical.pml_risk_command)
app.command("options")(clinical.options_command)
app.add_typer(records.db_app, name="db")
app.add_typer(records.patients_app, name="patients")
app.add_typer(records.plan_app, name="plan")
app.add_typer(records.record_app, name="record")
app.add_typer(records.appointment_app, name="appointment")
app.add_typer(records.worklist_app, name="worklist")
app.add_typer(records.sites_app, name="sites")
app.add_typer(server.users_app, name="users")
app.add_typer(server.audit_app, name="audit")
app.command("serve")(server.serve_command)
app.command("demo-data")(demo.demo_data_command)
app.add_typer(schedule.app, name="schedule")
app.add_typer(exchange.fhir_app, name="fhir")
app.command("calendar-feed")(exchange.calendar_feed_command)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and map every error to an exit code and one line on stderr."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name="msinfuse")
    except typer.Abort:
        err_console.print("aborted", markup=False, soft_wrap=True)
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: bad option, missing argument...
        format_message = getattr(exc, "format_message", None)
        message = format_message() if callable(format_message) else str(exc)
        err_console.print(f"error: {message}", markup=False, soft_wrap=True)
        sys.exit(EXIT_USER_ERROR)
    except UserError as exc:
        err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
        sys.exit(EXIT_USER_ERROR)
    except (InternalError, MsinfuseError) as exc:
        err_console.print(
            f"internal error: {type(exc).__name__}; please report it", markup=False, soft_wrap=True
        )
        sys.exit(EXIT_INTERNAL)
    except Exception as exc:
        # Never a traceback (it could echo patient data): one line, unless debugging.
        if os.environ.get("MSINFUSE_DEBUG"):
            raise
        err_console.print(
            f"internal error: {type(exc).__name__}; please report it "
            "(set MSINFUSE_DEBUG=1 for details)",
            markup=False,
            soft_wrap=True,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
