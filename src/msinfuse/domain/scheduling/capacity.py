"""What-if capacity: the fewest chairs or nurses with which no visit has to be rejected.

For one site (the only one, or the one named), the count is varied with everything else
fixed. A rejection-counting LP (``bound.rejections_needed``) proves counts insufficient; a
solver run (``solve``) shows a count sufficient. Nurses are removed or added in a fixed
round-robin order over the roster's shift patterns (a 4th nurse of a 3-shift roster copies
the first pattern), so "k nurses" is always the same roster.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from msinfuse.domain.scheduling.api import solve
from msinfuse.domain.scheduling.bound import rejections_needed
from msinfuse.domain.scheduling.model import Instance, Nurse, Site
from msinfuse.errors import InvalidInput

RESOURCES = ("chairs", "nurses")


@dataclass
class CapacityResult:
    """The answer and every count that was tried."""

    resource: str
    site: str
    current: int
    needed: int | None
    proven: bool
    tried: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dataclasses.asdict(self)


def nurse_roster(site: Site, count: int) -> tuple[Nurse, ...]:
    """``count`` nurses chosen round-robin over the site's shift patterns."""
    groups: dict[tuple[int, int], list[Nurse]] = defaultdict(list)
    for n in site.nurses:
        groups[(n.start, n.end)].append(n)
    order: list[Nurse] = []
    patterns = sorted(groups)
    depth = max((len(g) for g in groups.values()), default=0)
    for level in range(depth):
        for key in patterns:
            if level < len(groups[key]):
                order.append(groups[key][level])
    result = list(order[:count])
    extra = 0
    while len(result) < count and order:
        base = order[extra % len(order)]
        extra += 1
        result.append(dataclasses.replace(base, id=f"{site.id}X{extra}"))
    return tuple(result)


def with_count(instance: Instance, site_id: str, resource: str, count: int) -> Instance:
    """The instance with ``count`` chairs or nurses at one site."""
    sites = []
    for s in instance.sites:
        if s.id == site_id:
            if resource == "chairs":
                s = dataclasses.replace(s, chairs=count)
            else:
                s = dataclasses.replace(s, nurses=nurse_roster(s, count))
        sites.append(s)
    return dataclasses.replace(instance, sites=tuple(sites))


def capacity(
    instance: Instance,
    resource: str = "chairs",
    *,
    site: str | None = None,
    solver: str = "cpsat",
    time_limit: float = 10.0,
    workers: int = 2,
    seed: int = 0,
    max_count: int = 200,
    progress: Callable[[str], None] | None = None,
) -> CapacityResult:
    """The fewest chairs (or nurses) at ``site`` with which the solver rejects nothing."""
    if resource not in RESOURCES:
        raise InvalidInput(f"resource must be one of {', '.join(RESOURCES)}")
    if site is None:
        if len(instance.sites) != 1:
            raise InvalidInput("this instance has several sites: name one with --site")
        site = instance.sites[0].id
    if site not in {s.id for s in instance.sites}:
        raise InvalidInput(f"unknown site {site!r}")
    current_site = instance.site(site)
    current = current_site.chairs if resource == "chairs" else len(current_site.nurses)
    tried: dict[int, dict[str, Any]] = {}

    def lp_needs(count: int) -> int:
        return rejections_needed(with_count(instance, site, resource, count), threads=workers)

    def run(count: int) -> int:
        if count not in tried:
            if progress is not None:
                progress(f"{resource}={count}")
            variant = with_count(instance, site, resource, count)
            sol = solve(variant, solver, time_limit=time_limit, workers=workers, seed=seed)
            tried[count] = {
                "count": count,
                "rejections": len(sol.rejected),
                "objective": sol.objective["total"],
                "lp_rejections_needed": lp_needs(count),
            }
        return int(tried[count]["rejections"])

    # Smallest count the LP does not rule out (binary search; the LP is monotone in the count).
    lo, hi = 0, max(current, 1)
    while lp_needs(hi) > 0 and hi < max_count:
        hi = min(max_count, hi * 2)
    if lp_needs(hi) > 0:
        return CapacityResult(resource, site, current, None, False, [])
    while lo < hi:
        mid = (lo + hi) // 2
        if lp_needs(mid) > 0:
            lo = mid + 1
        else:
            hi = mid
    count = lo
    while count <= max_count and run(count) > 0:
        count += 1
    needed = count if count <= max_count else None
    proven = needed is not None and (needed == 0 or lp_needs(needed - 1) > 0)
    return CapacityResult(
        resource, site, current, needed, proven, [tried[k] for k in sorted(tried)]
    )
