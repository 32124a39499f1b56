"""The MSINF v1 instance generator (``docs/scheduling.md``; reference §7).

Deterministic for a seed (``random.Random(seed)``, no global state). Every parameter is
written into ``Instance.meta`` so an instance file is self-describing.

The visit catalogue below is the *benchmark's planning default* (reference §7.2, sources
cited there). It is synthetic benchmark data, not clinical guidance: chair times for real
patients come from each patient's own rate plan (``Request.phases``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from msinfuse.domain.scheduling.model import (
    GRID,
    UNIT_MIN,
    Instance,
    Nurse,
    Phases,
    Request,
    Series,
    Site,
    VisitType,
    Weights,
)
from msinfuse.errors import InvalidInput

GENERATOR = "msinf"
VERSION = 1
SIZES = ("S", "M", "L")
LOADS = (0.70, 0.85, 1.00)
VARIANTS = ("week", "beds", "acuity", "m4", "addons")
DEFAULT_START = "2026-01-05"  # a Monday


def _u(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return (int(hours) * 60 + int(minutes)) // UNIT_MIN


# code: (premed, infusion, obs, share, acuity, ondemand_p) in minutes; set-up 15, disc 5.
_CATALOGUE: dict[str, tuple[int, int, int, float, int, float]] = {
    "NTZ": (0, 60, 60, 0.42, 1, 0.2),
    "OCR_I": (30, 150, 60, 0.03, 2, 1.0),
    "OCR_M_STD": (30, 210, 60, 0.10, 1, 1.0),
    "OCR_M_SHORT": (30, 120, 60, 0.10, 1, 1.0),
    "UBL_1": (45, 240, 60, 0.01, 2, 1.0),
    "UBL_2": (45, 60, 60, 0.01, 1, 1.0),
    "UBL_M": (45, 60, 0, 0.06, 1, 1.0),
    "RTX_1": (30, 255, 30, 0.02, 2, 1.0),
    "RTX_M": (30, 195, 30, 0.05, 1, 1.0),
    "ALZ_D1_3": (60, 240, 120, 0.03, 2, 1.0),
    "ALZ_D4_5": (30, 240, 120, 0.01, 2, 1.0),
    "IVMP": (0, 60, 15, 0.14, 1, 0.0),
}
SETUP_MIN = 15
DISC_MIN = 5
PREP_MIN = 20

# Business-day tolerance around the due day (week/network only).
DAY_TOLERANCE = {
    "NTZ": 3,
    "OCR_I": 2,
    "OCR_M_STD": 5,
    "OCR_M_SHORT": 5,
    "UBL_1": 5,
    "UBL_2": 2,
    "UBL_M": 5,
    "RTX_1": 5,
    "RTX_M": 5,
}
# Series (week/network only): ALZ courses of 5 or 3 days, IVMP 3 days; tolerance of the start day.
SERIES = {
    "alz_course_lengths": [5, 3],
    "alz_start_tolerance": 2,
    "ivmp_length": 3,
    "ivmp_start_tolerance": 1,
    "spread_free_min": 60,
}
PREF_WINDOWS = [  # (name, share, start, end); None = site open/close
    ("morning", 0.55, None, "11:30"),
    ("midday", 0.20, "10:00", "14:00"),
    ("afternoon", 0.10, "12:00", None),
    ("any", 0.15, None, None),
]
# Add-ons (online variant, reference §7.4): IVMP series revealed on the day they start.
# Counts per site-day by site type: S-type ("small") 1-2, M-type ("large") 5-8; the medium
# sites of the network (16 chairs, half-way between) get 3-5 (our interpolation).
ADDONS: dict[str, Any] = {
    "type": "IVMP",
    "reveal_from": "08:00",
    "reveal_to": "13:00",
    "lead_min": 60,
    "max_shift_min": 30,
    "per_site_day": {"S": [1, 2], "MED": [3, 5], "M": [5, 8]},
    "series_length": 3,
    "rng": "random.Random(f'{seed}-addons'), drawn after the planned visits",
}
NETWORK = {"square_km": 60.0, "alt_radius_km": 30.0, "max_alternatives": 2}


def catalogue() -> dict[str, VisitType]:
    """The §7.2 visit catalogue in 5-minute units."""
    types: dict[str, VisitType] = {}
    for code, (premed, infusion, obs, _share, acuity, ondemand_p) in _CATALOGUE.items():
        phases = Phases(
            SETUP_MIN // UNIT_MIN,
            premed // UNIT_MIN,
            infusion // UNIT_MIN,
            obs // UNIT_MIN,
            DISC_MIN // UNIT_MIN,
        )
        types[code] = VisitType(code, phases, acuity, PREP_MIN // UNIT_MIN, ondemand_p)
    return types


def _nurses(prefix: str, shifts: Sequence[tuple[str, str, str]]) -> tuple[Nurse, ...]:
    return tuple(
        Nurse(f"{prefix}N{i + 1}", _u(a), _u(b), _u(br)) for i, (a, b, br) in enumerate(shifts)
    )


def _site(kind: str, site_id: str, beds: bool) -> Site:
    if kind == "S":
        shifts = [
            ("07:45", "16:15", "11:30"),
            ("08:00", "16:30", "12:00"),
            ("08:30", "17:00", "12:30"),
        ]
        return Site(
            site_id,
            _u("08:00"),
            _u("17:00"),
            12,
            8,
            1 if beds else 0,
            2,
            1,
            _u("07:30"),
            _nurses(site_id, shifts),
        )
    if kind == "MED":
        early = [("07:15", "15:45", b) for b in ("11:00", "11:15", "11:30", "11:45")]
        late = [("09:30", "18:00", b) for b in ("13:00", "13:30", "14:00")]
        return Site(
            site_id,
            _u("07:30"),
            _u("18:00"),
            12,
            16,
            2 if beds else 0,
            3,
            2,
            _u("07:00"),
            _nurses(site_id, early + late),
        )
    early = [("06:45", "15:15", b) for b in ("10:30", "10:45", "11:00", "11:15", "11:30", "11:45")]
    mid = [("08:30", "17:00", b) for b in ("12:15", "12:30", "12:45", "13:00", "13:15", "13:30")]
    late = [("10:30", "19:00", b) for b in ("15:15", "15:30", "15:45", "16:00")]
    return Site(
        site_id,
        _u("07:00"),
        _u("19:00"),
        12,
        36,
        4 if beds else 0,
        6,
        3,
        _u("06:30"),
        _nurses(site_id, early + mid + late),
    )


def _draw(rng: random.Random, codes: Sequence[str], cum: Sequence[float]) -> str:
    x = rng.random() * cum[-1]
    for code, c in zip(codes, cum, strict=True):
        if x < c:
            return code
    return codes[-1]


def _pref(rng: random.Random, site: Site) -> tuple[int, int]:
    x = rng.random()
    acc = 0.0
    for _name, share, start, end in PREF_WINDOWS:
        acc += share
        if x < acc:
            a = site.open if start is None else _u(start)
            b = site.close if end is None else _u(end)
            return (max(a, site.open), min(b, site.close))
    return (site.open, site.close)


def _clip(d: int, tol: int, lo: int, hi: int) -> tuple[int, ...]:
    return tuple(range(max(lo, d - tol), min(hi, d + tol) + 1))


def generate(
    size: str,
    rho: float,
    seed: int,
    *,
    variants: Sequence[str] = (),
    start_date: str = DEFAULT_START,
) -> Instance:
    """Generate one MSINF v1 instance (sizes S, M, L; load ρ; variants from ``VARIANTS``)."""
    if size not in SIZES:
        raise InvalidInput(f"size must be one of {', '.join(SIZES)}")
    if not 0.0 < rho <= 1.5:
        raise InvalidInput("load must be in (0, 1.5]")
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise InvalidInput(f"unknown variant(s): {', '.join(sorted(unknown))}")
    try:
        monday = date.fromisoformat(start_date)
    except ValueError:
        raise InvalidInput("start date must be YYYY-MM-DD") from None
    rng = random.Random(seed)
    beds = "beds" in variants
    week = size == "L" or "week" in variants
    n_days = 5 if week else 1
    days: list[str] = []
    d = monday
    while len(days) < n_days:
        if d.weekday() < 5:
            days.append(d.isoformat())
        d += timedelta(days=1)

    if size == "L":
        kinds = ["S"] * 4 + ["MED"] * 6 + ["M"] * 2
        sites = [_site(k, chr(ord("A") + i), beds) for i, k in enumerate(kinds)]
        sites = [
            Site(
                **{
                    **asdict_shallow(s),
                    "x_km": round(rng.uniform(0, 60), 2),
                    "y_km": round(rng.uniform(0, 60), 2),
                }
            )
            for s in sites
        ]
    else:
        kinds = [size]
        sites = [_site(size, "A", beds)]

    types = catalogue()
    if beds:
        types = {
            c: VisitType(t.code, t.phases, t.acuity, t.prep, t.ondemand_p, c.startswith("ALZ"))
            for c, t in types.items()
        }
    codes = list(_CATALOGUE)
    cum: list[float] = []
    acc = 0.0
    for code in codes:
        acc += _CATALOGUE[code][3]
        cum.append(acc)

    requests: list[dict[str, Any]] = []
    n_series = 0
    for site in sites:
        alts = _alternatives(site, sites)
        budget = rho * site.chairs * (site.close - site.open) * n_days
        used = 0
        while True:
            code = _draw(rng, codes, cum)
            pref = _pref(rng, site)
            ondemand = rng.random() < types[code].ondemand_p
            if not week or code not in ("ALZ_D1_3", "ALZ_D4_5", "IVMP"):
                p = types[code].phases.chair
                if used + p > budget:
                    break
                used += p
                due = rng.randrange(n_days)
                allowed = _clip(due, DAY_TOLERANCE.get(code, 0), 0, n_days - 1) if week else (0,)
                requests.append(
                    {
                        "type": code,
                        "site": site,
                        "alts": alts,
                        "days": allowed,
                        "due": due,
                        "pref": pref,
                        "ondemand": ondemand,
                        "series": None,
                    }
                )
                continue
            if code == "IVMP":
                length = int(SERIES["ivmp_length"])  # type: ignore[call-overload]
                tol = int(SERIES["ivmp_start_tolerance"])  # type: ignore[call-overload]
                members = ["IVMP"] * length
            else:
                lengths: list[int] = SERIES["alz_course_lengths"]  # type: ignore[assignment]
                length = lengths[rng.randrange(len(lengths))]
                tol = int(SERIES["alz_start_tolerance"])  # type: ignore[call-overload]
                members = ["ALZ_D1_3"] * min(3, length) + ["ALZ_D4_5"] * (length - 3)
            total = sum(types[m].phases.chair for m in members)
            if used + total > budget:
                break
            used += total
            start_day = rng.randrange(n_days - length + 1)
            starts = _clip(start_day, tol, 0, n_days - length)
            n_series += 1
            for index, member in enumerate(members):
                requests.append(
                    {
                        "type": member,
                        "site": site,
                        "alts": alts,
                        "days": tuple(s + index for s in starts),
                        "due": start_day + index,
                        "pref": pref,
                        "ondemand": ondemand,
                        "series": Series(f"S{n_series}", index, length),
                    }
                )

    order = list(range(len(requests)))
    rng.shuffle(order)
    rank = {i: r + 1 for r, i in enumerate(order)}
    built: list[Request] = []
    patient_of_series: dict[str, str] = {}
    n_patients = 0
    for i, spec in enumerate(requests):
        series: Series | None = spec["series"]
        if series is not None and series.id in patient_of_series:
            patient = patient_of_series[series.id]
        else:
            n_patients += 1
            patient = f"P{n_patients}"
            if series is not None:
                patient_of_series[series.id] = patient
        home: Site = spec["site"]
        built.append(
            Request(
                id=f"R{i + 1}",
                patient=patient,
                type=spec["type"],
                sites=(home.id, *spec["alts"]),
                home=home.id,
                days=spec["days"],
                due_day=spec["due"],
                pref=spec["pref"],
                ondemand=spec["ondemand"],
                booking_rank=rank[i],
                series=series,
            )
        )

    if "addons" in variants:
        built += _addons(seed, sites, kinds, n_days, week, len(built), n_series, n_patients)

    variant_list = sorted(set(variants) | ({"week"} if week and size != "L" else set()))
    meta: dict[str, Any] = {
        "generator": GENERATOR,
        "version": VERSION,
        "size": size,
        "rho": rho,
        "seed": seed,
        "variants": variant_list,
        "unit_min": UNIT_MIN,
        "start_grid_units": GRID,
        "M": 4 if "m4" in variants else 5,
        "weights": asdict(Weights()),
        "break_units": 30 // UNIT_MIN,
        "nurse_stay_within_units": 30 // UNIT_MIN,
        "acuity_monitoring": "acuity" in variants,
        "checkin_before_units": 30 // UNIT_MIN,
        "mix": {code: v[3] for code, v in _CATALOGUE.items()},
        "pref_windows": [
            {"name": n, "share": s, "start": a, "end": b} for n, s, a, b in PREF_WINDOWS
        ],
        "load_rule": "draw i.i.d. from the mix until the next visit would exceed rho*C*H*days per site",
        "day_tolerance": DAY_TOLERANCE if week else {},
        "series": SERIES if week else {},
        "network": NETWORK if size == "L" else {},
        "non_home_cost": Weights().non_home,
        "start_date": start_date,
        "addons": ADDONS if "addons" in variants else {},
    }
    return Instance(meta, tuple(days), tuple(sites), types, tuple(built))


def asdict_shallow(site: Site) -> dict[str, Any]:
    """A site's fields as a shallow dict (nurses kept as objects)."""
    return {f: getattr(site, f) for f in site.__dataclass_fields__}


