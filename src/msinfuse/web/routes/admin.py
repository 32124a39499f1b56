"""Administration: users and roles, sites and chairs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from msinfuse.http.deps import DB
from msinfuse.services import auth, clinic
from msinfuse.services.context import ROLES
from msinfuse.web.common import (
    FormErrors,
    WebRequest,
    attempt,
    field_error,
    form_values,
    redirect,
    render,
    web,
)

router = APIRouter()
USERS = web("users.manage")
SITES = web("sites.manage")


def _users_page(
    wr: WebRequest,
    session: Session,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        wr,
        "admin_users.html",
        status=status,
        users=auth.list_users(session, wr.ctx),
        roles=ROLES,
        values=values or {"role": "nurse"},
        errors=errors,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users(wr: WebRequest = USERS, session: Session = DB) -> HTMLResponse:
    """Users and their roles."""
    return _users_page(wr, session)


@router.post("/admin/users", response_class=HTMLResponse)
async def add_user(request: Request, wr: WebRequest = USERS, session: Session = DB) -> Response:
    """Add a user (a strong password is required)."""
    form = await request.form()
    values = form_values(form)
    password = form.get("password")
    body = {
        "username": values.get("username", ""),
        "full_name": values.get("full_name", ""),
        "role": values.get("role", ""),
        "password": password if isinstance(password, str) else "",
    }
    _, error = attempt(session, lambda: auth.create_user(session, wr.ctx, body))
    if error is not None:
        errors = field_error(error, ("username", "full_name", "role", "password"))
        if "password" in str(error) and not errors.fields:
            errors = FormErrors({"password": str(error)})
        return _users_page(wr, session, values, errors, 400)
    return redirect("/admin/users", "user")


@router.post("/admin/users/{username}/disable", response_class=HTMLResponse)
def disable(username: str, wr: WebRequest = USERS, session: Session = DB) -> Response:
    """Disable a user (their sessions and tokens are revoked)."""
    auth.disable_user(session, wr.ctx, username)
    return redirect("/admin/users", "user")


@router.post("/admin/users/{username}/password", response_class=HTMLResponse)
def reset_password(
    username: str,
    password: Annotated[str, Form(max_length=256)] = "",
    wr: WebRequest = USERS,
    session: Session = DB,
) -> Response:
    """Set a new password (clears a lock-out)."""
    _, error = attempt(session, lambda: auth.reset_password(session, wr.ctx, username, password))
    if error is not None:
        return _users_page(wr, session, None, FormErrors({f"password-{username}": str(error)}), 400)
    return redirect("/admin/users", "user")


def _sites_page(
    wr: WebRequest,
    session: Session,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        wr,
        "admin_sites.html",
        status=status,
        sites=clinic.list_sites(session, wr.ctx),
        values=values or {"opens": "08:00", "closes": "17:00", "chairs": "8", "beds": "0"},
        errors=errors,
    )


@router.get("/admin/sites", response_class=HTMLResponse)
def sites(wr: WebRequest = SITES, session: Session = DB) -> HTMLResponse:
    """Sites and their chairs."""
    return _sites_page(wr, session)


@router.post("/admin/sites", response_class=HTMLResponse)
async def add_site(request: Request, wr: WebRequest = SITES, session: Session = DB) -> Response:
    """Create a site with its chairs and beds."""
    values = form_values(await request.form())
    body = {
        k: values[k] for k in ("code", "name", "opens", "closes", "chairs", "beds") if values.get(k)
    }
    _, error = attempt(session, lambda: clinic.create_site(session, wr.ctx, body))
    if error is not None:
        fields = ("code", "name", "opens", "closes", "chairs", "beds")
        return _sites_page(wr, session, values, field_error(error, fields), 400)
    return redirect("/admin/sites", "site")
