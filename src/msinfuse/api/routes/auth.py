"""Sign-in: bearer tokens for API clients; revocation; who am I; health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session

from msinfuse.api import schemas
from msinfuse.http.deps import DB, Caller, caller, client_address, runtime, service_context
from msinfuse.services import auth
from msinfuse.services.context import ServiceContext

router = APIRouter(tags=["auth"])


@router.get("/health", response_model=schemas.Health)
def health() -> schemas.Health:
    """Liveness check (no sign-in)."""
    return schemas.Health(status="ok")


@router.post(
    "/auth/token",
    response_model=schemas.Token,
    responses={401: {"model": schemas.Error}, 429: {"model": schemas.Error}},
)
def token(
    request: Request,
    username: Annotated[str, Form(min_length=1, max_length=80)],
    password: Annotated[str, Form(min_length=1, max_length=256)],
    session: Session = DB,
) -> schemas.Token:
    """Sign in with username and password (form fields) and get a bearer token."""
    rt = runtime(request)
    try:
        issued = auth.sign_in(
            session,
            rt.settings,
            rt.kb,
            rt.now(),
            username,
            password,
            client_address(request),
            "bearer",
        )
    except auth.NotAuthenticated:
        session.commit()  # keep the failed attempt and the lock-out counter
        raise
    return schemas.Token(access_token=issued.token, expires_at=issued.expires_at.isoformat())


@router.post("/auth/revoke", status_code=204, responses={401: {"model": schemas.Error}})
def revoke(
    who: Caller = Depends(caller),
    ctx: ServiceContext = Depends(service_context),
    session: Session = DB,
) -> None:
    """Revoke the token (or session) used for this request."""
    auth.revoke(session, ctx, who.token_id)


@router.get("/auth/me", response_model=schemas.Me, responses={401: {"model": schemas.Error}})
def me(who: Caller = Depends(caller)) -> schemas.Me:
    """The signed-in user."""
    return schemas.Me(user_id=who.actor.user_id, username=who.actor.username, role=who.actor.role)
