"""Chair and nurse scheduling for infusion centres: model, generator, solvers, bound, checker.

The only package of msinfuse that imports OR-Tools (CP-SAT) and HiGHS. Pure: no I/O, no
clock (wall time is measured only to honour time limits and to report it).

Public API::

    from msinfuse.domain import scheduling as sch

    instance = sch.generate("M", 0.85, seed=7)             # the MSINF v1 benchmark generator
    instance = sch.instance_from_json(text, source="x.json")   # or read a file's text
    solution = sch.solve(instance, solver="cpsat", time_limit=10, workers=2, seed=0)
    problems = sch.check(instance, solution)               # [] when every hard constraint holds
    bound = sch.lower_bound(instance)                      # LowerBound(best=..., lp=..., energy=...)
    text = sch.solution_to_json(instance, solution)
    result = sch.simulate(instance, solver="cpsat", time_limit=1)   # add-on (online) variant
    problems = sch.check_online(instance, result)          # hard constraints + online rules

Building an instance from clinic records (product integration): construct ``Instance`` from
``Site`` (hours in 5-minute units from midnight, chairs, beds, start cap, hoods, ``Nurse``
shifts), ``VisitType`` (planning phases) and one ``Request`` per visit to place. Give each
request its own ``phases`` from the patient's rate plan (set-up, premedication, infusion,
observation, disconnection), its allowed ``days`` (indices into ``Instance.days``) and
``sites``, a preferred start window ``pref``, and pin an existing appointment with
``window=(start, start)`` plus a single day and site. ``meta`` carries M (nurse ratio) and the
objective weights; defaults are the benchmark's (§7.7 of the reference). Times: 5-minute
units; starts on a 15-minute grid (multiples of 3). See ``docs/scheduling.md``.
"""

from __future__ import annotations

from msinfuse.domain.scheduling.api import SOLVERS, solve
from msinfuse.domain.scheduling.checker import Violation, check, check_online
from msinfuse.domain.scheduling.generator import LOADS, SIZES, VARIANTS, generate
from msinfuse.domain.scheduling.io import (
    instance_from_json,
    instance_to_dict,
    instance_to_json,
    is_online,
    online_from_json,
    online_to_dict,
    online_to_json,
    solution_from_json,
    solution_to_dict,
    solution_to_json,
)
from msinfuse.domain.scheduling.model import (
    GRID,
    UNIT_MIN,
    Assignment,
    Instance,
    Move,
    Nurse,
    OnlineResult,
    Phases,
    Request,
    RevealEvent,
    Series,
    Site,
    Solution,
    VisitType,
    Weights,
    clock,
)
from msinfuse.domain.scheduling.online import planned_instance, simulate

__all__ = [
    "GRID",
    "LOADS",
    "SIZES",
    "SOLVERS",
    "UNIT_MIN",
    "VARIANTS",
    "Assignment",
    "Instance",
    "Move",
    "Nurse",
    "OnlineResult",
    "Phases",
    "Request",
    "RevealEvent",
    "Series",
    "Site",
    "Solution",
    "Violation",
    "VisitType",
    "Weights",
    "check",
    "check_online",
    "clock",
    "generate",
    "instance_from_json",
    "instance_to_dict",
    "instance_to_json",
    "is_online",
    "online_from_json",
    "online_to_dict",
    "online_to_json",
    "planned_instance",
    "simulate",
    "solution_from_json",
    "solution_to_dict",
    "solution_to_json",
    "solve",
]
