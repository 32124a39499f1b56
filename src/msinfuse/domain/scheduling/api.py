"""``solve(instance, solver=...)``: one entry point over the solvers."""

from __future__ import annotations

from collections.abc import Callable

from msinfuse.domain.scheduling.greedy import fcfs, lpt
from msinfuse.domain.scheduling.model import Instance, Solution
from msinfuse.errors import InvalidInput

SOLVERS = ("fcfs", "lpt", "cpsat")


def solve(
    instance: Instance,
    solver: str = "cpsat",
    *,
    time_limit: float = 10.0,
    workers: int = 2,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Solution:
    """Schedule ``instance`` with ``fcfs``, ``lpt`` or ``cpsat`` (time limit in seconds)."""
    if solver == "fcfs":
        return fcfs(instance)
    if solver == "lpt":
        return lpt(instance)
    if solver == "cpsat":
        if time_limit <= 0 or workers < 1:
            raise InvalidInput("time limit must be > 0 and workers >= 1")
        from msinfuse.domain.scheduling.cpsat import solve_cpsat

        return solve_cpsat(
            instance, time_limit=time_limit, workers=workers, seed=seed, progress=progress
        )
    raise InvalidInput(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
