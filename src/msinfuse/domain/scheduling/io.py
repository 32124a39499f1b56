"""Instance and solution JSON (de)serialisation.

Readers validate as they go and raise ``InvalidInput`` naming the JSON path of the bad value
(``$.requests[3].pref``). Times inside instance files are 5-minute units from midnight;
solution files use ``YYYY-MM-DD`` days and ``HH:MM`` clock times, as documented in
``docs/scheduling.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from msinfuse.domain.scheduling.model import (
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
    clock,
)
from msinfuse.errors import InvalidInput


class _Reader:
    """Typed access to parsed JSON that names the path of every bad value."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, problem: str) -> InvalidInput:
        return InvalidInput(f"{self.source}: {path}: {problem}")

    def obj(self, value: Any, path: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, "expected an object")
        return value

    def get(self, data: Mapping[str, Any], key: str, path: str) -> Any:
        if key not in data:
            raise self.fail(f"{path}.{key}", "missing")
        return data[key]

    def int_(self, data: Mapping[str, Any], key: str, path: str, lo: int = 0) -> int:
        value = self.get(data, key, path)
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise self.fail(f"{path}.{key}", f"expected an integer >= {lo}")
        return value

    def str_(self, data: Mapping[str, Any], key: str, path: str) -> str:
        value = self.get(data, key, path)
        if not isinstance(value, str) or not value:
            raise self.fail(f"{path}.{key}", "expected a non-empty string")
        return value

    def list_(self, data: Mapping[str, Any], key: str, path: str) -> list[Any]:
        value = self.get(data, key, path)
        if not isinstance(value, list):
            raise self.fail(f"{path}.{key}", "expected a list")
        return value

    def pair(self, value: Any, path: str) -> tuple[int, int]:
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            or value[0] > value[1]
        ):
            raise self.fail(path, "expected [start, end] with start <= end (5-minute units)")
        return (value[0], value[1])

    def clock(self, data: Mapping[str, Any], key: str, path: str) -> int:
        text = self.get(data, key, path)
        try:
            hours, minutes = str(text).split(":")
            total = int(hours) * 60 + int(minutes)
        except ValueError:
            raise self.fail(f"{path}.{key}", "expected a clock time HH:MM") from None
        if not 0 <= total < 48 * 60 or total % UNIT_MIN:
            raise self.fail(f"{path}.{key}", "expected HH:MM on a 5-minute boundary")
        return total // UNIT_MIN


