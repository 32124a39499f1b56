"""The synthetic demo clinic: a deterministic, realistic clinic built with the real engines.

:func:`build_demo_clinic` writes sites and chairs, then patients with two to six years of
history each: treatment plans laid along the calendar engine (late doses reset the
schedule, a few doses are missed or held), infusions with rate events from the rate
planner and reactions at the knowledge base's incidence, tests, visits and authorizations
at the cadence of the monitoring rules (some left overdue), the next working days' chair
bookings with today's pre-infusion checks, and the worklist projections. Every clinical
number comes from the knowledge base; everything else is a documented generator parameter
(:class:`~msinfuse.services.demo_params.DemoParameters`, ``docs/demo-clinic.md``).

The same seed, date and parameters always give the same clinic, whatever the number of
worker processes. Nothing in it is real: names are built from invented syllables, record
numbers start with ``DEMO-``.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict
from datetime import date, time
from typing import Any

from sqlalchemy.orm import Session

from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.errors import Conflict, InvalidInput
from msinfuse.persistence import bulk
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.models import Patient, Site
from msinfuse.services import audit
from msinfuse.services.context import ServiceContext, require
from msinfuse.services.demo_booking import Booking, ChairBook, working_days
from msinfuse.services.demo_model import patient_mix, reaction_model, site_codes
from msinfuse.services.demo_params import DemoParameters
from msinfuse.services.demo_patient import GenPatient, PatientGenerator
from msinfuse.services.demo_rows import COLUMNS, ID_TABLES, ORDER, RowBatch

#: Largest clinic the command builds (a guard against typos, not a limit of the generator).
MAX_PATIENTS = 1_000_000
MAX_SITES = 500
MAX_CHAIRS = 200
#: Patients generated, booked and written per batch (one progress step).
BATCH = 1000

Progress = Callable[[int, int], None]


def build_demo_clinic(
    session: Session,
    ctx: ServiceContext,
    patients: int = 300,
    seed: int = 1,
    sites: int = 1,
    chairs_per_site: int = 12,
    on: date | None = None,
    progress: Progress | None = None,
    params: DemoParameters | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Build a synthetic clinic of ``patients`` patients at ``sites`` sites into an empty
    database, as of ``on`` (default ``ctx.today``); returns a summary.

    ``progress(done, total)`` is called after every batch of patients. ``workers`` > 1
    generates patients in that many processes (the result is identical). Raises
    :class:`~msinfuse.errors.Conflict` when the database already holds patients or sites
    (empty it first: :func:`clear_clinic`).
    """
    require(ctx.actor, "sites.manage")
    if not 1 <= patients <= MAX_PATIENTS:
        raise InvalidInput(f"patients must be between 1 and {MAX_PATIENTS}")
    if not 1 <= sites <= MAX_SITES:
        raise InvalidInput(f"sites must be between 1 and {MAX_SITES}")
    if not 1 <= chairs_per_site <= MAX_CHAIRS:
        raise InvalidInput(f"chairs per site must be between 1 and {MAX_CHAIRS}")
    if workers < 1:
        raise InvalidInput("workers must be at least 1")
    if repo.count_rows(session, Patient) or repo.count_rows(session, Site):
        raise Conflict("the database already holds patients or sites; empty it first (--replace)")
    params = params or DemoParameters()
    day = on or ctx.today
    horizon = working_days(day, params.booking_working_days)
    site_ids, chair_ids = _sites(session, sites, chairs_per_site, params)
    ids = bulk.next_ids(session, ID_TABLES)
    batch = RowBatch(ctx.kb, ids, site_ids, chair_ids, ctx.now)
    book = ChairBook(chairs_per_site, params, day)
    written: Counter[str] = Counter()
    decisions: Counter[str] = Counter()
    today_appointments = 0
    job = _Job(ctx.kb, params, day, sites, seed, horizon)
    for number, pat in enumerate(_patients(job, patients, workers), start=1):
        bookings: list[Booking] = []
        for item in pat.bookables:
            bookings += book.book(pat.site, pat.start_window, item)
        for booking in bookings:
            if booking.starts_at.date() == day:
                today_appointments += 1
            if booking.check is not None:
                decisions[booking.check["decision"]] += 1
        batch.add_patient(pat, bookings)
        if number % BATCH == 0 or number == patients:
            written.update(_write(session, batch.take()))
            if progress is not None:
                progress(number, patients)
    bulk.reset_sequences(session, [*ID_TABLES, "sites", "chairs"])
    audit.record(
        session, ctx, "demo-data", "Clinic", f"patients={patients} seed={seed} sites={sites}"
    )
    mix = patient_mix(ctx.kb, params)
    return {
        "patients": patients,
        "seed": seed,
        "date": day.isoformat(),
        "sites": site_codes(sites),
        "chairs_per_site": chairs_per_site,
        "booking_days": [d.isoformat() for d in horizon],
        "appointments_today": today_appointments,
        "check_decisions_today": dict(sorted(decisions.items())),
        "rows": {name: written.get(name, 0) for name in ORDER},
        "patient_mix": asdict(mix),
        "reaction_models": {
            agent: asdict(reaction_model(ctx.kb.agents[agent], params))
            for agent in sorted(ctx.kb.agents)
        },
        "parameters": params.describe(),
    }


