"""Worklist benchmark: the clinic-wide worklists on a 100,000-patient demo clinic, on SQLite
and on PostgreSQL, against a naive per-patient ORM loop computing the same answer.

    python -m benchmarks.worklists                      # both databases, 100,000 patients
    python -m benchmarks.worklists --patients 10000 --databases sqlite --no-docs

For each database it builds the demo clinic (``msinfuse.services.demo``; build time and
database size are recorded), times each worklist service (median of ``--runs`` runs after a
warm-up, each in its own transaction), runs the naive loop once (over every patient, or a
random ``--naive-sample`` of them, extrapolated linearly and said so), checks that both
give the same answer, and writes the ``## Worklists`` section of ``docs/benchmarks.md``.
Goal: every worklist under one second, and at least 50 times faster than the naive loop.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from benchmarks import _naive as naive
from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.engine import make_engine, session_factory, session_scope
from msinfuse.persistence.migrate import upgrade
from msinfuse.services import demo, worklists
from msinfuse.services.context import SYSTEM, ServiceContext

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Worklists"
GOAL_SECONDS = 1.0
GOAL_RATIO = 50.0
WORKLISTS = ("today", "due", "monitoring", "pml", "adherence")
LOAD_AT_START = "n/a"


@dataclass
class Result:
    """One database's figures."""

    database: str
    patients: int
    build_seconds: float | None = None
    database_bytes: int | None = None
    total_rows: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    service: dict[str, list[float]] = field(default_factory=dict)
    answer_rows: dict[str, int] = field(default_factory=dict)
    naive_seconds: dict[str, float] = field(default_factory=dict)
    naive_patients: dict[str, int] = field(default_factory=dict)
    equal: dict[str, bool] = field(default_factory=dict)

    def median(self, name: str) -> float:
        return statistics.median(self.service[name])

    def naive_full(self, name: str) -> float:
        return self.naive_seconds[name] * self.patients / self.naive_patients[name]


def _ctx(day: date) -> ServiceContext:
    return ServiceContext(default_knowledge_base(), SYSTEM, day, datetime.now(UTC))


def _service(name: str, session: Session, ctx: ServiceContext) -> list[dict[str, Any]]:
    if name == "today":
        return worklists.today(session, ctx)
    if name == "due":
        return worklists.due(session, ctx)
    if name == "monitoring":
        return worklists.monitoring_due(session, ctx)
    if name == "pml":
        return worklists.pml(session, ctx)
    return worklists.adherence(session, ctx)


def _naive(name: str, session: Session, ids: list[int], day: date) -> list[dict[str, Any]]:
    kb = default_knowledge_base()
    if name == "today":
        return naive.today(session, ids, day)
    if name == "due":
        return naive.due(session, ids, day)
    if name == "monitoring":
        return naive.monitoring_due(session, kb, ids, day)
    if name == "pml":
        return naive.pml(session, kb, ids, day)
    return naive.adherence(session, ids, day.replace(year=day.year - 1), day)


def _comparable(name: str, rows: list[dict[str, Any]]) -> list[Any]:
    """Rows in a total order (the services order by what a clinician sorts on; rows that tie
    there may come in either order)."""
    if name == "monitoring":
        return sorted(
            rows,
            key=lambda r: (
                r["due_on"],
                r["family_name"],
                r["patient_id"],
                r["item_id"],
                r["agent"],
            ),
        )
    return rows


def _prepare(kind: str, url: str, args: argparse.Namespace) -> bool:
    """Create an empty database at ``url``; False when ``--reuse`` finds one built."""
    if args.reuse and _patients_in(url) == args.patients:
        upgrade(url)  # a clinic built by an earlier version gets the newer tables (empty)
        return False
    if kind == "sqlite":
        path = Path(make_url(url).database or "")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        parsed = make_url(url)
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    upgrade(url)
    return True


