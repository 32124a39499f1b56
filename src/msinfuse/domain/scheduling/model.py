"""The scheduling model: sites, nurses, visit types, requests, instances and solutions.

All times are integers in 5-minute units from midnight (``unit_min`` = 5); visits start on
a 15-minute grid (``start_grid_units`` = 3). A day is an index into ``Instance.days``
(business days, ISO dates). Values are frozen dataclasses; JSON lives in ``io.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

UNIT_MIN = 5
GRID = 3


def clock(units: int) -> str:
    """``HH:MM`` for a time in 5-minute units from midnight."""
    minutes = units * UNIT_MIN
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Nurse:
    """One nurse shift: on duty ``[start, end)`` with a break starting at ``break_start``.

    ``days`` restricts the shift to those day indices (a clinic's recorded shifts differ by
    day); ``None`` means every day of the instance (the benchmark's fixed roster).
    """

    id: str
    start: int
    end: int
    break_start: int
    days: tuple[int, ...] | None = None

    def works(self, day: int) -> bool:
        """Whether this shift is on duty on day index ``day``."""
        return self.days is None or day in self.days


@dataclass(frozen=True)
class Site:
    """One infusion site: hours, chairs, beds, start cap, pharmacy hoods and nurse shifts."""

    id: str
    open: int
    close: int
    ot_max: int
    chairs: int
    beds: int
    start_cap: int
    hoods: int
    pharmacy_open: int
    nurses: tuple[Nurse, ...]
    x_km: float = 0.0
    y_km: float = 0.0

    @property
    def latest_end(self) -> int:
        """Hard end of the day: close plus the maximum overtime."""
        return self.close + self.ot_max


@dataclass(frozen=True)
class Phases:
    """Chair time split into phases, in 5-minute units."""

    setup: int
    premed: int
    infusion: int
    obs: int
    disc: int

    @property
    def chair(self) -> int:
        """Chair time p = set-up + premedication + infusion + observation + disconnection."""
        return self.setup + self.premed + self.infusion + self.obs + self.disc

    @property
    def hang(self) -> int:
        """Offset from the start at which the drug is hung (set-up + premedication)."""
        return self.setup + self.premed


@dataclass(frozen=True)
class VisitType:
    """A visit type of the catalogue with its planning phases."""

    code: str
    phases: Phases
    acuity: int
    prep: int
    ondemand_p: float
    bed: bool = False


@dataclass(frozen=True)
class Series:
    """Membership of a series that must run on consecutive business days at one site."""

    id: str
    index: int
    length: int


@dataclass(frozen=True)
class Request:
    """One visit to schedule.

    ``days`` are the allowed day indices, ``sites`` the allowed sites (home first), ``pref``
    the preferred start window (soft) and ``window`` optional extra hard bounds on the start
    (a fixed appointment is ``window == (s, s)`` with one day and one site).
    """

    id: str
    patient: str
    type: str
    sites: tuple[str, ...]
    home: str
    days: tuple[int, ...]
    due_day: int
    pref: tuple[int, int]
    ondemand: bool
    booking_rank: int
    series: Series | None = None
    reveal: int | None = None
    window: tuple[int, int] | None = None
    phases: Phases | None = None


@dataclass(frozen=True)
class Weights:
    """Objective weights of §7.7 (per unit named in the field)."""

    rejected: int = 10_000
    overtime_min: int = 20
    pref_min: int = 1
    days_away: int = 60
    non_home: int = 30
    spread_min: int = 1


@dataclass(frozen=True)
class Instance:
    """A scheduling instance: the days, sites, visit types and requests."""

    meta: Mapping[str, Any]
    days: tuple[str, ...]
    sites: tuple[Site, ...]
    visit_types: Mapping[str, VisitType]
    requests: tuple[Request, ...]
    bounds: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> int:
        """The nurse-to-patient monitoring ratio M."""
        return int(self.meta.get("M", 5))

    @property
    def weights(self) -> Weights:
        """Objective weights from ``meta.weights`` (defaults of §7.7)."""
        return Weights(**dict(self.meta.get("weights", {})))

    @property
    def break_units(self) -> int:
        """Length of a nurse break."""
        return int(self.meta.get("break_units", 6))

    @property
    def stay_within_units(self) -> int:
        """Nurses whose shift ends this close to closing stay until the hard end of day."""
        return int(self.meta.get("nurse_stay_within_units", 6))

    @property
    def acuity_monitoring(self) -> bool:
        """Variant "acuity": monitoring demand equals the visit's acuity."""
        return bool(self.meta.get("acuity_monitoring", False))

    def site(self, site_id: str) -> Site:
        """The site with this id."""
        for site in self.sites:
            if site.id == site_id:
                return site
        raise KeyError(site_id)

    def phases(self, request: Request) -> Phases:
        """A request's phases: its own (from a rate plan) or its type's."""
        return request.phases or self.visit_types[request.type].phases

    def needs_bed(self, request: Request) -> bool:
        """Whether this visit needs a bed (bed variant)."""
        return self.visit_types[request.type].bed

    def prep_units(self, request: Request) -> int:
        """Pharmacy preparation time of an on-demand dose (0 when pre-made)."""
        return self.visit_types[request.type].prep if request.ondemand else 0

    def monitoring_demand(self, request: Request) -> int:
        """Nurse units used per unit of monitoring."""
        return self.visit_types[request.type].acuity if self.acuity_monitoring else 1


@dataclass(frozen=True)
class Assignment:
    """One scheduled visit: site, day index, start (units), chair id and prep start."""

    visit: str
    site: str
    day: int
    start: int
    end: int
    chair: str
    prep: int | None = None


@dataclass
class Solution:
    """A schedule: assignments, rejected requests, objective terms, metrics and solver info."""

    assignments: list[Assignment]
    rejected: list[str]
    objective: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    solver: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Move:
    """An online re-timing of one visit (same site and day), in 5-minute units."""

    visit: str
    day: int
    before: int
    after: int


@dataclass(frozen=True)
class RevealEvent:
    """One add-on reveal: what was placed (visit, day, start) and which visits moved."""

    addon: tuple[str, ...]
    site: str
    day: int
    time: int
    accepted: bool
    method: str
    placed: tuple[tuple[str, int, int], ...] = ()
    moves: tuple[Move, ...] = ()


@dataclass
class OnlineResult:
    """The add-on (online) simulation: offline plan, reveal log and final schedule."""

    offline: Solution
    final: Solution
    events: list[RevealEvent]
    summary: dict[str, Any] = field(default_factory=dict)
