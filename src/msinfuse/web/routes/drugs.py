"""The drug library: every agent with its citations, the comparison table, printable
patient handouts (from the knowledge base, through the knowledge services)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from msinfuse.domain.provenance import DECISION_SUPPORT
from msinfuse.services import handouts, knowledge
from msinfuse.web.common import WebRequest, render, runtime_profile, web

router = APIRouter()
READ = web("knowledge.read")
Profile = Literal["us", "eu"]

#: The handout is a standalone printable page with its own inline stylesheet: it gets its
#: own policy (inline style only; no script at all, nothing loaded from anywhere).
HANDOUT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def _profile(wr: WebRequest, profile: Profile | None) -> Profile:
    chosen = profile or runtime_profile(wr)
    return "eu" if chosen == "eu" else "us"


@router.get("/drugs", response_class=HTMLResponse)
def library(profile: Profile | None = Query(default=None), wr: WebRequest = READ) -> HTMLResponse:
    """Every infusion agent, and the non-infusion alternatives."""
    chosen = _profile(wr, profile)
    rows = knowledge.list_agents(wr.ctx.kb, chosen, include_alternatives=True)
    labels = [
        ref
        for a in sorted(wr.ctx.kb.agents.values(), key=lambda a: a.name)
        for ref in knowledge.labels_json(a, chosen)
    ]
    return render(
        wr,
        "drugs.html",
        rows=rows,
        profile=chosen,
        kb_version=wr.ctx.kb.version,
        labels=labels,
        decision_support=DECISION_SUPPORT,
    )


@router.get("/drugs/compare", response_class=HTMLResponse)
def compare(
    agent: list[str] = Query(default=[]),
    profile: Profile | None = Query(default=None),
    wr: WebRequest = READ,
) -> HTMLResponse:
    """The comparison table (every agent unless some are chosen)."""
    chosen = _profile(wr, profile)
    ids = [a for a in agent if a] or sorted(wr.ctx.kb.agents)
    table = knowledge.compare_agents(wr.ctx.kb, ids, chosen)
    return render(
        wr,
        "compare.html",
        table=table,
        profile=chosen,
        all_agents=sorted(wr.ctx.kb.agents.values(), key=lambda a: a.name),
        chosen=ids,
        labels=table["label_revisions"],
        decision_support=table["decision_support"],
    )


@router.get("/drugs/{agent_id}", response_class=HTMLResponse)
def agent_page(
    agent_id: str, profile: Profile | None = Query(default=None), wr: WebRequest = READ
) -> HTMLResponse:
    """One agent with everything known about it and the citation of each fact."""
    chosen = _profile(wr, profile)
    detail = knowledge.agent_detail(wr.ctx.kb, agent_id, chosen)
    agent = knowledge.get_agent(wr.ctx.kb, agent_id)
    return render(
        wr,
        "agent.html",
        agent=detail,
        summary=knowledge.agent_summary(agent, chosen),
        risks=knowledge.key_risks(agent, chosen),
        profile=chosen,
        labels=detail["label_revisions"],
        decision_support=detail["decision_support"],
    )


@router.get("/drugs/{agent_id}/handout", response_class=HTMLResponse)
def handout(
    agent_id: str, profile: Profile | None = Query(default=None), wr: WebRequest = READ
) -> Response:
    """The printable patient handout."""
    html = handouts.render_handout(wr.ctx.kb, agent_id, _profile(wr, profile), "html")
    return HTMLResponse(html, headers={"content-security-policy": HANDOUT_CSP})