def _patients_in(url: str) -> int | None:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return len(repo.patient_ids(session))
    except Exception:
        return None
    finally:
        engine.dispose()


def _progress(label: str) -> Callable[[int, int], None]:
    started = time.perf_counter()

    def tick(done: int, total: int) -> None:
        if done == total or done % 10_000 == 0:
            elapsed = time.perf_counter() - started
            print(f"  {label}: {done}/{total} patients, {elapsed:.0f} s", flush=True)

    return tick


def run_database(kind: str, url: str, args: argparse.Namespace) -> Result:
    day = date.fromisoformat(args.date)
    result = Result(kind, args.patients)
    engine = make_engine(url)
    factory = session_factory(engine)
    if _prepare(kind, url, args):
        print(f"{kind}: building {args.patients} patients", flush=True)
        started = time.perf_counter()
        with session_scope(factory) as session:
            demo.build_demo_clinic(
                session,
                _ctx(day),
                patients=args.patients,
                seed=args.seed,
                sites=args.sites,
                chairs_per_site=args.chairs,
                on=day,
                progress=_progress(kind),
                workers=args.workers,
            )
        result.build_seconds = time.perf_counter() - started
        if kind == "postgres":
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        else:
            with engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
    with session_scope(factory) as session:
        size = demo.clinic_size(session, _ctx(day))
        result.database_bytes = size["bytes"]
        result.total_rows = size["total_rows"]
        result.rows = size["rows"]
        ids = list(repo.patient_ids(session))
    if args.naive_sample and args.naive_sample < len(ids):
        sample = sorted(random.Random(args.seed).sample(ids, args.naive_sample))
    else:
        sample = ids
    for name in WORKLISTS:
        # Adherence is a clinic-wide aggregate: its naive loop always runs over everyone.
        naive_ids = ids if name == "adherence" else sample
        result.naive_patients[name] = len(naive_ids)
        timings = []
        answer: list[dict[str, Any]] = []
        for run in range(args.runs + 1):
            session = factory()
            try:
                started = time.perf_counter()
                answer = _service(name, session, _ctx(day))
                elapsed = time.perf_counter() - started
            finally:
                session.rollback()
                session.close()
            if run:  # the first run warms the caches
                timings.append(elapsed)
        result.service[name] = timings
        result.answer_rows[name] = len(answer)
        with Session(engine) as session:
            started = time.perf_counter()
            slow = _naive(name, session, naive_ids, day)
            result.naive_seconds[name] = time.perf_counter() - started
        expected = answer if len(naive_ids) == len(ids) else naive.restrict(answer, set(naive_ids))
        result.equal[name] = _comparable(name, slow) == _comparable(name, expected)
        print(
            f"  {kind} {name}: {len(answer)} rows, median {result.median(name):.3f} s, "
            f"naive {result.naive_seconds[name]:.1f} s over {len(naive_ids)} patients, "
            f"equal: {result.equal[name]}",
            flush=True,
        )
    engine.dispose()
    return result


def _mb(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 1e6:,.0f} MB"


