"""The REST API under ``/api/v1``, with its OpenAPI document and offline docs pages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

import msinfuse
from msinfuse.api.routes import (
    admin,
    auth,
    checks,
    clinic,
    feeds,
    infusions,
    knowledge,
    patients,
    plans,
    scheduling,
)
from msinfuse.errors import MsinfuseError
from msinfuse.http.errors import json_error, plain_http_error, validation_error
from msinfuse.http.runtime import Runtime

PREFIX = "/api/v1"
ROUTERS: tuple[APIRouter, ...] = tuple(
    module.router
    for module in (
        auth,
        patients,
        plans,
        checks,
        infusions,
        clinic,
        knowledge,
        admin,
        feeds,
        scheduling,
    )
)

DESCRIPTION = (
    "The msinfuse REST API. Decision support only: every clinical output names the label "
    "revisions it rests on and must be verified against the current prescribing information.\n\n"
    "Sign in with `POST /api/v1/auth/token` (form fields `username`, `password`) and send "
    "`Authorization: Bearer <token>`."
)


def create_api(runtime: Runtime) -> FastAPI:
    """The API application (mounted at ``/api/v1`` by the server)."""
    api = FastAPIOffline(
        title="msinfuse API",
        version=msinfuse.__version__,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url="/redoc",
    )
    api.state.runtime = runtime
    for router in ROUTERS:
        api.include_router(router)

    @api.exception_handler(MsinfuseError)
    async def _domain_error(request: Request, exc: MsinfuseError) -> JSONResponse:
        return json_error(exc, request)

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return plain_http_error(exc.status_code, str(exc.detail), exc.headers)

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return json_error(exc, request)

    api.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    _document_validation_errors(api)
    return api


def _document_validation_errors(api: FastAPI) -> None:
    """Make the OpenAPI document describe the 422 body msinfuse really sends
    (``{"error", "detail", "problems": [{"loc", "msg", "type"}]}``) instead of FastAPI's."""
    generate = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            document = generate()
            components = document.setdefault("components", {}).setdefault("schemas", {})
            components["HTTPValidationError"] = {
                "title": "ValidationProblems",
                "description": "A request payload that failed validation (no submitted values).",
                "type": "object",
                "required": ["error", "detail", "problems"],
                "properties": {
                    "error": {"type": "string", "const": "ValidationError"},
                    "detail": {"type": "string"},
                    "problems": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["loc", "msg", "type"],
                            "properties": {
                                "loc": {"type": "array", "items": {"type": "string"}},
                                "msg": {"type": "string"},
                                "type": {"type": "string"},
                            },
                        },
                    },
                },
            }
            api.openapi_schema = document
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]


PUBLIC_PATHS = frozenset(
    {"/health", "/auth/token", "/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"}
)


def route_permissions(
    routers: tuple[APIRouter, ...] = ROUTERS,
) -> list[tuple[str, str, str | None]]:
    """Every API route as (method, path, required permission); ``None`` = sign-in only, or
    public for the paths in :data:`PUBLIC_PATHS`."""
    from fastapi.routing import APIRoute

    from msinfuse.http.deps import Permission

    rows = []
    for route in (r for router in routers for r in router.routes):
        if not isinstance(route, APIRoute):
            continue
        permission = next(
            (call.permission for call in _calls(route.dependant) if isinstance(call, Permission)),
            None,
        )
        for method in sorted((route.methods or set()) - {"HEAD"}):
            rows.append((method, route.path, permission))
    return sorted(rows, key=lambda r: (r[1], r[0]))


def _calls(dependant: Dependant) -> list[object]:
    found: list[object] = []
    for dep in dependant.dependencies:
        found.append(dep.call)
        found.extend(_calls(dep))
    return found
