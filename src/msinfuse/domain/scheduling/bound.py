"""Lower bounds on the objective (reference §4 and §7.9), solved with HiGHS.

* ``lp``: the time-indexed LP relaxation. One column x[r, site, day, t] per allowed grid start
  (site and day assignment relaxed, series coupling and spread dropped, pharmacy rows dropped)
  plus a rejection column per visit; Σ x + reject = 1; per site-day and 5-minute unit one row
  for chairs (beds), one for nurse units (≤ M·N(t)); one row per 15-minute slot for the start
  cap. Each column costs its overtime, preferred-window, days-away and non-home terms. Skipped
  (``None``) when it would exceed ``max_columns`` columns (network weeks).
* ``mip_dual``: the same model with integral columns, solved for ``mip_time`` seconds; HiGHS'
  dual bound (only when ``mip_time`` > 0).
* ``energy``: an energetic LP with one fractional column per (visit, site, day): per site-day
  the chair time beyond C·(close − open) and the nurse units beyond M·∫N over opening hours
  (divided by M, the most a visit can use per unit) must be overtime; nothing may exceed the
  chair and nurse energy up to the hard end of the day. Small for any size.

Every bound is rounded up to an integer (all costs are integers). ``best`` is their maximum.
"""

from __future__ import annotations

import math
import os
import sys
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np

from msinfuse.domain.scheduling.core import (
    candidate_starts,
    nurse_demand,
    nurses_on_duty,
    placement_cost,
)
from msinfuse.domain.scheduling.model import GRID, UNIT_MIN, Instance, Request


