"""The web application (mounted at ``/`` by the server), its static files and its error pages.

Errors of the one exception tree become pages: no sign-in sends the browser to the sign-in
page (htmx requests get an ``HX-Redirect``), a missing permission or CSRF token is a 403
page, an unknown record a 404 page; anything unexpected is a 500 page with the request id
and no detail.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from msinfuse.errors import MsinfuseError
from msinfuse.http.errors import request_id, status_for
from msinfuse.http.runtime import Runtime
from msinfuse.services.auth import NotAuthenticated
from msinfuse.web.common import HERE, TEMPLATES
from msinfuse.web.routes import ROUTERS

log = logging.getLogger("msinfuse.web")

#: Content security policy of the web pages: scripts and styles only from msinfuse itself
#: (no inline script, no inline style, nothing from elsewhere).
WEB_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'self'"
)


def _error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        "error.html",
        {"title": title, "detail": detail, "status": status, "request_id": request_id(request)},
        status_code=status,
    )


def _to_signin(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/signin?next={quote(target, safe='/')}"
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


TITLES = {
    400: "That cannot be done",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "That cannot be done now",
    422: "The form is not valid",
    429: "Too many attempts",
}


def create_web(runtime: Runtime) -> FastAPI:
    """The web application."""
    web = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    web.state.runtime = runtime
    web.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in ROUTERS:
        web.include_router(router)

    @web.exception_handler(MsinfuseError)
    async def _domain_error(request: Request, exc: MsinfuseError) -> Response:
        if isinstance(exc, NotAuthenticated) and type(exc) is NotAuthenticated:
            return _to_signin(request)
        status = status_for(exc)
        if status >= 500:
            log.error("unexpected %s [request %s]", type(exc).__name__, request_id(request))
            return _error_page(request, 500, "Something went wrong", "An unexpected error.")
        return _error_page(request, status, TITLES.get(status, "Error"), str(exc))

    @web.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error_page(
            request, exc.status_code, TITLES.get(exc.status_code, "Error"), str(exc.detail)
        )

    @web.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = sorted({str(e.get("loc", ("", ""))[-1]) for e in exc.errors()})
        return _error_page(
            request, 422, TITLES[422], "Check these fields: " + ", ".join(fields) + "."
        )

    @web.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected %s [request %s]", type(exc).__name__, request_id(request))
        return _error_page(request, 500, "Something went wrong", "An unexpected error.")

    return web