def render(results: list[Result], args: argparse.Namespace, command: str) -> str:
    sample_note = (
        f"The naive loop ran over a random sample of {args.naive_sample:,} patients (seed "
        f"{args.seed}) and its time is extrapolated linearly to all {args.patients:,} patients; "
        "equality is checked on the sample (the service's rows of the sampled patients). "
        "Adherence, a clinic-wide aggregate, always loops over every patient and is compared "
        "in full."
        if args.naive_sample
        else "The naive loop ran once over every patient; equality is checked on the full answer."
    )
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC).strftime('%Y-%m-%d')} on {platform.machine()} with "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, SQLite "
        f"{_sqlite_version()} and PostgreSQL {_pg_version(args)} (local server, default "
        f"settings). Load average at the start: {LOAD_AT_START}; other work shared the machine, so "
        "treat the figures as indicative.",
        "",
        "Command:",
        "",
        "```",
        command,
        "```",
        "",
        f"Clinic: {args.patients:,} demo patients (seed {args.seed}), {args.sites} sites of "
        f"{args.chairs} chairs, as of {args.date}; built with `--workers {args.workers}`.",
        "",
        "| Database | Build time | Database size | Rows |",
        "|---|---|---|---|",
    ]
    for r in results:
        build = f"{r.build_seconds:,.0f} s" if r.build_seconds is not None else "(reused)"
        lines.append(f"| {r.database} | {build} | {_mb(r.database_bytes)} | {r.total_rows:,} |")
    lines += [
        "",
        f"Each worklist is the service call (`msinfuse.services.worklists`, rows converted to "
        f"JSON-ready dicts, audit event included), median of {args.runs} runs after one "
        "warm-up run, each in its own transaction. The naive loop loads each patient's rows "
        "with the ORM one patient at a time and runs the pure engines and filters "
        f"(`benchmarks/_naive.py`); it ran once. {sample_note}",
        "",
        "| Worklist | Database | Rows | Median (s) | Naive loop (s) | Faster by | Same answer | Goal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in WORKLISTS:
        for r in results:
            median = r.median(name)
            full = r.naive_full(name)
            ratio = full / median if median else float("inf")
            goal = "met" if median < GOAL_SECONDS and ratio >= GOAL_RATIO else "missed"
            extrapolated = r.naive_patients[name] < r.patients
            naive_text = f"{full:,.1f}" + (" (extrapolated)" if extrapolated else "")
            lines.append(
                f"| {name} | {r.database} | {r.answer_rows[name]:,} | {median:.3f} | "
                f"{naive_text} | {ratio:,.0f}× | {'yes' if r.equal[name] else 'NO'} | {goal} |"
            )
    lines += [
        "",
        "Rows per table after the build:",
        "",
        "| Table | " + " | ".join(r.database for r in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    names = sorted({n for r in results for n, c in r.rows.items() if c})
    for n in names:
        lines.append(f"| {n} | " + " | ".join(f"{r.rows.get(n, 0):,}" for r in results) + " |")
    return "\n".join(lines) + "\n"


def _sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


def _pg_version(args: argparse.Namespace) -> str:
    if "postgres" not in args.databases:
        return "(not run)"
    engine = create_engine(args.pg_url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar())
    finally:
        engine.dispose()


def _load() -> str:
    try:
        return ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def write_docs(section: str) -> None:
    """Replace (or add) the ``## Worklists`` section of docs/benchmarks.md, leaving the other
    sections as they are."""
    text_ = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    start = text_.find(SECTION)
    if start < 0:
        text_ = text_.rstrip("\n") + "\n\n" + section
    else:
        end = text_.find("\n## ", start + len(SECTION))
        rest = text_[end + 1 :] if end >= 0 else ""
        text_ = text_[:start] + section + ("\n" + rest if rest else "")
    DOCS.write_text(text_, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--chairs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--date", default="2026-11-24")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--sqlite-path", default="/tmp/msinfuse-bench.sqlite3")
    parser.add_argument(
        "--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/msinfuse_bench"
    )
    parser.add_argument(
        "--naive-sample", type=int, default=0, help="Time the naive loop on N random patients."
    )
    parser.add_argument("--reuse", action="store_true", help="Reuse a built database.")
    parser.add_argument("--no-docs", action="store_true", help="Do not write docs/benchmarks.md.")
    args = parser.parse_args(argv)
    global LOAD_AT_START
    LOAD_AT_START = _load()
    command = "python -m benchmarks.worklists " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    results = []
    for kind in args.databases.split(","):
        url = f"sqlite:///{args.sqlite_path}" if kind == "sqlite" else args.pg_url
        results.append(run_database(kind, url, args))
    section = render(results, args, command.strip())
    print(section)
    if not args.no_docs:
        write_docs(section)
    ok = all(all(r.equal.values()) for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
