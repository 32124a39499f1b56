"""The server's composition root: the API, the FHIR endpoints and the web UI under one
ASGI application, behind the security middleware.

``create_app(settings)`` is the factory; ``create_app_from_environment()`` is what
``msinfuse serve`` hands to uvicorn (each worker builds its own, stateless).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

import msinfuse
from msinfuse.api.app import PREFIX, create_api
from msinfuse.api.fhir import PREFIX as FHIR_PREFIX
from msinfuse.api.fhir import create_fhir
from msinfuse.api.routes import feeds
from msinfuse.config import Settings, get_settings
from msinfuse.http.errors import plain_http_error
from msinfuse.http.middleware import SecurityMiddleware
from msinfuse.http.runtime import Runtime
from msinfuse.logs import configure_logging
from msinfuse.web.app import create_web


def create_app(settings: Settings, clock: Callable[[], datetime] | None = None) -> ASGIApp:
    """The whole server for ``settings`` (``clock`` replaces the wall clock in tests)."""
    configure_logging(settings.log_level)
    runtime = Runtime.create(settings, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        runtime.engine.dispose()

    root = FastAPI(
        title="msinfuse",
        lifespan=lifespan,
        version=msinfuse.__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    root.state.runtime = runtime

    @root.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return plain_http_error(exc.status_code, str(exc.detail), exc.headers)

    root.mount(PREFIX, create_api(runtime))
    root.mount(FHIR_PREFIX, create_fhir(runtime))
    root.include_router(feeds.public_router)
    root.mount("/", create_web(runtime))  # the web UI; last, so it never shadows the API

    root.add_middleware(FhirBaseWithoutSlash)
    return SecurityMiddleware(root, settings.max_body_bytes)


class FhirBaseWithoutSlash:
    """FHIR clients post transaction bundles to the base URL itself (``POST /fhir``), and
    many do not follow redirects: route it to the mounted FHIR app's root directly."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == FHIR_PREFIX:
            base = FHIR_PREFIX + "/"
            scope = {**scope, "path": base, "raw_path": base.encode()}
        await self.app(scope, receive, send)


def create_app_from_environment() -> ASGIApp:
    """The server configured from ``MSINFUSE_*`` environment variables."""
    return create_app(get_settings())
