"""The FHIR R4 endpoint under ``/fhir``: CapabilityStatement, read, search, ``$everything``
and the import of a transaction or batch Bundle.

Same sign-in and permissions as the REST API (``fhir.export`` to read, ``fhir.import`` to
import); every answer is ``application/fhir+json`` and every error an OperationOutcome.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from msinfuse.errors import MsinfuseError
from msinfuse.http.deps import DB, Permission, runtime
from msinfuse.http.errors import error_body
from msinfuse.http.runtime import Runtime
from msinfuse.services.context import SYSTEM, ServiceContext
from msinfuse.services.fhir import exchange
from msinfuse.services.fhir.parsing import Problem

PREFIX = "/fhir"
MEDIA_TYPE = "application/fhir+json"
EXPORT = Depends(Permission("fhir.export"))
IMPORT = Depends(Permission("fhir.import"))

router = APIRouter()


class FhirResponse(JSONResponse):
    """A FHIR JSON answer."""

    media_type = MEDIA_TYPE


def _tz(request: Request) -> ZoneInfo:
    return ZoneInfo(runtime(request).settings.timezone)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def outcome(status: int, problems: list[Problem]) -> FhirResponse:
    """An OperationOutcome response."""
    return FhirResponse(exchange.operation_outcome(problems), status_code=status)


@router.get("/metadata", response_class=FhirResponse)
def metadata(request: Request) -> FhirResponse:
    """The CapabilityStatement (public, as FHIR clients expect)."""
    rt = runtime(request)
    now = rt.now()
    ctx = ServiceContext(rt.kb, SYSTEM, now.date(), now)
    return FhirResponse(exchange.capability_statement(ctx, _base(request)))


@router.get("/Patient/{patient_id}/$everything", response_class=FhirResponse)
def everything(
    patient_id: str, request: Request, ctx: ServiceContext = EXPORT, session: Session = DB
) -> FhirResponse:
    """Every resource of one patient's record (a searchset Bundle)."""
    resources = exchange.search(session, ctx, "Patient", {"_id": patient_id}, _tz(request))
    if not resources:
        return outcome(404, [Problem("Patient", "patient not found", "not-found")])
    everything = exchange.patient_resources(session, ctx, int(patient_id), _tz(request))
    return FhirResponse(exchange.searchset(everything, _base(request)))


@router.get("/{resource_type}/{resource_id}", response_class=FhirResponse)
def read(
    resource_type: str,
    resource_id: str,
    request: Request,
    ctx: ServiceContext = EXPORT,
    session: Session = DB,
) -> FhirResponse:
    """One resource."""
    return FhirResponse(exchange.read(session, ctx, resource_type, resource_id, _tz(request)))


@router.get("/{resource_type}", response_class=FhirResponse)
def search(
    resource_type: str, request: Request, ctx: ServiceContext = EXPORT, session: Session = DB
) -> FhirResponse:
    """Search one patient's resources of a type by ``patient``, ``date`` and ``code``."""
    params = dict(request.query_params)
    found = exchange.search(session, ctx, resource_type, params, _tz(request))
    return FhirResponse(exchange.searchset(found, _base(request)))


@router.post("/", response_class=FhirResponse)
def transaction(
    request: Request,
    bundle: Any = Body(..., media_type=MEDIA_TYPE),
    ctx: ServiceContext = IMPORT,
    session: Session = DB,
) -> FhirResponse:
    """Import one patient's history from a transaction or batch Bundle: all or nothing,
    and a repeated import changes nothing."""
    return FhirResponse(exchange.import_bundle(session, ctx, bundle, _tz(request)))


def create_fhir(rt: Runtime) -> FastAPI:
    """The FHIR application (mounted at ``/fhir`` by the server)."""
    app = FastAPI(title="msinfuse FHIR R4", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = rt
    app.include_router(router)

    @app.exception_handler(exchange.ImportRejected)
    async def _rejected(_request: Request, exc: exchange.ImportRejected) -> FhirResponse:
        status = 409 if any(p.code == "conflict" for p in exc.problems) else 422
        return outcome(status, exc.problems)

    @app.exception_handler(MsinfuseError)
    async def _error(request: Request, exc: MsinfuseError) -> FhirResponse:
        status, body = error_body(exc, request)
        code = {401: "login", 403: "forbidden", 404: "not-found", 409: "conflict"}.get(
            status, "invalid"
        )
        response = outcome(status, [Problem("", body["detail"], code)])
        if status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> FhirResponse:
        problems = [
            Problem(".".join(str(p) for p in e.get("loc", ())), str(e.get("msg", "")), "invalid")
            for e in exc.errors()
        ]
        return outcome(400, problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> FhirResponse:
        code = "not-found" if exc.status_code == 404 else "not-supported"
        return outcome(exc.status_code, [Problem("", str(exc.detail), code)])

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> FhirResponse:
        status, body = error_body(exc, request)
        return outcome(status, [Problem("", body["detail"], "exception")])

    return app
