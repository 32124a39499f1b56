"""Users and the audit trail (administrators)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from msinfuse.api import schemas
from msinfuse.api.paging import ListParams, Page, list_params, paginate
from msinfuse.api.routes.patients import ERRORS
from msinfuse.http.deps import DB, Permission
from msinfuse.services import audit, auth
from msinfuse.services.auth import UserCreate
from msinfuse.services.context import ServiceContext

router = APIRouter(tags=["administration"])
USERS = Depends(Permission("users.manage"))


class NewPassword(BaseModel):
    """A new password."""

    password: str = Field(min_length=1, max_length=256)


@router.get("/users", response_model=Page[schemas.User], responses=ERRORS)
def list_users(
    page: ListParams = Depends(list_params),
    ctx: ServiceContext = USERS,
    session: Session = DB,
) -> dict[str, Any]:
    """Every user."""
    return paginate(auth.list_users(session, ctx), page)


@router.post("/users", response_model=schemas.User, status_code=201, responses=ERRORS)
def create_user(
    body: UserCreate, ctx: ServiceContext = USERS, session: Session = DB
) -> dict[str, Any]:
    """Create a user (a strong password is required)."""
    return auth.create_user(session, ctx, body)


@router.post("/users/{username}/disable", response_model=schemas.User, responses=ERRORS)
def disable_user(
    username: str, ctx: ServiceContext = USERS, session: Session = DB
) -> dict[str, Any]:
    """Disable a user and revoke their tokens and sessions."""
    return auth.disable_user(session, ctx, username)


@router.post("/users/{username}/reset-password", response_model=schemas.User, responses=ERRORS)
def reset_password(
    username: str,
    body: NewPassword,
    ctx: ServiceContext = USERS,
    session: Session = DB,
) -> dict[str, Any]:
    """Set a new password (clears a lock-out, revokes tokens)."""
    return auth.reset_password(session, ctx, username, body.password)


@router.get("/audit", response_model=Page[schemas.AuditEvent], responses=ERRORS)
def audit_events(
    since: datetime = Query(),
    page: ListParams = Depends(list_params),
    ctx: ServiceContext = Depends(Permission("audit.read")),
    session: Session = DB,
) -> dict[str, Any]:
    """Audit events since a moment (ISO 8601), oldest first unless sorted."""
    return paginate(audit.export(session, ctx, since), page)
