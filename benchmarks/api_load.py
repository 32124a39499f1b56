"""API under load: the server on loopback against PostgreSQL with the demo clinic.

Builds the demo clinic into a fresh PostgreSQL database, starts ``msinfuse serve`` with N
workers, signs in once as the demo nurse, then for each endpoint drives a fixed number of
concurrent clients for a fixed time and measures every request: the pre-infusion check
(``POST /patients/{id}/checks``, which also stores the check and its audit event), today's
worklist, a patient read, and the trivial ``/health`` on the same server for comparison.
Reports requests per second, p50 and p99 latency, errors, and each endpoint's ratio to
``/health``; writes the ``## API under load`` section of ``docs/benchmarks.md``.

    make bench-api                       # defaults below
    uv run python -m benchmarks.api_load --patients 2000 --clients 50 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks._report import write_section
from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.persistence.engine import make_engine, session_factory, session_scope
from msinfuse.services import auth
from msinfuse.services.context import SYSTEM, ServiceContext

SECTION = "## API under load"
API = "/api/v1"


@dataclass
class Result:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_database(url: str) -> None:
    admin_url = make_url(url).set(database="postgres")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = make_url(url).database
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def msinfuse(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "msinfuse.cli.main", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )


@contextlib.contextmanager
def server(env: dict[str, str], port: int, workers: int) -> Iterator[str]:
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open for the server's lifetime
        "w+", prefix="msinfuse-server-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "msinfuse.cli.main",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(base + API + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                log.seek(0)
                raise RuntimeError("the server did not start:\n" + log.read()[-3000:])
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


Request = Callable[[httpx.AsyncClient], Any]


async def drive(
    name: str,
    client: httpx.AsyncClient,
    make: Iterator[Request],
    clients: int,
    seconds: float,
    warmup: float,
) -> Result:
    result = Result(name)
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds

    async def one_client() -> None:
        while (now := time.perf_counter()) < stop_at:
            request = next(make)
            try:
                response = await request(client)
                ok = response.status_code < 400
            except httpx.HTTPError:
                ok = False
            elapsed = (time.perf_counter() - now) * 1000
            if now >= measure_from:
                if ok:
                    result.latencies_ms.append(elapsed)
                else:
                    result.errors += 1

    await asyncio.gather(*(one_client() for _ in range(clients)))
    result.seconds = seconds
    return result


async def run_load(
    base: str, token: str, clients: int, seconds: float, warmup: float
) -> list[Result]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=base + API, headers=headers, limits=limits, timeout=30
    ) as client:
        today = (await client.get("/worklists/today", params={"limit": 1000})).json()["items"]
        visits = [(row["patient_id"], row["agent"]) for row in today if row.get("agent")]
        if not visits:
            raise RuntimeError("the demo clinic has no infusions today")
        patients = sorted({pid for pid, _ in visits})
        day = date.today().isoformat()

        def health() -> Iterator[Request]:
            return itertools.repeat(lambda c: c.get("/health"))

        def check() -> Iterator[Request]:
            return (
                (
                    lambda c, p=pid, a=agent: c.post(
                        f"/patients/{p}/checks", json={"agent": a, "date": day}
                    )
                )
                for pid, agent in itertools.cycle(visits)
            )

        def worklist() -> Iterator[Request]:
            return itertools.repeat(lambda c: c.get("/worklists/today", params={"limit": 100}))

        def patient() -> Iterator[Request]:
            return ((lambda c, p=pid: c.get(f"/patients/{p}")) for pid in itertools.cycle(patients))

        results = []
        for name, make in [
            ("GET /health", health()),
            ("POST /patients/{id}/checks", check()),
            ("GET /worklists/today", worklist()),
            ("GET /patients/{id}", patient()),
        ]:
            print(f"  {name}: {clients} clients for {seconds:.0f} s ...", file=sys.stderr)
            results.append(await drive(name, client, make, clients, seconds, warmup))
        return results


def report(results: list[Result], args: argparse.Namespace, build_s: float, command: str) -> str:
    health = results[0]
    lines = [
        SECTION,
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL on "
        f"127.0.0.1; the load generator (one asyncio process, httpx) runs on the same cores as "
        f"the server ({args.workers} uvicorn workers), so latencies include its share of the CPU.",
        "",
        f"Demo clinic: {args.patients} patients (seed {args.seed}), built in {build_s:.0f} s. "
        f"{args.clients} concurrent clients per endpoint, {args.duration:.0f} s measured after a "
        f"{args.warmup:.0f} s warm-up, one endpoint at a time.",
        "",
        "| Endpoint | Requests | Errors | Req/s | p50 ms | p99 ms | Req/s vs /health | p99 vs /health |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| `{r.name}` | {r.requests} | {r.errors} | {r.rps:.0f} | {r.percentile(0.5):.1f} | "
            f"{r.percentile(0.99):.1f} | {r.rps / health.rps:.2f} | {r.percentile(0.99) / health.percentile(0.99):.1f}× |"
        )
    goal_ok = all(r.errors == 0 for r in results) and all(
        r.percentile(0.99) < 100
        for r in results
        if r.name in {"POST /patients/{id}/checks", "GET /patients/{id}"}
    )
    lines += [
        "",
        "Goal: zero errors, and p99 under 100 ms for the check and the patient read at this load on "
        f"2 cores: **{'met' if goal_ok else 'not met'}** in this run.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/msinfuse_apiload"
    )
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--no-docs", action="store_true", help="Do not write docs/benchmarks.md.")
    args = parser.parse_args(argv)
    command = (
        "make bench-api"
        if argv is None and len(sys.argv) == 1
        else "python -m benchmarks.api_load " + " ".join(sys.argv[1:] if argv is None else argv)
    )

    env = {**os.environ, "MSINFUSE_DATABASE_URL": args.pg_url, "MSINFUSE_LOG_LEVEL": "WARNING"}
    print(f"Building the demo clinic ({args.patients} patients) ...", file=sys.stderr)
    fresh_database(args.pg_url)
    started = time.perf_counter()
    msinfuse("demo-data", "--patients", str(args.patients), "--seed", str(args.seed), env=env)
    build_s = time.perf_counter() - started

    engine = make_engine(args.pg_url)
    with session_scope(session_factory(engine)) as session:
        ctx = ServiceContext(default_knowledge_base(), SYSTEM, date.today(), datetime.now(UTC))
        demo_users = auth.ensure_demo_users(session, ctx)
    engine.dispose()
    nurse = next((u, p) for u, role, p in demo_users if role == "nurse")

    with server(env, free_port(), args.workers) as base:
        signed_in = httpx.post(
            base + API + "/auth/token", data={"username": nurse[0], "password": nurse[1]}
        )
        signed_in.raise_for_status()
        results = asyncio.run(
            run_load(
                base, signed_in.json()["access_token"], args.clients, args.duration, args.warmup
            )
        )
    section = report(results, args, build_s, command)
    print(section)
    if not args.no_docs:
        write_section(
            Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md", SECTION, section
        )
    return 0 if all(r.errors == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
