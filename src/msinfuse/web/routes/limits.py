"""The clinic's vital-sign ranges: what a documented vital sign may be (else refused) and
what it usually is (else flagged), changed by an administrator with a reason."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from msinfuse.domain.provenance import DECISION_SUPPORT
from msinfuse.http.deps import DB
from msinfuse.services import limits
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
MANAGE = web("sites.manage")
FIELDS = ("possible_low", "possible_high", "usual_low", "usual_high", "reason")


def _page(
    wr: WebRequest,
    session: Session,
    kind: str | None = None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        wr,
        "admin_limits.html",
        status=status,
        signs=limits.vital_sign_limits(session, wr.ctx),
        fix_key=kind,
        fix_errors=errors,
        fix_values=values or {},
        decision_support=DECISION_SUPPORT,
        labels=[],
    )


@router.get("/admin/limits", response_class=HTMLResponse)
def limits_page(wr: WebRequest = MANAGE, session: Session = DB) -> HTMLResponse:
    """The vital-sign ranges in force, with the knowledge base's defaults."""
    return _page(wr, session)


def _pair(
    values: dict[str, str], low: str, high: str, errors: FormErrors
) -> tuple[float, float] | None:
    raw = (values.get(low, "").strip(), values.get(high, "").strip())
    if not any(raw):
        return None
    numbers = []
    for name, text in zip((low, high), raw, strict=True):
        try:
            numbers.append(float(text))
        except ValueError:
            errors.fields[name] = "enter a number (or leave both empty for the default)"
    return (numbers[0], numbers[1]) if len(numbers) == 2 else None


@router.post("/admin/limits/{kind}", response_class=HTMLResponse)
async def set_limits(
    kind: str, request: Request, wr: WebRequest = MANAGE, session: Session = DB
) -> Response:
    """Change one vital sign's ranges (empty: the knowledge base's default), with a reason."""
    values = form_values(await request.form())
    errors = FormErrors()
    body = {
        "possible": _pair(values, "possible_low", "possible_high", errors),
        "usual": _pair(values, "usual_low", "usual_high", errors),
        "reason": values.get("reason", ""),
    }
    if not errors:
        _, error = attempt(
            session, lambda: limits.set_vital_sign_limits(session, wr.ctx, kind, body)
        )
        if error is None:
            return redirect("/admin/limits", "limits")
        errors = field_error(error, (*FIELDS, "possible", "usual"))
        for pair in ("possible", "usual"):
            if pair in errors.fields:
                errors.fields[f"{pair}_low"] = errors.fields.pop(pair)
    return _page(wr, session, kind, values, errors, 400)
