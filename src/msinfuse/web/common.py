"""What every page shares: the templates, the signed-in request, rendering, form errors.

A page handler asks for ``WebRequest`` through :func:`web` with the permission of the
authorization matrix it needs (the same :class:`~msinfuse.http.deps.Permission` dependency
the API uses, so one matrix decides both). Templates get the actor, the CSRF token, a
``can(permission)`` test and the navigation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from msinfuse.errors import UserError
from msinfuse.http.deps import Caller, Permission, caller
from msinfuse.services.context import ServiceContext

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
TEMPLATES.env.autoescape = True
TEMPLATES.env.trim_blocks = True
TEMPLATES.env.lstrip_blocks = True

#: Navigation: (path, label, permission that shows it).
NAV: tuple[tuple[str, str, str], ...] = (
    ("/board", "Today", "worklists.read"),
    ("/patients", "Patients", "patients.read"),
    ("/schedule", "Scheduling", "appointments.read"),
    ("/worklists", "Worklists", "worklists.read"),
    ("/drugs", "Drug library", "knowledge.read"),
    ("/admin/users", "Users", "users.manage"),
    ("/admin/sites", "Sites", "sites.manage"),
    ("/admin/limits", "Limits", "sites.manage"),
)

#: Messages shown after a successful change (Post/Redirect/Get): fixed texts, never echoed input.
NOTICES: dict[str, str] = {
    "signed-out": "You are signed out.",
    "acknowledged": "Warning acknowledged.",
    "overridden": "Hold overridden; the reason is stored with the check.",
    "checked": "Pre-infusion check run and stored.",
    "started": "Infusion started.",
    "rate": "Rate change recorded.",
    "premed": "Premedication recorded.",
    "vital": "Vital sign recorded.",
    "reaction": "Reaction recorded; the rest of the bag is re-planned below.",
    "completed": "Infusion completed; observation period set.",
    "corrected": "Correction saved; the original stays visible, struck through.",
    "reviewed": "Review decision recorded.",
    "limits": "Vital-sign limits saved; they apply from now on.",
    "plan": "Plan started; the dose calendar is laid out.",
    "booked": "Appointment booked.",
    "moved": "Appointment moved.",
    "accepted": "Proposal accepted: its bookings are on the week below.",
    "shift": "Nurse shift recorded.",
    "shift-removed": "Nurse shift removed.",
    "feed-revoked": "Calendar link revoked: it no longer works.",
    "user": "User saved.",
    "site": "Site created.",
}


@dataclass(frozen=True)
class WebRequest:
    """A signed-in page request."""

    request: Request
    ctx: ServiceContext
    who: Caller

    def can(self, permission: str) -> bool:
        """Whether the signed-in user holds ``permission``."""
        return self.ctx.actor.can(permission)


def web(permission: str) -> Any:
    """A page dependency requiring ``permission`` (the API's permission dependency)."""
    guard = Permission(permission)

    def dependency(
        request: Request,
        ctx: ServiceContext = Depends(guard),
        who: Caller = Depends(caller),
    ) -> WebRequest:
        return WebRequest(request, ctx, who)

    return Depends(dependency)


def _date(value: Any, fmt: str = "%d %b %Y") -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return str(value)
    return str(value.strftime(fmt))


def _clock(value: Any) -> str:
    return _date(value, "%H:%M")


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def _words(value: Any) -> str:
    return str(value).replace("_", " ") if value is not None else ""


TEMPLATES.env.filters.update(date=_date, clock=_clock, num=_num, words=_words)


@dataclass
class FormErrors:
    """Errors of a submitted form: per field, plus one for the whole form."""

    fields: dict[str, str] = field(default_factory=dict)
    form: str | None = None

    def __bool__(self) -> bool:
        return bool(self.fields or self.form)


def render(
    wr: WebRequest,
    template: str,
    status: int = 200,
    **data: Any,
) -> HTMLResponse:
    """Render a page for the signed-in user."""
    notice_key = wr.request.query_params.get("notice")
    context = {
        "actor": wr.ctx.actor,
        "csrf_token": wr.who.csrf_token or "",
        "can": wr.can,
        "nav": [(p, label) for p, label, perm in NAV if wr.can(perm)],
        "path": wr.request.url.path,
        "today": wr.ctx.today,
        "notice": NOTICES.get(notice_key or ""),
        "errors": data.pop("errors", None) or FormErrors(),
        "values": data.pop("values", None) or {},
        "no_errors": FormErrors(),
        **data,
    }
    return TEMPLATES.TemplateResponse(wr.request, template, context, status_code=status)


def redirect(path: str, notice: str | None = None) -> RedirectResponse:
    """Post/Redirect/Get to ``path`` with a fixed notice."""
    sep = "&" if "?" in path else "?"
    return RedirectResponse(path + (f"{sep}notice={notice}" if notice else ""), status_code=303)


T = TypeVar("T")


def attempt(session: Session, action: Callable[[], T]) -> tuple[T | None, UserError | None]:
    """Run a service call; on a user error roll back whatever it did and return the error
    (so the form re-renders with what was entered and nothing half-done is committed)."""
    try:
        return action(), None
    except UserError as exc:
        session.rollback()
        return None, exc


def field_error(error: UserError, names: tuple[str, ...]) -> FormErrors:
    """Place a service's error beside the field it names (the error's ``field``, or fields
    named in the message as ``field: problem``), or above the form."""
    message = str(error)
    named = getattr(error, "field", None)
    if named in names and message.partition(": ")[0].split(".")[-1] != named:
        return FormErrors({named: message})  # a plain message about one field
    found: dict[str, str] = {}
    for part in message.split("; "):
        head, _, rest = part.partition(": ")
        key = head.strip().split(".")[-1]
        if rest and key in names:
            found[key] = rest
    if found:
        return FormErrors(found)
    for name in names:
        if name.replace("_", " ") in message or name in message.split():
            return FormErrors({name: message})
    return FormErrors(form=message)


def form_values(form: Any) -> dict[str, str]:
    """A submitted form as text values (kept to re-render on an error); no password."""
    return {
        k: v for k, v in form.items() if isinstance(v, str) and k not in ("password", "csrf_token")
    }


def labels_for(wr: WebRequest, agents: Any, profile: str | None = None) -> list[dict[str, str]]:
    """The label revisions behind the agents shown on a page (for its decision-support line)."""
    from msinfuse.services.knowledge import labels_json

    chosen = profile or runtime_profile(wr)
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for agent_id in sorted({a for a in agents if a}):
        agent = wr.ctx.kb.agent(agent_id)
        if agent is None:
            continue
        for ref in labels_json(agent, chosen):  # type: ignore[arg-type]
            seen.setdefault((ref["document"], ref["revision"]), ref)
    return list(seen.values())


def runtime_profile(wr: WebRequest) -> str:
    """The server's default label profile."""
    from msinfuse.http.deps import runtime

    return str(runtime(wr.request).settings.profile)