def _load(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{source}: not valid JSON (line {exc.lineno})") from None


def _phases(r: _Reader, data: Mapping[str, Any], path: str) -> Phases:
    return Phases(
        r.int_(data, "setup", path, 1),
        r.int_(data, "premed", path),
        r.int_(data, "infusion", path),
        r.int_(data, "obs", path),
        r.int_(data, "disc", path),
    )


def _days(r: _Reader, data: Mapping[str, Any], path: str, n_days: int) -> tuple[int, ...] | None:
    """A nurse shift's optional ``days`` (day indices it works; absent = every day)."""
    raw = data.get("days")
    if raw is None:
        return None
    if not isinstance(raw, list) or any(
        not isinstance(d, int) or isinstance(d, bool) or not 0 <= d < n_days for d in raw
    ):
        raise r.fail(f"{path}.days", "expected a list of day indices")
    return tuple(raw)


def instance_from_json(text: str, source: str = "instance") -> Instance:
    """Parse and validate an instance file."""
    r = _Reader(source)
    root = r.obj(_load(text, source), "$")
    meta = r.obj(r.get(root, "meta", "$"), "$.meta")
    if meta.get("unit_min", 5) != UNIT_MIN:
        raise r.fail("$.meta.unit_min", f"only {UNIT_MIN}-minute units are supported")
    days = r.list_(root, "days", "$")
    for i, day in enumerate(days):
        if not isinstance(day, str) or len(day) != 10:
            raise r.fail(f"$.days[{i}]", "expected YYYY-MM-DD")
    if not days:
        raise r.fail("$.days", "at least one day is needed")
    sites: list[Site] = []
    for i, raw in enumerate(r.list_(root, "sites", "$")):
        path = f"$.sites[{i}]"
        s = r.obj(raw, path)
        nurses = []
        for j, n in enumerate(r.list_(s, "nurses", path)):
            npath = f"{path}.nurses[{j}]"
            nd = r.obj(n, npath)
            nurses.append(
                Nurse(
                    r.str_(nd, "id", npath),
                    r.int_(nd, "start", npath),
                    r.int_(nd, "end", npath),
                    r.int_(nd, "break", npath),
                    _days(r, nd, npath, len(days)),
                )
            )
        site = Site(
            id=r.str_(s, "id", path),
            open=r.int_(s, "open", path),
            close=r.int_(s, "close", path),
            ot_max=r.int_(s, "ot_max", path),
            chairs=r.int_(s, "chairs", path),
            beds=r.int_(s, "beds", path),
            start_cap=r.int_(s, "start_cap", path, 1),
            hoods=r.int_(s, "hoods", path),
            pharmacy_open=r.int_(s, "pharmacy_open", path),
            nurses=tuple(nurses),
            x_km=float(s.get("x_km", 0.0)),
            y_km=float(s.get("y_km", 0.0)),
        )
        if site.close <= site.open or site.latest_end > 288:
            raise r.fail(path, "needs open < close and close + ot_max <= 24:00")
        sites.append(site)
    site_ids = {s.id for s in sites}
    if len(site_ids) != len(sites):
        raise r.fail("$.sites", "site ids must be unique")
    types: dict[str, VisitType] = {}
    raw_types = r.obj(r.get(root, "visit_types", "$"), "$.visit_types")
    for code, raw in raw_types.items():
        path = f"$.visit_types.{code}"
        t = r.obj(raw, path)
        types[code] = VisitType(
            code,
            _phases(r, t, path),
            r.int_(t, "acuity", path, 1),
            r.int_(t, "prep", path),
            float(t.get("ondemand_p", 0.0)),
            bool(t.get("bed", False)),
        )
    requests: list[Request] = []
    seen: set[str] = set()
    for i, raw in enumerate(r.list_(root, "requests", "$")):
        path = f"$.requests[{i}]"
        q = r.obj(raw, path)
        rid = r.str_(q, "id", path)
        if rid in seen:
            raise r.fail(f"{path}.id", "duplicate request id")
        seen.add(rid)
        code = r.str_(q, "type", path)
        if code not in types:
            raise r.fail(f"{path}.type", "unknown visit type")
        req_sites = r.list_(q, "sites", path)
        if not req_sites or any(s not in site_ids for s in req_sites):
            raise r.fail(f"{path}.sites", "expected a non-empty list of known site ids")
        req_days = r.list_(q, "days", path)
        if not req_days or any(
            not isinstance(d, int) or isinstance(d, bool) or not 0 <= d < len(days)
            for d in req_days
        ):
            raise r.fail(f"{path}.days", "expected a non-empty list of day indices")
        series_raw = q.get("series")
        series = None
        if series_raw is not None:
            spath = f"{path}.series"
            sd = r.obj(series_raw, spath)
            series = Series(
                r.str_(sd, "id", spath), r.int_(sd, "index", spath), r.int_(sd, "length", spath, 1)
            )
        window = q.get("window")
        phases = q.get("phases")
        requests.append(
            Request(
                id=rid,
                patient=str(q.get("patient", rid)),
                type=code,
                sites=tuple(req_sites),
                home=str(q.get("home", req_sites[0])),
                days=tuple(req_days),
                due_day=int(q.get("due_day", req_days[0])),
                pref=r.pair(r.get(q, "pref", path), f"{path}.pref"),
                ondemand=bool(q.get("ondemand", False)),
                booking_rank=r.int_(q, "booking_rank", path),
                series=series,
                reveal=None if q.get("reveal") is None else r.int_(q, "reveal", path),
                window=None if window is None else r.pair(window, f"{path}.window"),
                phases=None
                if phases is None
                else _phases(r, r.obj(phases, f"{path}.phases"), f"{path}.phases"),
            )
        )
    bounds = root.get("bounds") or {}
    return Instance(dict(meta), tuple(days), tuple(sites), types, tuple(requests), dict(bounds))


def _nurse_dict(n: Nurse) -> dict[str, Any]:
    item: dict[str, Any] = {"id": n.id, "start": n.start, "end": n.end, "break": n.break_start}
    if n.days is not None:
        item["days"] = list(n.days)
    return item


def instance_to_dict(instance: Instance) -> dict[str, Any]:
    """The JSON-ready form of an instance (§7.10b layout)."""
    sites = []
    for s in instance.sites:
        site: dict[str, Any] = {
            "id": s.id,
            "open": s.open,
            "close": s.close,
            "ot_max": s.ot_max,
            "chairs": s.chairs,
            "beds": s.beds,
            "start_cap": s.start_cap,
            "hoods": s.hoods,
            "pharmacy_open": s.pharmacy_open,
            "nurses": [_nurse_dict(n) for n in s.nurses],
        }
        if s.x_km or s.y_km:
            site["x_km"], site["y_km"] = s.x_km, s.y_km
        sites.append(site)
    types = {
        code: {
            **asdict(t.phases),
            "acuity": t.acuity,
            "prep": t.prep,
            "ondemand_p": t.ondemand_p,
            "bed": t.bed,
        }
        for code, t in instance.visit_types.items()
    }
    requests = []
    for q in instance.requests:
        item: dict[str, Any] = {
            "id": q.id,
            "patient": q.patient,
            "type": q.type,
            "sites": list(q.sites),
            "home": q.home,
            "days": list(q.days),
            "due_day": q.due_day,
            "pref": list(q.pref),
            "ondemand": q.ondemand,
            "series": None if q.series is None else asdict(q.series),
            "reveal": q.reveal,
            "booking_rank": q.booking_rank,
        }
        if q.window is not None:
            item["window"] = list(q.window)
        if q.phases is not None:
            item["phases"] = asdict(q.phases)
        requests.append(item)
    return {
        "meta": dict(instance.meta),
        "days": list(instance.days),
        "sites": sites,
        "visit_types": types,
        "requests": requests,
        "bounds": dict(instance.bounds),
    }


def instance_to_json(instance: Instance) -> str:
    """An instance file's text."""
    return json.dumps(instance_to_dict(instance), indent=1) + "\n"


def solution_to_dict(instance: Instance, solution: Solution) -> dict[str, Any]:
    """The JSON-ready form of a solution (days as dates, times as ``HH:MM``)."""
    assignments = []
    for a in sorted(solution.assignments, key=lambda a: (a.day, a.site, a.start, a.chair)):
        item: dict[str, Any] = {
            "visit": a.visit,
            "site": a.site,
            "day": instance.days[a.day],
            "start": clock(a.start),
            "end": clock(a.end),
            "chair": a.chair,
        }
        if a.prep is not None:
            item["prep"] = clock(a.prep)
        assignments.append(item)
    return {
        "assignments": assignments,
        "rejected": sorted(solution.rejected, key=_id_key),
        "objective": solution.objective,
        "metrics": solution.metrics,
        "solver": solution.solver,
    }


def _id_key(rid: str) -> tuple[int, str]:
    digits = "".join(ch for ch in rid if ch.isdigit())
    return (int(digits) if digits else 0, rid)


def solution_to_json(instance: Instance, solution: Solution) -> str:
    """A solution file's text."""
    return json.dumps(solution_to_dict(instance, solution), indent=1) + "\n"


def solution_from_json(text: str, instance: Instance, source: str = "solution") -> Solution:
    """Parse a solution file against its instance (day dates map back to day indices)."""
    r = _Reader(source)
    root = r.obj(_load(text, source), "$")
    day_index = {d: i for i, d in enumerate(instance.days)}
    assignments = []
    for i, raw in enumerate(r.list_(root, "assignments", "$")):
        path = f"$.assignments[{i}]"
        a = r.obj(raw, path)
        day = r.str_(a, "day", path)
        if day not in day_index:
            raise r.fail(f"{path}.day", "not a day of the instance")
        assignments.append(
            Assignment(
                visit=r.str_(a, "visit", path),
                site=r.str_(a, "site", path),
                day=day_index[day],
                start=r.clock(a, "start", path),
                end=r.clock(a, "end", path),
                chair=r.str_(a, "chair", path),
                prep=r.clock(a, "prep", path) if a.get("prep") is not None else None,
            )
        )
    rejected = r.list_(root, "rejected", "$")
    for i, rid in enumerate(rejected):
        if not isinstance(rid, str):
            raise r.fail(f"$.rejected[{i}]", "expected a request id")
    return Solution(
        assignments,
        list(rejected),
        dict(root.get("objective") or {}),
        dict(root.get("metrics") or {}),
        dict(root.get("solver") or {}),
    )


def online_to_dict(instance: Instance, result: OnlineResult) -> dict[str, Any]:
    """The JSON-ready form of an online (add-on) result; days as dates, times ``HH:MM``."""
    events = []
    for e in result.events:
        events.append(
            {
                "addon": list(e.addon),
                "site": e.site,
                "day": instance.days[e.day],
                "reveal": clock(e.time),
                "accepted": e.accepted,
                "method": e.method,
                "placed": [
                    {"visit": v, "day": instance.days[d], "start": clock(t)} for v, d, t in e.placed
                ],
                "moves": [
                    {
                        "visit": m.visit,
                        "day": instance.days[m.day],
                        "from": clock(m.before),
                        "to": clock(m.after),
                    }
                    for m in e.moves
                ],
            }
        )
    return {
        "kind": "online",
        "summary": result.summary,
        "events": events,
        "offline": solution_to_dict(instance, result.offline),
        "final": solution_to_dict(instance, result.final),
    }


def online_to_json(instance: Instance, result: OnlineResult) -> str:
    """An online result file's text."""
    return json.dumps(online_to_dict(instance, result), indent=1) + "\n"


def is_online(text: str) -> bool:
    """Whether a result file's text is an online (add-on) result."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(data, dict) and data.get("kind") == "online"


def online_from_json(text: str, instance: Instance, source: str = "result") -> OnlineResult:
    """Parse an online result file against its instance."""
    r = _Reader(source)
    root = r.obj(_load(text, source), "$")
    day_index = {d: i for i, d in enumerate(instance.days)}

    def day(data: Mapping[str, Any], path: str) -> int:
        value = r.str_(data, "day", path)
        if value not in day_index:
            raise r.fail(f"{path}.day", "not a day of the instance")
        return day_index[value]

    events = []
    for i, raw in enumerate(r.list_(root, "events", "$")):
        path = f"$.events[{i}]"
        e = r.obj(raw, path)
        placed = []
        for j, p in enumerate(r.list_(e, "placed", path)):
            pp = f"{path}.placed[{j}]"
            pd = r.obj(p, pp)
            placed.append((r.str_(pd, "visit", pp), day(pd, pp), r.clock(pd, "start", pp)))
        moves = []
        for j, m in enumerate(r.list_(e, "moves", path)):
            mp = f"{path}.moves[{j}]"
            md = r.obj(m, mp)
            moves.append(
                Move(
                    r.str_(md, "visit", mp),
                    day(md, mp),
                    r.clock(md, "from", mp),
                    r.clock(md, "to", mp),
                )
            )
        addon = r.list_(e, "addon", path)
        events.append(
            RevealEvent(
                tuple(str(a) for a in addon),
                r.str_(e, "site", path),
                day(e, path),
                r.clock(e, "reveal", path),
                bool(r.get(e, "accepted", path)),
                str(e.get("method", "")),
                tuple(placed),
                tuple(moves),
            )
        )
    offline = solution_from_json(
        json.dumps(r.obj(r.get(root, "offline", "$"), "$.offline")), instance, f"{source} offline"
    )
    final = solution_from_json(
        json.dumps(r.obj(r.get(root, "final", "$"), "$.final")), instance, f"{source} final"
    )
    return OnlineResult(offline, final, events, dict(root.get("summary") or {}))
