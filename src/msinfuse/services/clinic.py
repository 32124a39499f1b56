"""Sites and chairs (administration)."""

from __future__ import annotations

from datetime import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from msinfuse.errors import Conflict
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.models import Chair, Site
from msinfuse.services import audit
from msinfuse.services.context import ServiceContext, require
from msinfuse.services.validation import validate


class SiteCreate(BaseModel):
    """A new infusion centre with its chairs."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=200)
    opens: time = time(8, 0)
    closes: time = time(17, 0)
    chairs: int = Field(default=8, ge=0, le=200)
    beds: int = Field(default=0, ge=0, le=50)
    start_cap: int = Field(default=2, ge=1, le=50)
    nurse_ratio: int = Field(default=5, ge=1, le=20)


def site_json(session: Session, site: Site) -> dict[str, Any]:
    """A site with its chairs."""
    return {
        "id": site.id,
        "code": site.code,
        "name": site.name,
        "opens": site.opens.strftime("%H:%M"),
        "closes": site.closes.strftime("%H:%M"),
        "start_cap": site.start_cap,
        "nurse_ratio": site.nurse_ratio,
        "chairs": [
            {"id": c.id, "name": c.name, "kind": c.kind, "active": c.active}
            for c in repo.chairs_of_site(session, site.id)
        ],
    }


def create_site(
    session: Session, ctx: ServiceContext, data: SiteCreate | dict[str, Any]
) -> dict[str, Any]:
    """Create a site and its chairs (C1..Cn) and beds (B1..Bn)."""
    require(ctx.actor, "sites.manage")
    body: SiteCreate = validate(SiteCreate, data)
    if repo.find_site(session, body.code) is not None:
        raise Conflict(f"site {body.code!r} already exists")
    site = Site(
        code=body.code,
        name=body.name,
        opens=body.opens,
        closes=body.closes,
        start_cap=body.start_cap,
        nurse_ratio=body.nurse_ratio,
    )
    session.add(site)
    session.flush()
    session.add_all(
        Chair(site_id=site.id, name=f"C{n:02d}", kind="chair") for n in range(1, body.chairs + 1)
    )
    session.add_all(
        Chair(site_id=site.id, name=f"B{n:02d}", kind="bed") for n in range(1, body.beds + 1)
    )
    session.flush()
    audit.record(session, ctx, "create", "Site", site.id)
    return site_json(session, site)


def list_sites(session: Session, ctx: ServiceContext) -> list[dict[str, Any]]:
    """Every site with its chairs."""
    require(ctx.actor, "appointments.read")
    return [site_json(session, s) for s in repo.list_sites(session)]
