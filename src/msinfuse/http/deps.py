"""Request dependencies: one transaction per request, and the signed-in actor.

An API client signs in with ``Authorization: Bearer <token>``; a browser with the session
cookie, in which case every state-changing request must carry the session's CSRF token
(header ``X-CSRF-Token`` or form field ``csrf_token``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from msinfuse.http.runtime import Runtime
from msinfuse.services import auth
from msinfuse.services.context import Actor, ServiceContext, require

SESSION_COOKIE = "msinfuse_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfError(auth.NotAuthenticated):
    """A cookie-authenticated change without the session's CSRF token."""


def runtime(request: Request) -> Runtime:
    """The server's runtime."""
    value: Runtime = request.app.state.runtime
    return value


async def _db_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request, committed before the response is sent.

    At most ``db_pool_size`` requests hold a transaction at once; the others wait here without
    holding a worker thread. Commit, rollback and close run on threads reserved for finishing,
    so a finished request never waits for a thread behind requests that wait for its
    connection (which would deadlock under load).
    """
    rt = runtime(request)
    async with rt.transactions:
        session = rt.sessions()
        try:
            yield session
            await to_thread.run_sync(session.commit, limiter=rt.finishers)
        except BaseException:
            await to_thread.run_sync(session.rollback, limiter=rt.finishers)
            raise
        finally:
            await to_thread.run_sync(session.close, limiter=rt.finishers)


#: The request's database session. Every route and dependency uses this one marker, so a
#: request has one session, and it ends (commit or rollback) before the response is sent.
DB: Any = Depends(_db_session, scope="function")
db_session = _db_session


def client_address(request: Request) -> str:
    """The client's address (the direct peer; put a trusted proxy in front for more)."""
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class Caller:
    """The signed-in caller of a request."""

    actor: Actor
    token_id: int
    via_cookie: bool
    csrf_token: str | None


async def _csrf_from_form(request: Request) -> str | None:
    content_type = request.headers.get("content-type", "")
    if "form" not in content_type:
        return None
    form = await request.form()
    value = form.get("csrf_token")
    return value if isinstance(value, str) else None


async def caller(request: Request, session: Session = DB) -> Caller:
    """The signed-in caller, from a bearer token or the session cookie (with CSRF check)."""
    header = request.headers.get("authorization", "")
    now = runtime(request).now()
    if header.lower().startswith("bearer "):
        found = auth.authenticate(session, header[7:].strip(), now, "bearer")
        return Caller(found.actor, found.token_id, False, None)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise auth.NotAuthenticated("sign in first")
    found = auth.authenticate(session, cookie, now, "session")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER) or await _csrf_from_form(request)
        if not sent or sent != found.csrf_token:
            raise CsrfError("the request is missing its CSRF token; reload the page")
    return Caller(found.actor, found.token_id, True, found.csrf_token)


def service_context(request: Request, who: Caller = Depends(caller)) -> ServiceContext:
    """The service context of a signed-in request."""
    rt = runtime(request)
    now = rt.now()
    return ServiceContext(rt.kb, who.actor, now.date(), now, client_address(request))


class Permission:
    """A route dependency requiring one permission of the authorization matrix."""

    def __init__(self, permission: str) -> None:
        self.permission = permission

    def __call__(self, ctx: ServiceContext = Depends(service_context)) -> ServiceContext:
        require(ctx.actor, self.permission)
        return ctx
