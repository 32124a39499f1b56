"""The server's composition root: the API, the FHIR endpoints and the web UI under one
ASGI application, behind the security middleware.

``create_app(settings)`` is the factory; ``create_app_from_environment()`` is what
``msinfuse serve`` hands to uvicorn (each worker builds its own, stateless).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.types import ASGIApp

import msinfuse
from msinfuse.api.app import PREFIX, create_api
from msinfuse.config import Settings, get_settings
from msinfuse.http.middleware import SecurityMiddleware
from msinfuse.http.runtime import Runtime
from msinfuse.logs import configure_logging


def create_app(settings: Settings) -> ASGIApp:
    """The whole server for ``settings``."""
    configure_logging(settings.log_level)
    runtime = Runtime.create(settings)
    root = FastAPI(
        title="msinfuse",
        version=msinfuse.__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    root.state.runtime = runtime
    root.mount(PREFIX, create_api(runtime))

    @root.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/docs")

    return SecurityMiddleware(root, settings.max_body_bytes)


def create_app_from_environment() -> ASGIApp:
    """The server configured from ``MSINFUSE_*`` environment variables."""
    return create_app(get_settings())