def _alternatives(site: Site, sites: Sequence[Site]) -> tuple[str, ...]:
    radius = float(NETWORK["alt_radius_km"])
    others = sorted(
        (math.dist((site.x_km, site.y_km), (o.x_km, o.y_km)), o.id) for o in sites if o is not site
    )
    near = [sid for dist, sid in others if dist <= radius]
    return tuple(near[: int(NETWORK["max_alternatives"])])


def _addons(
    seed: int,
    sites: Sequence[Site],
    kinds: Sequence[str],
    n_days: int,
    week: bool,
    n_requests: int,
    n_series: int,
    n_patients: int,
) -> list[Request]:
    """Add-on IVMP requests (online variant): ``reveal`` set, one patient per add-on.

    Drawn from their own seeded generator so the planned visits equal those of the instance
    without the variant. Single-day instances: one IVMP visit per add-on (as planned IVMP
    visits there). Week/network: a series of ``series_length`` consecutive business days
    starting on the reveal day, cut at the end of the horizon. Preferred start window: from
    the earliest start (reveal + 60 min, rounded up to the grid) to closing.
    """
    rng = random.Random(f"{seed}-addons")
    lo, hi = _u(str(ADDONS["reveal_from"])), _u(str(ADDONS["reveal_to"]))
    lead = int(ADDONS["lead_min"]) // UNIT_MIN
    out: list[Request] = []
    rank = n_requests
    for site, kind in zip(sites, kinds, strict=True):
        count_lo, count_hi = ADDONS["per_site_day"][kind]
        for day in range(n_days):
            for _ in range(rng.randint(count_lo, count_hi)):
                reveal = rng.randint(lo, hi)
                earliest = -(-(reveal + lead) // GRID) * GRID
                pref = (earliest, max(earliest, site.close))
                length = min(int(ADDONS["series_length"]), n_days - day) if week else 1
                n_patients += 1
                series = None
                if length > 1:
                    n_series += 1
                for k in range(length):
                    rank += 1
                    if length > 1:
                        series = Series(f"S{n_series}", k, length)
                    out.append(
                        Request(
                            id=f"R{rank}",
                            patient=f"P{n_patients}",
                            type=str(ADDONS["type"]),
                            sites=(site.id,),
                            home=site.id,
                            days=(day + k,),
                            due_day=day + k,
                            pref=pref,
                            ondemand=False,
                            booking_rank=rank,
                            series=series,
                            reveal=reveal,
                        )
                    )
    return out
