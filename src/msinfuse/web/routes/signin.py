"""Sign-in and sign-out with the browser session (HttpOnly cookie + CSRF token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from msinfuse.http.deps import (
    DB,
    SESSION_COOKIE,
    Caller,
    caller,
    client_address,
    runtime,
    service_context,
)
from msinfuse.services import auth
from msinfuse.services.context import ServiceContext
from msinfuse.web.common import NOTICES, TEMPLATES

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never another origin) is followed after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/board"
    return target


def _form(
    request: Request, target: str, username: str = "", error: str | None = None, status: int = 200
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        "signin.html",
        {
            "next": target,
            "username": username,
            "error": error,
            "notice": NOTICES.get(request.query_params.get("notice") or ""),
        },
        status_code=status,
    )


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    """The web app starts on today's board."""
    return RedirectResponse("/board", status_code=303)


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> RedirectResponse:
    """Browsers ask for this path; the icon is a static SVG."""
    return RedirectResponse("/static/favicon.svg", status_code=308)


@router.get("/signin", response_class=HTMLResponse)
def signin_page(
    request: Request, target: str | None = Query(default=None, alias="next", max_length=500)
) -> HTMLResponse:
    """The sign-in form."""
    return _form(request, _safe_next(target))


@router.post("/signin", response_class=HTMLResponse)
def signin(
    request: Request,
    username: Annotated[str, Form(max_length=80)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next_page: Annotated[str, Form(alias="next", max_length=500)] = "/board",
    session: Session = DB,
) -> Response:
    """Check the password and open a browser session (cookie HttpOnly, SameSite=Strict)."""
    target = _safe_next(next_page)
    if not username.strip() or not password:
        return _form(request, target, username, "Enter your username and password.", 400)
    rt = runtime(request)
    try:
        issued = auth.sign_in(
            session,
            rt.settings,
            rt.kb,
            rt.now(),
            username.strip(),
            password,
            client_address(request),
            "session",
        )
    except auth.TooManyAttempts as exc:
        return _form(request, target, username, str(exc), 429)
    except auth.NotAuthenticated as exc:
        session.commit()  # keep the failed attempt and the lock-out counter
        return _form(request, target, username, str(exc), 401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=int(rt.settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=rt.settings.secure_cookies,
        path="/",
    )
    return response


@router.post("/signout")
def signout(
    who: Caller = Depends(caller),
    ctx: ServiceContext = Depends(service_context),
    session: Session = DB,
) -> RedirectResponse:
    """End the browser session (it is revoked on the server, not only forgotten)."""
    auth.revoke(session, ctx, who.token_id)
    response = RedirectResponse("/signin?notice=signed-out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