def clear_clinic(session: Session, ctx: ServiceContext) -> dict[str, int]:
    """Empty every clinic table (patients, plans, records, sites, projections...) before a
    rebuild; the append-only audit log and the staff accounts stay, and the clearing itself
    is audited. Returns the rows each table held."""
    require(ctx.actor, "sites.manage")
    cleared = {t.name for t in bulk.clinic_tables()}
    counts = {
        name: count
        for name, count in repo.table_row_counts(session).items()
        if name in cleared and count
    }
    bulk.clear_tables(session)
    audit.record(session, ctx, "demo-data-clear", "Clinic", None)
    return counts


def _sites(
    session: Session, count: int, chairs: int, params: DemoParameters
) -> tuple[list[int], list[list[int]]]:
    ids = bulk.next_ids(session, ["sites", "chairs"])
    opens, closes = (time.fromisoformat(params.opens), time.fromisoformat(params.closes))
    site_rows, chair_rows = [], []
    site_ids: list[int] = []
    chair_ids: list[list[int]] = []
    for index, code in enumerate(site_codes(count)):
        site_id = ids["sites"] + index
        site_ids.append(site_id)
        name = f"{code.title()} infusion centre (demo)"
        site_rows.append((site_id, code, name, opens, closes, 2, 5, True))
        first = ids["chairs"] + index * chairs
        chair_ids.append(list(range(first, first + chairs)))
        chair_rows += [(first + n, site_id, f"C{n + 1:02d}", "chair", True) for n in range(chairs)]
    site_columns = ("id", "code", "name", "opens", "closes", "start_cap", "nurse_ratio", "active")
    bulk.insert_rows(session, "sites", site_columns, site_rows)
    bulk.insert_rows(session, "chairs", ("id", "site_id", "name", "kind", "active"), chair_rows)
    return site_ids, chair_ids


def _write(session: Session, rows: dict[str, list[tuple[Any, ...]]]) -> Counter[str]:
    written: Counter[str] = Counter()
    for name in ORDER:
        bulk.insert_rows(session, name, COLUMNS[name], rows.get(name, []))
        written[name] += len(rows.get(name, []))
    return written


# ---------------------------------------------------------------------- generation


class _Job:
    """What a worker needs to generate patients (picklable)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        params: DemoParameters,
        on: date,
        sites: int,
        seed: int,
        horizon: list[date],
    ) -> None:
        self.kb, self.params, self.on, self.sites, self.seed = kb, params, on, sites, seed
        self.horizon = horizon

    def generator(self) -> PatientGenerator:
        return PatientGenerator(self.kb, self.params, self.on, self.sites, self.seed, self.horizon)

    def __getstate__(self) -> dict[str, Any]:
        # The knowledge base does not pickle: a worker loads the packaged one (the caller
        # sends work to processes only when that is the knowledge base in use).
        return {k: v for k, v in self.__dict__.items() if k != "kb"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.kb = default_knowledge_base()


_WORKER: PatientGenerator | None = None
#: Patients per task sent to a worker process.
_CHUNK = 100


def _init_worker(job: _Job) -> None:
    global _WORKER
    _WORKER = job.generator()


def _generate_chunk(numbers: range) -> list[GenPatient]:
    assert _WORKER is not None
    return [_WORKER.generate(n).slim() for n in numbers]


def _patients(job: _Job, total: int, workers: int) -> Iterator[GenPatient]:
    """Patients 1..total in order, generated here or by ``workers`` processes (only with the
    packaged knowledge base, which each process loads itself)."""
    if workers == 1 or job.kb is not default_knowledge_base() or total <= _CHUNK:
        generator = job.generator()
        for number in range(1, total + 1):
            yield generator.generate(number)
        return
    chunks = [range(s, min(s + _CHUNK, total + 1)) for s in range(1, total + 1, _CHUNK)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(job,)
    ) as pool:
        pending: list[Future[list[GenPatient]]] = []
        queue = iter(chunks)
        for chunk in queue:
            pending.append(pool.submit(_generate_chunk, chunk))
            if len(pending) >= 2 * workers:
                break
        while pending:
            done = pending.pop(0).result()
            following = next(queue, None)
            if following is not None:
                pending.append(pool.submit(_generate_chunk, following))
            yield from done


def clinic_size(session: Session, ctx: ServiceContext) -> dict[str, Any]:
    """Rows per table and the size of the database on disk (bytes; ``None`` when unknown)."""
    require(ctx.actor, "sites.manage")
    rows = repo.table_row_counts(session)
    return {
        "rows": rows,
        "total_rows": sum(rows.values()),
        "bytes": repo.database_size_bytes(session),
    }


def patient_generator(
    kb: KnowledgeBase,
    on: date,
    sites: int = 1,
    seed: int = 1,
    params: DemoParameters | None = None,
) -> PatientGenerator:
    """The generator :func:`build_demo_clinic` uses for these arguments: its patient
    ``n`` is the clinic's ``n``-th patient, before chair booking (tests, what-if runs)."""
    params = params or DemoParameters()
    return PatientGenerator(
        kb, params, on, sites, seed, working_days(on, params.booking_working_days)
    )
