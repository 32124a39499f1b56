"""Small charts drawn on the server as inline SVG (no chart library, no script).

:func:`timeline_svg` draws a patient's treatment timeline: doses given (coloured by the
worst reaction grade) and planned, MRIs, and the key labs (anti-JCV index, lymphocytes, IgG,
LVEF) as small line charts on one time axis. Colours come from CSS classes (the page's
content security policy allows no inline style); every mark has a ``<title>`` tooltip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup, escape

WIDTH = 900
LEFT = 150
RIGHT = 20
LANE = 34
TOP = 24

#: The lab lanes: KB lab code and its label.
LAB_LANES: tuple[tuple[str, str], ...] = (
    ("jcv_index", "Anti-JCV index"),
    ("alc", "Lymphocytes"),
    ("igg", "IgG"),
    ("lvef", "LVEF"),
)


@dataclass(frozen=True)
class Axis:
    """Dates to x positions."""

    start: date
    end: date

    def x(self, day: date) -> float:
        span = max((self.end - self.start).days, 1)
        return LEFT + (WIDTH - LEFT - RIGHT) * (day - self.start).days / span


def _d(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _unit(unit: str | None) -> str:
    """A unit for people: UCUM annotations such as ``{index}`` are left out."""
    return "" if not unit or unit.startswith("{") else unit


def _title(text: str) -> Markup:
    return Markup("<title>{}</title>").format(text)


def timeline_svg(
    record: dict[str, Any], doses: list[dict[str, Any]], today: date, months: int = 30
) -> Markup:
    """The patient's timeline as an inline SVG element: at least ``months`` months back, or
    the whole treatment (up to five years), to the next planned doses."""
    given = [d for d in (_d(a["date"]) for a in record.get("administrations", [])) if d]
    start = today - timedelta(days=months * 30)
    if given:  # the whole treatment when it is longer, up to five years
        start = max(min(start, min(given) - timedelta(days=30)), today - timedelta(days=5 * 365))
    future = sorted(d for d in (_d(x["planned_on"]) for x in doses) if d and d > today)
    end = max([today + timedelta(days=60), *future[:2]]) + timedelta(days=14)
    axis = Axis(start, end)
    lanes = 2 + len(LAB_LANES)
    height = TOP + LANE * lanes + 26
    parts: list[Markup] = []
    labels = ["Doses", "MRI"] + [label for _, label in LAB_LANES]
    for i, label in enumerate(labels):
        y: float = TOP + LANE * i
        parts.append(
            Markup('<rect class="lane{}" x="0" y="{}" width="{}" height="{}"/>').format(
                " alt" if i % 2 else "", y, WIDTH, LANE
            )
        )
        parts.append(
            Markup('<text class="lane-label" x="8" y="{}">{}</text>').format(
                y + LANE / 2 + 4, label
            )
        )
    # month ticks every 6 months
    tick = date(start.year, 1 if start.month <= 6 else 7, 1)
    while tick <= end:
        if tick >= start:
            x = axis.x(tick)
            parts.append(
                Markup('<line class="tick" x1="{x:.1f}" y1="{t}" x2="{x:.1f}" y2="{b}"/>').format(
                    x=x, t=TOP, b=TOP + LANE * lanes
                )
            )
            parts.append(
                Markup('<text class="tick-label" x="{:.1f}" y="{}">{}</text>').format(
                    x, TOP + LANE * lanes + 16, tick.strftime("%b %Y")
                )
            )
        tick = date(tick.year + (tick.month == 7), 1 if tick.month == 7 else 7, 1)
    x_today = axis.x(today)
    parts.append(
        Markup('<line class="today" x1="{x:.1f}" y1="{t}" x2="{x:.1f}" y2="{b}"/>').format(
            x=x_today, t=TOP - 8, b=TOP + LANE * lanes
        )
    )
    parts.append(Markup('<text class="today-label" x="{:.1f}" y="14">today</text>').format(x_today))
    # doses given, coloured by the worst reaction grade
    y = TOP + LANE / 2
    for adm in record.get("administrations", []):
        day = _d(adm["date"])
        if day is None or day < start:
            continue
        grade = adm.get("reaction_grade") or 0
        cls = "dose-ok" if grade == 0 else ("dose-mild" if grade <= 2 else "dose-severe")
        text = f"{adm['agent']} given {day.isoformat()}" + (
            f", reaction grade {grade}" if grade else ", no reaction"
        )
        parts.append(
            Markup('<circle class="{}" cx="{:.1f}" cy="{}" r="6">{}</circle>').format(
                cls, axis.x(day), y, _title(text)
            )
        )
    for dose in doses:
        day = _d(dose["planned_on"])
        if day is None or day <= today or day > end or dose["status"] in ("given", "cancelled"):
            continue
        text = f"{dose['agent']} infusion {dose['number']} planned {day.isoformat()}"
        parts.append(
            Markup('<circle class="dose-planned" cx="{:.1f}" cy="{}" r="6">{}</circle>').format(
                axis.x(day), y, _title(text)
            )
        )
    # MRIs
    y = TOP + LANE + LANE / 2.0
    for proc in record.get("procedures", []):
        day = _d(proc["date"])
        if proc["procedure"] != "mri_brain" or day is None or day < start:
            continue
        x = axis.x(day)
        parts.append(
            Markup(
                '<rect class="mri" x="{:.1f}" y="{:.1f}" width="10" height="10">{}</rect>'
            ).format(x - 5, y - 5, _title(f"MRI of the brain {day.isoformat()}"))
        )
    # labs as small line charts
    for i, (code, label) in enumerate(LAB_LANES):
        top = TOP + LANE * (2 + i)
        points = [
            (day, float(lab["value"]), _unit(lab.get("unit")))
            for lab in record.get("labs", [])
            if lab["test"] == code
            and isinstance(lab["value"], int | float)
            and (day := _d(lab["date"])) is not None
            and day >= start
        ]
        if not points:
            continue
        low = min(v for _, v, _ in points)
        high = max(v for _, v, _ in points)
        span = (high - low) or 1.0

        def yv(v: float, top: int = top, low: float = low, span: float = span) -> float:
            return top + LANE - 6 - (LANE - 12) * (v - low) / span

        coords = " ".join(f"{axis.x(d):.1f},{yv(v):.1f}" for d, v, _ in points)
        parts.append(Markup('<polyline class="lab-line" points="{}"/>').format(coords))
        for d, v, unit in points:
            parts.append(
                Markup(
                    '<circle class="lab-point" cx="{:.1f}" cy="{:.1f}" r="3">{}</circle>'
                ).format(
                    axis.x(d),
                    yv(v),
                    _title(f"{label} {v:g}{' ' + unit if unit else ''} on {d.isoformat()}"),
                )
            )
        last_d, last_v, last_unit = points[-1]
        parts.append(
            Markup('<text class="lab-value" x="{:.1f}" y="{:.1f}">{}</text>').format(
                min(axis.x(last_d) + 6, WIDTH - 60),
                yv(last_v) + 4,
                f"{last_v:g} {last_unit}".strip(),
            )
        )
    body = Markup("").join(parts)
    return Markup(
        '<svg class="timeline" viewBox="0 0 {w} {h}" role="img" aria-labelledby="tl-title">'
        '<title id="tl-title">{t}</title>{body}</svg>'
    ).format(
        w=WIDTH,
        h=height,
        t=escape(
            f"Timeline from {start.isoformat()} to {end.isoformat()}: doses, MRIs and key labs"
        ),
        body=body,
    )
