"""``msinfuse serve``, ``msinfuse users ...`` and ``msinfuse audit export``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from msinfuse.cli.common import JsonOption, console, emit_json, table
from msinfuse.cli.records import run
from msinfuse.config import get_settings
from msinfuse.services import audit, auth

users_app = typer.Typer(help="Staff sign-ins and roles.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)

ROLE_HELP = "admin, prescriber, nurse, pharmacist, scheduler or viewer"


def _password(password: str | None) -> str:
    if password:
        return password
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option("--role", help=ROLE_HELP)],
    full_name: Annotated[str, typer.Option("--name", help="Full name.")],
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            envvar="MSINFUSE_NEW_PASSWORD",
            help="Asked for when not given (or set MSINFUSE_NEW_PASSWORD; avoids shell history).",
        ),
    ] = None,
) -> None:
    """Add a user (a strong password is required)."""
    out = run(
        lambda s, c: auth.create_user(
            s,
            c,
            {
                "username": username,
                "full_name": full_name,
                "role": role,
                "password": _password(password),
            },
        )
    )
    console.print(f"Added user {out['username']} ({out['role']}).")


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable a user and revoke their tokens and sessions."""
    run(lambda s, c: auth.disable_user(s, c, username))
    console.print(f"Disabled {username}.")


@users_app.command("reset-password")
def users_reset(
    username: Annotated[str, typer.Argument()],
    password: Annotated[
        str | None,
        typer.Option(
            "--password", envvar="MSINFUSE_NEW_PASSWORD", help="Asked for when not given."
        ),
    ] = None,
) -> None:
    """Set a new password (clears a lock-out, revokes tokens)."""
    run(lambda s, c: auth.reset_password(s, c, username, _password(password)))
    console.print(f"Password reset for {username}.")


@users_app.command("list")
def users_list(json_: JsonOption = False) -> None:
    """Every user."""
    rows = run(auth.list_users)
    if json_:
        emit_json(rows)
        return
    console.print(
        table(
            "Users",
            ["Username", "Name", "Role", "Active", "Locked until"],
            [
                (
                    u["username"],
                    u["full_name"],
                    u["role"],
                    "yes" if u["active"] else "no",
                    u["locked_until"] or "",
                )
                for u in rows
            ],
        )
    )


@audit_app.command("export")
def audit_export(
    since: Annotated[
        str, typer.Option("--since", help="Start (YYYY-MM-DD or ISO 8601 date-time).")
    ],
    json_: JsonOption = False,
) -> None:
    """Audit events since a date."""
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise typer.BadParameter(f"--since {since!r} is not a date or date-time") from None
    rows = run(lambda s, c: audit.export(s, c, moment))
    if json_:
        emit_json(rows)
        return
    console.print(
        table(
            f"Audit events since {since} ({len(rows)})",
            ["At", "User", "Action", "Resource", "Id", "Outcome", "Client"],
            [
                (
                    e["at"][:19],
                    e["username"] or "-",
                    e["action"],
                    e["resource_type"],
                    e["resource_id"] or "",
                    e["outcome"],
                    e["client_address"] or "",
                )
                for e in rows
            ],
        )
    )


def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="Worker processes (stateless).")
    ] = 1,
    demo_: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Build the synthetic demo clinic into a fresh SQLite file first and serve it, "
            "with one demo sign-in per role.",
        ),
    ] = False,
    demo_patients: Annotated[
        int, typer.Option("--demo-patients", min=1, help="Patients in the demo clinic.")
    ] = 300,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the demo clinic.")] = 1,
) -> None:
    """Run the server (API, FHIR and web UI) with uvicorn."""
    import os

    from msinfuse.cli import serving
    from msinfuse.cli.records import database_url
    from msinfuse.persistence.migrate import upgrade

    if demo_:
        url = _fresh_demo(demo_patients, seed)
        os.environ["MSINFUSE_DATABASE_URL"] = url  # the workers read their settings from here
        get_settings.cache_clear()
    else:
        upgrade(database_url())
    address = f"http://{host}:{port}/"
    console.print(f"msinfuse serving on {address}  (API docs: {address}api/v1/docs)")
    console.print("Decision support only: verify every output against the prescribing information.")
    serving.run("msinfuse.app:create_app_from_environment", host=host, port=port, workers=workers)


def _fresh_demo(patients: int, seed: int) -> str:
    """Build the demo clinic into a new SQLite file; print the demo sign-ins; return its URL."""
    from datetime import UTC, date, datetime

    from msinfuse.cli.common import knowledge
    from msinfuse.cli.demo import build_demo, print_summary
    from msinfuse.persistence.engine import make_engine, session_factory, session_scope
    from msinfuse.services.context import SYSTEM, ServiceContext

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / "demo.sqlite3"
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    out = build_demo(
        url,
        patients=patients,
        seed=seed,
        sites=1,
        chairs=12,
        day=date.today(),
        replace=False,
        workers=0,
    )
    print_summary(out)
    engine = make_engine(url)
    try:
        with session_scope(session_factory(engine)) as session:
            ctx = ServiceContext(knowledge(), SYSTEM, date.today(), datetime.now(UTC))
            users = auth.ensure_demo_users(session, ctx)
    finally:
        engine.dispose()
    console.print(
        table(
            "Demo sign-ins (synthetic clinic; never use these accounts with real data)",
            ["Username", "Role", "Password"],
            users,
        )
    )
    console.print(f"Demo database: {path}")
    return url
