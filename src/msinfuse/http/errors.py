"""Map the exception tree to HTTP once: one body shape ``{"error", "detail"}``.

422 is only for request-payload validation (FastAPI's own). An unexpected error is a 500
carrying a request id and no internal detail; it is logged without patient data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from msinfuse.errors import (
    Conflict,
    InternalError,
    InvalidInput,
    KnowledgeBaseError,
    MsinfuseError,
    NotFound,
    PermissionDenied,
    SchedulingInfeasible,
)
from msinfuse.http.deps import CsrfError
from msinfuse.services.auth import NotAuthenticated, TooManyAttempts
from msinfuse.services.validation import plain_problem

log = logging.getLogger("msinfuse.http")

STATUS: list[tuple[type[Exception], int]] = [
    (CsrfError, 403),
    (NotAuthenticated, 401),
    (TooManyAttempts, 429),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (SchedulingInfeasible, 409),
    (InvalidInput, 400),
    (KnowledgeBaseError, 500),
    (InternalError, 500),
]


def status_for(exc: Exception) -> int:
    """The HTTP status of an error of the tree."""
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400 if isinstance(exc, MsinfuseError) else 500


def request_id(request: Request) -> str:
    """The id of the current request (set by the security middleware)."""
    state = request.scope.get("state", {})
    value = state.get("request_id", "-") if isinstance(state, dict) else "-"
    return str(value)


def error_body(exc: Exception, request: Request) -> tuple[int, dict[str, str]]:
    """Status and body for an exception; 500s say nothing about the internals."""
    status = status_for(exc)
    if status >= 500:
        log.error("unexpected %s [request %s]", type(exc).__name__, request_id(request))
        return status, {
            "error": "InternalServerError",
            "detail": "an unexpected error occurred",
            "request_id": request_id(request),
        }
    body = {"error": type(exc).__name__, "detail": str(exc)}
    field = getattr(exc, "field", None)
    if field:
        body["field"] = str(field)
    return status, body


def json_error(exc: Exception, request: Request) -> JSONResponse:
    """The JSON error response for ``exc``."""
    status, body = error_body(exc, request)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def plain_http_error(
    status: int, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The framework's own errors (unknown route, wrong method, unreadable body) in the one
    error shape."""
    name = "".join(HTTPStatus(status).phrase.title().split()) if status in _STATUSES else "Error"
    return JSONResponse(
        {"error": name, "detail": detail}, status_code=status, headers=dict(headers or {})
    )


_STATUSES = {s.value for s in HTTPStatus}


async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """Request-payload validation: 422 naming each field, in plain words (never the submitted
    values)."""
    problems = [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": plain_problem(e),
            "type": e.get("type", ""),
        }
        for e in exc.errors()
    ]
    return JSONResponse(
        {"error": "ValidationError", "detail": "the request is not valid", "problems": problems},
        status_code=422,
    )
