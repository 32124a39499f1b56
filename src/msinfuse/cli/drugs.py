"""``msinfuse drugs`` and ``msinfuse sources``: the cited knowledge base."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel

from msinfuse.cli.common import (
    JsonOption,
    ProfileChoice,
    ProfileOption,
    console,
    emit_json,
    knowledge,
    print_footer,
    profile_id,
    table,
)
from msinfuse.services import handouts
from msinfuse.services import knowledge as kb_service

app = typer.Typer(help="The cited knowledge base of MS infusion agents.", no_args_is_help=True)


class HandoutFormat(StrEnum):
    """Handout output format."""

    md = "md"
    html = "html"


def _cite(item: dict[str, Any]) -> str:
    cites = item.get("cite") or []
    text = "; ".join(f"{c['source']} §{c['section']} rev {c['revision']}" for c in cites)
    status = item.get("status")
    return f"{text} [{status}]" if status else text


@app.command("list")
def list_command(
    all_: Annotated[
        bool, typer.Option("--all", help="Also list the non-infusion alternatives.")
    ] = False,
    profile: ProfileOption = ProfileChoice.us,
    json_: JsonOption = False,
) -> None:
    """List the infusion agents (and with --all the oral and injectable alternatives)."""
    rows = kb_service.list_agents(knowledge(), profile_id(profile), all_)
    if json_:
        emit_json(rows)
        return
    console.print(
        table(
            f"MS infusion agents ({profile.value.upper()} label profile)",
            ["Id", "Name", "Brands", "Route", "Class", "MS courses (on-label)", "Off-label in MS"],
            [
                (
                    r["id"],
                    r["name"],
                    ", ".join(r["brands"]),
                    r["route"],
                    r["drug_class"],
                    ", ".join(r["ms_courses"]) if r["kind"] == "infusion" else "-",
                    "yes" if r["off_label_in_ms"] else "no",
                )
                for r in rows
            ],
        )
    )
    alternatives = [r for r in rows if r["kind"] == "alternative"]
    if alternatives:
        console.print(
            "[dim]Alternatives list route, usual frequency and class only; most rest on unconfirmed general knowledge.[/]"
        )


@app.command("show")
def show_command(
    agent: Annotated[str, typer.Argument(help="Agent id, e.g. ocrelizumab.")],
    profile: ProfileOption = ProfileChoice.us,
    json_: JsonOption = False,
) -> None:
    """Everything known about one agent, with citations."""
    data = kb_service.agent_detail(knowledge(), agent, profile_id(profile))
    if json_:
        emit_json(data)
        return
    _print_detail(data)


def _value(fact: dict[str, Any] | None) -> str:
    if fact is None:
        return "-"
    if fact.get("not_established"):
        return "not established for this profile"
    return str(fact.get("value"))


def _print_detail(d: dict[str, Any]) -> None:
    indication = d["indications"]
    courses = (
        "not established"
        if indication.get("not_established")
        else ", ".join(indication["value"]["ms_courses"]) or "none (off-label in MS)"
    )
    console.print(
        Panel.fit(
            f"[bold]{d['name']}[/] - {d['drug_class']}\n"
            f"Mechanism: {d['mechanism']['summary']} [{d['mechanism']['status']}]\n"
            f"On-label MS courses ({d['profile'].upper()}): {courses}\n"
            f"Off-label in MS: {'yes' if d['off_label_in_ms']['value'] else 'no'}   "
            f"Boxed warning: {'yes' if d['boxed_warning']['value'] else 'no'}",
            title=d["id"],
        )
    )
    if not indication.get("not_established"):
        for restriction in indication["value"]["restrictions"]:
            console.print(f"  restriction: {restriction}")
    console.print(
        table(
            "Products",
            ["Product", "Nonproprietary name", "Kind", "Route", "Infusion"],
            [
                (
                    p["name"],
                    p["nonproprietary_name"],
                    p["kind"],
                    p["route"],
                    "yes" if p["infusion"] else "no",
                )
                for p in d["products"]
            ],
        )
    )
    console.print(
        table(
            "Regimens",
            ["Id", "Name", "Summary", "Default", "Off-label"],
            [
                (
                    r["id"],
                    r["name"],
                    r["summary"],
                    "yes" if r["default"] else "",
                    "yes" if r["off_label"] else "",
                )
                for r in d["regimens"]
            ],
        )
    )
    for regimen in d["regimens"]:
        repeat = regimen.get("repeat")
        if repeat:
            console.print(
                f"  {regimen['id']}: interval {_value(repeat['interval'])}, minimum spacing "
                f"{_value(repeat['min_spacing'])} ({_cite(repeat['interval']) if not repeat['interval'].get('not_established') else ''})"
            )
    console.print(
        table(
            "Rate protocols",
            ["Id", "Infusions", "Rates", "Bag", "Label duration", "Source"],
            [
                (
                    p["id"],
                    f"{p['infusions']['first']}-{p['infusions']['last'] or ''}",
                    _rates_text(p),
                    f"{p['bag_volume_ml']['value']:g} mL"
                    if p.get("bag_volume_ml")
                    else "by concentration",
                    p.get("label_duration_text") or "",
                    _cite(p),
                )
                for p in d["rate_protocols"]
            ],
        )
    )
    _print_list(
        "Premedication",
        d["premedications"],
        lambda p: (
            f"{p['drug']} {p.get('dose_text') or (str(p['dose_mg']) + ' mg' if p.get('dose_mg') else '')} {p['route']}, {p.get('minutes_before_min') or '?'}-{p.get('minutes_before_max') or '?'} min before{'' if p['required'] else ' (optional)'}"
        ),
    )
    _print_list(
        "Observation",
        d["observation"],
        lambda o: (
            f"infusions {o['infusions']['first']}-{o['infusions']['last'] or ''}: {_value(o['minutes'])} min"
            + (
                f", {_value(o['after_reaction_minutes'])} min after any reaction"
                if o.get("after_reaction_minutes")
                else ""
            )
        ),
        cite=lambda o: o["minutes"],
    )
    _print_list(
        "Screening before the first dose / course",
        d["screening"],
        lambda s: f"[{s['when']}] {s['text']} (missing: {s['severity_missing']})",
    )
    _print_list("Checks before each dose", d["checks_before_each_dose"], lambda c: str(c["value"]))
    _print_list(
        "Vaccination",
        d["vaccination"],
        lambda v: (
            f"{v['vaccine_kind']}: at least {v['min_before']} before ({v['severity']}) - {v['text']}"
        ),
    )
    _print_list("Contraindications", d["contraindications"], lambda c: str(c["text"]))
    _print_list(
        "Warnings",
        d["warnings"],
        lambda w: ("[BOXED] " if w["boxed"] else "") + f"{w['title']}: {w['text']}",
    )
    _print_list(
        "Common side effects",
        d["side_effects"],
        lambda s: f"{s['what']}: {s['percent'] if s.get('percent') is not None else '?'}%",
    )
    _print_list(
        "Monitoring",
        d["monitoring"],
        lambda m: (
            f"{m['item']} - every {m.get('interval') or 'dose'}"
            + (
                f" until {m['until_after_last_dose']} after the last dose"
                if m.get("until_after_last_dose")
                else ""
            )
        ),
    )
    _print_list("REMS", d["rems"], lambda r: f"{r['program']}: " + " ".join(r["requirements"]))
    _print_list(
        "Codes",
        d["codes"],
        lambda c: f"{c['system']} {c['code'] or '(no code)'} {c['display']} [{c['status']}]",
        cite=lambda _c: {},
    )
    b = d["burden"]
    console.print(
        f"Burden: {b['visits_per_year'] if b['visits_per_year'] is not None else '-'} visits/year, "
        f"{b['chair_hours_per_year'] if b['chair_hours_per_year'] is not None else '-'} chair hours/year"
        + (f" ({b['courses_note']})" if b["courses_note"] else "")
    )
    if d["weak_facts"]:
        console.print(
            f"[yellow]{len(d['weak_facts'])} facts here are policy or unconfirmed values; see --json 'weak_facts'.[/]"
        )
    print_footer(d["label_revisions"], d["decision_support"])


def _rates_text(p: dict[str, Any]) -> str:
    unit = p["rate_unit"]
    if p.get("escalation"):
        e = p["escalation"]
        return f"{e['start']:g} {unit}, +{e['increment']:g} every {e['every_minutes']:g} min, max {e['maximum']:g}"
    return (
        " -> ".join(
            f"{s['rate']:g}" + (f" x {s['minutes']:g} min" if s.get("minutes") else "")
            for s in p["steps"]
        )
        + f" {unit}"
    )


def _print_list(title: str, items: list[dict[str, Any]], text: Any, cite: Any = None) -> None:
    if not items:
        return
    console.print(
        table(title, ["Item", "Source"], [(text(i), _cite(cite(i) if cite else i)) for i in items])
    )


@app.command("compare")
def compare_command(
    agents: Annotated[list[str], typer.Argument(help="Two or more agent ids.")],
    profile: ProfileOption = ProfileChoice.us,
    json_: JsonOption = False,
) -> None:
    """Compare agents side by side: mechanism, courses, burden, premedication, risks."""
    data = kb_service.compare_agents(knowledge(), agents, profile_id(profile))
    if json_:
        emit_json(data)
        return
    rows = data["agents"]
    out = table(
        f"Comparison ({profile.value.upper()} label profile)", ["", *[r["name"] for r in rows]], []
    )

    def line(label: str, cell: Any) -> None:
        out.add_row(label, *(str(cell(r)) for r in rows))

    line("Class", lambda r: r["drug_class"])
    line("Mechanism", lambda r: ", ".join(m.replace("_", " ") for m in r["mechanism_modes"]))
    line("On-label MS courses", lambda r: ", ".join(r["ms_courses"]) or "none (off-label)")
    line("How it is given", lambda r: r["how_given"])
    line(
        "Visits per year (maintenance)",
        lambda r: (
            r["burden"]["visits_per_year"]
            if r["burden"]["visits_per_year"] is not None
            else r["burden"]["courses_note"]
        ),
    )
    line(
        "Chair hours per year",
        lambda r: (
            r["burden"]["chair_hours_per_year"]
            if r["burden"]["chair_hours_per_year"] is not None
            else f"{r['burden']['first_course_chair_hours']} h in course 1"
        ),
    )
    line("Premedication", lambda r: "; ".join(r["premedication"]) or "none required")
    line(
        "Observation (min)",
        lambda r: "; ".join(f"#{o['infusions']}: {o['minutes']:g}" for o in r["observation"]),
    )
    line("Screening tests", lambda r: r["burden"]["screening_tests"])
    line("Monitoring tests per year", lambda r: r["burden"]["monitoring_tests_per_year"])
    line("Key risks", lambda r: "; ".join(_risk_text(k) for k in r["key_risks"][:4]))
    console.print(out)
    print_footer(data["label_revisions"], data["decision_support"])


def _risk_text(risk: dict[str, Any]) -> str:
    figures = ", ".join(f"{f['figure']}" for f in risk["figures"][:2])
    prefix = "BOXED " if risk["boxed"] else ""
    return f"{prefix}{risk['title']}" + (f" ({figures})" if figures else "")


@app.command("handout")
def handout_command(
    agent: Annotated[str, typer.Argument(help="Agent id, e.g. natalizumab.")],
    format_: Annotated[
        HandoutFormat, typer.Option("--format", help="md (Markdown) or html (printable).")
    ] = HandoutFormat.md,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write to this file instead of the screen."),
    ] = None,
    profile: ProfileOption = ProfileChoice.us,
) -> None:
    """The patient handout: plain language, printable, with label revisions at the foot."""
    text = handouts.render_handout(knowledge(), agent, profile_id(profile), format_.value)
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"Wrote {output}")


def sources_command(json_: JsonOption = False) -> None:
    """List every source the knowledge base cites."""
    rows = kb_service.list_sources(knowledge())
    if json_:
        emit_json(rows)
        return
    console.print(
        table(
            "Sources",
            ["Key", "Title", "Type", "Revision", "Jurisdiction"],
            [(s["key"], s["title"], s["doc_type"], s["revision"], s["jurisdiction"]) for s in rows],
        )
    )
