"""Independent feasibility checker for every hard constraint of §7.6.

Shares no code with the solvers: it uses only the data model and the file readers, and
recomputes nurse capacity, nurse-unit demand, start slots, pharmacy timing and the objective
itself. Each broken rule is one ``Violation``; an empty list means the schedule is feasible.

Rules (``Violation.rule``): ``unknown-visit``, ``duplicate``, ``unaccounted``,
``site-not-allowed``, ``day-not-allowed``, ``window``, ``grid``, ``duration``, ``chair-id``,
``chair-overlap``, ``chairs``, ``beds``, ``nurses``, ``start-cap``, ``prep-missing``,
``prep-timing``, ``hoods``, ``series``, ``objective``.

``check_online`` validates an add-on (online) result: the offline plan against the planned
visits and the final schedule against the whole instance (all rules above, messages of the
offline plan prefixed ``offline:``), plus the online rules ``online-order`` (reveals in time
order), ``online-log`` (the logged moves and placements replay to the final schedule),
``online-checkin`` (no visit moved at or after its check-in time), ``online-shift`` (every
visit within ±30 min of its offline start, or of where an add-on was first placed, at the
same site and day) and ``online-reveal`` (an add-on's first visit no earlier than reveal +
60 min on its reveal day).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from dataclasses import dataclass

from msinfuse.domain.scheduling.model import (
    Assignment,
    Instance,
    OnlineResult,
    Request,
    Site,
    Solution,
)

_UNIT = 5
_GRID = 3


@dataclass(frozen=True)
class Violation:
    """One broken hard constraint."""

    rule: str
    message: str
    visit: str | None = None
    site: str | None = None
    day: int | None = None
    time: int | None = None

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


def _hhmm(units: int) -> str:
    return f"{units * _UNIT // 60:02d}:{units * _UNIT % 60:02d}"


def _capacity(instance: Instance, site: Site, day: int) -> dict[int, int]:
    """Nurses on duty on day index ``day`` and not on break, per 5-minute unit (sparse)."""
    brk = int(instance.meta.get("break_units", 6))
    within = int(instance.meta.get("nurse_stay_within_units", 6))
    hard_end = site.close + site.ot_max
    cap: dict[int, int] = defaultdict(int)
    for n in site.nurses:
        if n.days is not None and day not in n.days:
            continue
        end = max(n.end, hard_end) if n.end >= site.close - within else n.end
        for t in range(n.start, end):
            if t < n.break_start or t >= n.break_start + brk:
                cap[t] += 1
    return cap


def _chair_time(instance: Instance, r: Request) -> tuple[int, int, int, int, int]:
    ph = r.phases or instance.visit_types[r.type].phases
    return (ph.setup, ph.premed, ph.infusion, ph.obs, ph.disc)


def check(instance: Instance, solution: Solution) -> list[Violation]:
    """Every violated hard constraint of ``solution`` (empty when feasible)."""
    out: list[Violation] = []
    requests = {r.id: r for r in instance.requests}
    sites = {s.id: s for s in instance.sites}
    m = int(instance.meta.get("M", 5))
    acuity = bool(instance.meta.get("acuity_monitoring", False))
    checkin = int(instance.meta.get("checkin_before_units", 6))

    seen: dict[str, Assignment] = {}
    valid: list[Assignment] = []
    for a in solution.assignments:
        if a.visit not in requests:
            out.append(Violation("unknown-visit", f"{a.visit} is not a request", a.visit))
            continue
        if a.visit in seen:
            out.append(Violation("duplicate", f"{a.visit} is scheduled more than once", a.visit))
            continue
        seen[a.visit] = a
        if a.site not in sites:
            out.append(Violation("site-not-allowed", f"{a.visit}: unknown site {a.site}", a.visit))
            continue
        valid.append(a)
    rejected = set(solution.rejected)
    for rid in rejected:
        if rid in seen:
            out.append(Violation("duplicate", f"{rid} is both scheduled and rejected", rid))
        if rid not in requests:
            out.append(Violation("unknown-visit", f"rejected {rid} is not a request", rid))
    for rid in requests:
        if rid not in seen and rid not in rejected:
            out.append(Violation("unaccounted", f"{rid} is neither scheduled nor rejected", rid))

    for a in valid:
        r, s = requests[a.visit], sites[a.site]
        setup, premed, infusion, obs, disc = _chair_time(instance, r)
        p = setup + premed + infusion + obs + disc
        if a.site not in r.sites:
            out.append(
                Violation(
                    "site-not-allowed",
                    f"{a.visit} may not go to site {a.site}",
                    a.visit,
                    a.site,
                    a.day,
                    a.start,
                )
            )
        if a.day not in r.days:
            out.append(
                Violation(
                    "day-not-allowed",
                    f"{a.visit} may not be on day {a.day}",
                    a.visit,
                    a.site,
                    a.day,
                    a.start,
                )
            )
        if a.start % _GRID:
            out.append(
                Violation(
                    "grid",
                    f"{a.visit} starts at {_hhmm(a.start)}, off the 15-minute grid",
                    a.visit,
                    a.site,
                    a.day,
                    a.start,
                )
            )
        if a.end != a.start + p:
            out.append(
                Violation(
                    "duration",
                    f"{a.visit} ends at {_hhmm(a.end)}, not start + {p * _UNIT} min",
                    a.visit,
                    a.site,
                    a.day,
                    a.start,
                )
            )
        end = a.start + p
        if a.start < s.open or end > s.close + s.ot_max:
            out.append(
                Violation(
                    "window",
                    f"{a.visit} runs {_hhmm(a.start)}-{_hhmm(end)}, outside {_hhmm(s.open)}-{_hhmm(s.close + s.ot_max)}",
                    a.visit,
                    a.site,
                    a.day,
                    a.start,
                )
            )
        if r.window is not None and not r.window[0] <= a.start <= r.window[1]:
            out.append(
                Violation(
                    "window",
                    f"{a.visit} starts outside its allowed start window",
                    a.visit,
                    a.site,
                    a.day,
                    a.start,
                )
            )
        bed = instance.visit_types[r.type].bed
        kind, count = ("B", s.beds) if bed else ("C", s.chairs)
        number = a.chair[1:]
        if not (a.chair.startswith(kind) and number.isdigit() and 1 <= int(number) <= count):
            out.append(
                Violation(
                    "chair-id",
                    f"{a.visit} is on {a.chair}; needs {'a bed' if bed else 'a chair'} {kind}1..{kind}{count}",
                    a.visit,
                    a.site,
                    a.day,
                    a.start,
                )
            )
        prep_len = instance.visit_types[r.type].prep if r.ondemand else 0
        if prep_len:
            if a.prep is None:
                out.append(
                    Violation(
                        "prep-missing",
                        f"{a.visit} is an on-demand dose without a prep time",
                        a.visit,
                        a.site,
                        a.day,
                        a.start,
                    )
                )
            else:
                hang = a.start + setup + premed
                if (
                    a.prep < s.pharmacy_open
                    or a.prep < a.start - checkin
                    or a.prep + prep_len > hang
                ):
                    out.append(
                        Violation(
                            "prep-timing",
                            f"{a.visit}: prep {_hhmm(a.prep)} must start after check-in and pharmacy opening and end by {_hhmm(hang)}",
                            a.visit,
                            a.site,
                            a.day,
                            a.start,
                        )
                    )

    by_site_day: dict[tuple[str, int], list[Assignment]] = defaultdict(list)
    for a in valid:
        by_site_day[(a.site, a.day)].append(a)
    for (site_id, day), group in sorted(by_site_day.items()):
        s = sites[site_id]
        cap = _capacity(instance, s, day)
        chairs: dict[int, int] = defaultdict(int)
        beds: dict[int, int] = defaultdict(int)
        units: dict[int, int] = defaultdict(int)
        hoods: dict[int, int] = defaultdict(int)
        slots: dict[int, int] = defaultdict(int)
        per_chair: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        for a in group:
            r = requests[a.visit]
            setup, premed, infusion, obs, disc = _chair_time(instance, r)
            p = setup + premed + infusion + obs + disc
            bed = instance.visit_types[r.type].bed
            mon = instance.visit_types[r.type].acuity if acuity else 1
            for t in range(a.start, a.start + p):
                (beds if bed else chairs)[t] += 1
                k = t - a.start
                units[t] += m if k < setup or k >= p - disc else mon
            slots[a.start // _GRID] += 1
            per_chair[a.chair].append((a.start, a.start + p, a.visit))
            prep_len = instance.visit_types[r.type].prep if r.ondemand else 0
            if prep_len and a.prep is not None:
                for t in range(a.prep, a.prep + prep_len):
                    hoods[t] += 1
        for chair, spans in per_chair.items():
            spans.sort()
            for (_s1, e1, v1), (s2, _e2, v2) in itertools.pairwise(spans):
                if s2 < e1:
                    out.append(
                        Violation(
                            "chair-overlap",
                            f"{v1} and {v2} overlap on {chair} at {_hhmm(s2)}",
                            v2,
                            site_id,
                            day,
                            s2,
                        )
                    )
        out += _over(chairs, s.chairs, "chairs", "chairs in use", site_id, day)
        out += _over(beds, s.beds, "beds", "beds in use", site_id, day)
        out += _over(
            units,
            {t: m * n for t, n in cap.items()},
            "nurses",
            "nurse units in use",
            site_id,
            day,
        )
        out += _over(hoods, s.hoods, "hoods", "hoods in use", site_id, day)
        for slot, n in sorted(slots.items()):
            if n > s.start_cap:
                out.append(
                    Violation(
                        "start-cap",
                        f"{n} starts in the slot at {_hhmm(slot * _GRID)} (cap {s.start_cap})",
                        None,
                        site_id,
                        day,
                        slot * _GRID,
                    )
                )

    series: dict[str, list[Request]] = defaultdict(list)
    for r in instance.requests:
        if r.series is not None:
            series[r.series.id].append(r)
    for sid, members in sorted(series.items()):
        placed = [seen[r.id] for r in members if r.id in seen]
        if not placed:
            continue
        if len(placed) != len(members):
            out.append(
                Violation(
                    "series",
                    f"series {sid}: {len(placed)} of {len(members)} visits scheduled (all or none)",
                )
            )
            continue
        members.sort(key=lambda r: r.series.index if r.series else 0)
        first = seen[members[0].id]
        for k, r in enumerate(members):
            a = seen[r.id]
            if a.site != first.site or a.day != first.day + k:
                out.append(
                    Violation(
                        "series",
                        f"series {sid}: visit {k + 1} is not on consecutive day {k + 1} at site {first.site}",
                        r.id,
                        a.site,
                        a.day,
                    )
                )
    if "total" in solution.objective and not out:
        total = _objective(instance, list(seen.values()), len(rejected))
        if abs(total - float(solution.objective["total"])) > 1e-6:
            out.append(
                Violation(
                    "objective",
                    f"reported total {solution.objective['total']} but the schedule scores {total}",
                )
            )
    return out


def _over(
    use: dict[int, int],
    capacity: int | dict[int, int],
    rule: str,
    what: str,
    site_id: str,
    day: int,
) -> list[Violation]:
    out: list[Violation] = []
    first_bad: int | None = None
    for t in sorted(use):
        limit = capacity if isinstance(capacity, int) else capacity.get(t, 0)
        if use[t] > limit:
            if first_bad is None or t > first_bad + 1:
                out.append(
                    Violation(
                        rule,
                        f"{use[t]} {what} at {_hhmm(t)} (limit {limit})",
                        None,
                        site_id,
                        day,
                        t,
                    )
                )
            first_bad = t
    return out


def _objective(instance: Instance, placed: list[Assignment], rejected: int) -> float:
    w = dict(instance.meta.get("weights", {}))
    requests = {r.id: r for r in instance.requests}
    sites = {s.id: s for s in instance.sites}
    free = int((instance.meta.get("series") or {}).get("spread_free_min", 60))
    total = float(w.get("rejected", 10_000)) * rejected
    starts: dict[str, list[int]] = defaultdict(list)
    for a in placed:
        r, s = requests[a.visit], sites[a.site]
        total += w.get("overtime_min", 20) * max(0, a.end - s.close) * _UNIT
        total += w.get("pref_min", 1) * max(0, r.pref[0] - a.start, a.start - r.pref[1]) * _UNIT
        total += w.get("days_away", 60) * abs(a.day - r.due_day)
        total += w.get("non_home", 30) * (a.site != r.home)
        if r.series is not None:
            starts[r.series.id].append(a.start)
    for values in starts.values():
        total += w.get("spread_min", 1) * max(0, (max(values) - min(values)) * _UNIT - free)
    return total


def check_online(instance: Instance, result: OnlineResult) -> list[Violation]:
    """Every violated hard constraint or online rule of an add-on simulation result."""
    planned = dataclasses.replace(
        instance, requests=tuple(r for r in instance.requests if r.reveal is None)
    )
    out = [
        dataclasses.replace(v, message=f"offline: {v.message}")
        for v in check(planned, result.offline)
    ]
    out += check(instance, result.final)
    addons = dict(instance.meta.get("addons") or {})
    lead = int(addons.get("lead_min", 60)) // _UNIT
    shift = int(addons.get("max_shift_min", 30)) // _UNIT
    checkin = int(instance.meta.get("checkin_before_units", 6))
    requests = {r.id: r for r in instance.requests}
    where = {a.visit: (a.site, a.day) for a in result.offline.assignments}
    current = {a.visit: a.start for a in result.offline.assignments}
    reference = dict(current)
    last = (-1, -1)
    for e in result.events:
        if (e.day, e.time) < last:
            out.append(Violation("online-order", f"reveal of {e.addon[0]} is out of time order"))
        last = max(last, (e.day, e.time))
        for m in e.moves:
            if current.get(m.visit) != m.before or where.get(m.visit, ("", -1))[1] != m.day:
                out.append(
                    Violation(
                        "online-log",
                        f"{m.visit}: logged move from {_hhmm(m.before)} does not match the schedule",
                        m.visit,
                    )
                )
            started = m.day < e.day or (
                m.day == e.day and min(m.before, m.after) - checkin <= e.time
            )
            if started:
                out.append(
                    Violation(
                        "online-checkin",
                        f"{m.visit} re-timed {_hhmm(m.before)}->{_hhmm(m.after)} at the "
                        f"{_hhmm(e.time)} reveal, at or after its check-in",
                        m.visit,
                        None,
                        m.day,
                        m.before,
                    )
                )
            current[m.visit] = m.after
        if e.accepted:
            for vid, day, start in e.placed:
                if vid not in e.addon or vid in current:
                    out.append(Violation("online-log", f"{vid} placed twice or not this add-on"))
                current[vid] = reference[vid] = start
                where[vid] = (e.site, day)
    final = {a.visit: a for a in result.final.assignments}
    for vid, start in current.items():
        a = final.get(vid)
        if a is None or a.start != start or (a.site, a.day) != where[vid]:
            out.append(
                Violation("online-log", f"{vid}: final schedule differs from the replayed log", vid)
            )
    for vid, a in final.items():
        if vid not in current:
            out.append(Violation("online-log", f"{vid} is scheduled but never placed", vid))
            continue
        if abs(a.start - reference[vid]) > shift:
            out.append(
                Violation(
                    "online-shift",
                    f"{vid} starts {_hhmm(a.start)}, more than {shift * _UNIT} min from "
                    f"{_hhmm(reference[vid])}",
                    vid,
                    a.site,
                    a.day,
                    a.start,
                )
            )
        r = requests.get(vid)
        if r is None or r.reveal is None or (r.series is not None and r.series.index > 0):
            continue
        if a.start < r.reveal + lead or a.day != r.due_day:
            out.append(
                Violation(
                    "online-reveal",
                    f"add-on {vid} starts {_hhmm(a.start)} on day {a.day}; revealed "
                    f"{_hhmm(r.reveal)} on day {r.due_day}, earliest {_hhmm(r.reveal + lead)}",
                    vid,
                    a.site,
                    a.day,
                    a.start,
                )
            )
    return out
