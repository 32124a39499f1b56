"""The web UI's pages, one router per area."""

from __future__ import annotations

from fastapi import APIRouter

from msinfuse.web.routes import (
    admin,
    board,
    checks,
    drugs,
    limits,
    patients,
    schedule,
    signin,
    visits,
    worklists,
)

ROUTERS: tuple[APIRouter, ...] = tuple(
    m.router
    for m in (
        signin,
        board,
        patients,
        checks,
        visits,
        worklists,
        schedule,
        drugs,
        admin,
        limits,
    )
)