@dataclass
class LowerBound:
    """The bounds computed and the best of them."""

    best: float
    lp: float | None = None
    mip_dual: float | None = None
    energy: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    columns: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The ``bounds`` object of an instance file."""
        return {
            "best": self.best,
            "lp": self.lp,
            "mip_dual": self.mip_dual,
            "energy": self.energy,
            "seconds": self.seconds,
            "columns": self.columns,
            "notes": self.notes,
        }


class _Builder:
    """Column-wise sparse model for HiGHS."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.upper: list[float] = []
        self.starts: list[int] = [0]
        self.index: array[int] = array("i")
        self.value: array[float] = array("d")
        self.row_lo: list[float] = []
        self.row_hi: list[float] = []
        self.tags: list[tuple[str, str, int, int] | None] = []

    def row(self, lo: float, hi: float) -> int:
        self.row_lo.append(lo)
        self.row_hi.append(hi)
        return len(self.row_lo) - 1

    def col(
        self,
        cost: float,
        entries: list[tuple[int, float]],
        upper: float = 1.0,
        tag: tuple[str, str, int, int] | None = None,
    ) -> None:
        self.tags.append(tag)
        self.cost.append(cost)
        self.upper.append(upper)
        for r, v in entries:
            self.index.append(r)
            self.value.append(v)
        self.starts.append(len(self.index))

    def solve(
        self, *, integral: bool = False, time_limit: float = 60.0, threads: int = 2
    ) -> tuple[str, float | None, float | None]:
        """(status, objective, dual bound) of the model; ``self.values`` holds the columns."""
        lp = highspy.HighsLp()
        lp.num_col_ = len(self.cost)
        lp.num_row_ = len(self.row_lo)
        lp.col_cost_ = np.array(self.cost, dtype=np.double)
        lp.col_lower_ = np.zeros(lp.num_col_, dtype=np.double)
        lp.col_upper_ = np.array(self.upper, dtype=np.double)
        lp.row_lower_ = np.array(self.row_lo, dtype=np.double)
        lp.row_upper_ = np.array(self.row_hi, dtype=np.double)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_ = lp.num_col_
        lp.a_matrix_.num_row_ = lp.num_row_
        lp.a_matrix_.start_ = np.array(self.starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.frombuffer(self.index, dtype=np.int32)
        lp.a_matrix_.value_ = np.frombuffer(self.value, dtype=np.double)
        if integral:
            lp.integrality_ = [highspy.HighsVarType.kInteger] * lp.num_col_
        h = new_highs()
        h.setOptionValue("time_limit", float(time_limit))
        # HiGHS sizes its global thread pool once per process and refuses to run with a
        # different "threads" value afterwards, so the option is left at its default.
        del threads
        h.setOptionValue("random_seed", 0)
        h.passModel(lp)
        h.run()
        status = h.modelStatusToString(h.getModelStatus())
        info = h.getInfo()
        self.values = list(h.getSolution().col_value)
        if integral:
            dual = float(info.mip_dual_bound)
            primal = float(info.objective_function_value) if info.primal_solution_status else None
            return (status, primal, dual if math.isfinite(dual) else None)
        if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            value = float(info.objective_function_value)
            return (status, value, value)
        return (status, None, None)


def new_highs() -> highspy.Highs:
    """A silent HiGHS instance.

    The C++ constructor prints a copyright banner on standard output the first time; that
    would corrupt ``--json`` output, so file descriptor 1 is pointed at /dev/null meanwhile.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()  # type: ignore[no-untyped-call]
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    return h


def _ceil(value: float) -> float:
    return float(math.ceil(value - 1e-6))


def time_indexed(
    instance: Instance,
    requests: Sequence[Request] | None = None,
    only: tuple[str, int] | None = None,
    reject_only: bool = False,
    block: int = 1,
) -> tuple[_Builder, int]:
    """The time-indexed relaxation of §4.7 (pharmacy rows dropped).

    ``only`` restricts every visit to one (site, day): the site-day model used as a MIP
    primal heuristic by the CP-SAT solver. ``reject_only`` prices rejections at 1 and
    everything else at 0 (the LP then bounds the number of rejections needed).

    ``block`` > 1 aggregates ``block`` consecutive grid starts into one column that uses, at
    each unit, the least any of its starts uses, costs the least any of them costs, and counts
    against a start-cap row of ``block`` slots (capacity S·block): still a valid relaxation,
    with far fewer columns and nonzeros (used for network weeks).
    """
    b = _Builder()
    m = instance.ratio
    rows: dict[tuple[str, int], dict[str, dict[int, int]]] = {}
    sites = {s.id: s for s in instance.sites}

    def site_day_rows(site_id: str, day: int) -> dict[str, dict[int, int]]:
        key = (site_id, day)
        if key not in rows:
            s = sites[site_id]
            span = range(s.open, s.latest_end)
            cap = [m * n for n in nurses_on_duty(instance, s, day)]
            rows[key] = {
                "C": {t: b.row(-math.inf, s.chairs) for t in span},
                "B": {t: b.row(-math.inf, s.beds) for t in span} if s.beds else {},
                "N": {t: b.row(-math.inf, cap[t]) for t in span},
                "S": {
                    c: b.row(-math.inf, s.start_cap * block)
                    for c in sorted({(t // GRID) // block for t in span if t % GRID == 0})
                },
            }
        return rows[key]

    for r in instance.requests if requests is None else requests:
        assign = b.row(1.0, 1.0)
        p = instance.phases(r).chair
        demand = nurse_demand(instance, r)
        kind = "B" if instance.needs_bed(r) else "C"
        options = [(s, d) for s in r.sites for d in r.days] if only is None else [only]
        for site_id, day in options:
            site = sites[site_id]
            starts = candidate_starts(instance, r, site)
            if not starts:
                continue
            rr = site_day_rows(site_id, day)
            chunks: dict[int, list[int]] = {}
            for t in starts:
                chunks.setdefault((t // GRID) // block, []).append(t)
            for chunk, ts in chunks.items():
                first, last = ts[0], ts[-1]
                entries = [(assign, 1.0), (rr["S"][chunk], 1.0)]
                entries += [(rr[kind][u], 1.0) for u in range(last, first + p)]
                for u in range(last, first + p):
                    need = min(demand[u - t] for t in ts)
                    entries.append((rr["N"][u], float(need)))
                cost = min(placement_cost(instance, r, site, day, t) for t in ts)
                b.col(
                    0.0 if reject_only else float(cost),
                    entries,
                    tag=(r.id, site_id, day, first) if block == 1 else None,
                )
        b.col(1.0 if reject_only else float(instance.weights.rejected), [(assign, 1.0)])
    return b, len(b.cost)


def choose_block(instance: Instance, max_nonzeros: int) -> int:
    """The smallest start aggregation whose time-indexed LP has at most ``max_nonzeros``."""
    sizes: list[tuple[int, int]] = []  # (chair time, number of grid starts) per option
    for r in instance.requests:
        p = instance.phases(r).chair
        for s in r.sites:
            n = len(candidate_starts(instance, r, instance.site(s)))
            sizes += [(p, n)] * len(r.days)
    for block in range(1, 49):
        nnz = sum(math.ceil(n / block) * (2 * max(0, p - GRID * (block - 1)) + 2) for p, n in sizes)
        if nnz <= max_nonzeros:
            return block
    return 48


def energy_lp(instance: Instance, reject_only: bool = False) -> _Builder:
    """The energetic relaxation: fractional (visit, site, day) columns, energy rows."""
    b = _Builder()
    m = instance.ratio
    w = instance.weights
    sites = {s.id: s for s in instance.sites}
    rows: dict[tuple[str, int], tuple[int, int, int, int]] = {}
    ot_cols: list[tuple[int, int]] = []

    def site_day(site_id: str, day: int) -> tuple[int, int, int, int]:
        key = (site_id, day)
        if key not in rows:
            s = sites[site_id]
            cap = [m * n for n in nurses_on_duty(instance, s, day)]
            open_units = float(sum(cap[s.open : s.close]))
            all_units = float(sum(cap[s.open : s.latest_end]))
            chair_rows = [
                # Σp·y − OT ≤ (C + B)·H; beds pooled with chairs (a relaxation)
                b.row(-math.inf, (s.chairs + s.beds) * (s.close - s.open)),
                b.row(-math.inf, (s.chairs + s.beds) * s.ot_max),  # Σ overtime fits after close
            ]
            nurse_row = b.row(-math.inf, open_units / m)  # (ΣU·y)/M − OT ≤ capN/M
            nurse_all = b.row(-math.inf, all_units)
            rows[key] = (chair_rows[0], nurse_row, nurse_all, chair_rows[1])
            ot_cols.append((rows[key][0], rows[key][1]))
        return rows[key]

    for r in instance.requests:
        assign = b.row(1.0, 1.0)
        p = instance.phases(r).chair
        units = float(sum(nurse_demand(instance, r)))
        for site_id in r.sites:
            site = sites[site_id]
            starts = candidate_starts(instance, r, site)
            if not starts:
                continue
            for day in r.days:
                # Cheapest placement ignoring capacity, minus the overtime part (charged by OT).
                best = min(
                    placement_cost(instance, r, site, day, t)
                    - w.overtime_min * UNIT_MIN * max(0, t + p - site.close)
                    for t in starts
                )
                chair, nurse, nurse_all, _after = site_day(site_id, day)
                b.col(
                    0.0 if reject_only else float(best),
                    [(assign, 1.0), (chair, float(p)), (nurse, units / m), (nurse_all, units)],
                )
        b.col(1.0 if reject_only else float(w.rejected), [(assign, 1.0)])
    # One overtime column per site-day: covers both the chair and the nurse energy rows
    # (the larger of the two excesses is what it must pay for), and uses after-close chair time.
    for key, (chair, nurse, _nurse_all, after) in rows.items():
        del key
        b.col(
            0.0 if reject_only else float(w.overtime_min * UNIT_MIN),
            [(chair, -1.0), (nurse, -1.0), (after, 1.0)],
            upper=math.inf,
        )
    return b


def lower_bound(
    instance: Instance,
    *,
    mip_time: float = 0.0,
    threads: int = 2,
    max_nonzeros: int = 6_000_000,
    lp_time: float = 600.0,
) -> LowerBound:
    """The LP, MIP-dual and energetic bounds and the best of them.

    The time-indexed LP aggregates starts into blocks when the full model would exceed
    ``max_nonzeros`` (``block`` in the notes); the MIP is only run on the full model.
    """
    result = LowerBound(best=0.0)
    began = time.perf_counter()
    _status, value, _dual = energy_lp(instance).solve(threads=threads)
    result.seconds["energy"] = round(time.perf_counter() - began, 3)
    if value is not None:
        result.energy = _ceil(value)
    block = choose_block(instance, max_nonzeros)
    began = time.perf_counter()
    model, result.columns = time_indexed(instance, block=block)
    status, value, _dual = model.solve(threads=threads, time_limit=lp_time)
    result.seconds["lp"] = round(time.perf_counter() - began, 3)
    if block > 1:
        result.notes.append(
            f"time-indexed LP with starts aggregated in blocks of {block} (a weaker relaxation)"
        )
    if value is not None:
        result.lp = _ceil(value)
    else:
        result.notes.append(f"time-indexed LP not solved: {status}")
    if mip_time > 0 and block == 1:
        began = time.perf_counter()
        status, _primal, dual = model.solve(integral=True, time_limit=mip_time, threads=threads)
        result.seconds["mip"] = round(time.perf_counter() - began, 3)
        if dual is not None:
            result.mip_dual = _ceil(dual)
        result.notes.append(f"MIP status after {mip_time:g} s: {status}")
    result.best = max(v for v in (result.lp, result.mip_dual, result.energy, 0.0) if v is not None)
    return result


def rejections_needed(
    instance: Instance, *, threads: int = 2, max_nonzeros: int = 6_000_000
) -> int:
    """A lower bound on the number of visits any schedule must reject (LP, rounded up)."""
    best = 0.0
    _status, value, _ = energy_lp(instance, reject_only=True).solve(threads=threads)
    if value is not None:
        best = value
    model, _ = time_indexed(instance, reject_only=True, block=choose_block(instance, max_nonzeros))
    _status, value, _ = model.solve(threads=threads, time_limit=600.0)
    if value is not None:
        best = max(best, value)
    return math.ceil(best - 1e-6)
