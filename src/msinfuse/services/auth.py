"""Users, passwords, sign-in, tokens and sessions.

- Passwords are hashed with Argon2 (argon2-cffi) and must be strong: at least 12
  characters, three of the four character classes, and not containing the username.
- Repeated failures lock the account for a while; sign-in attempts are rate limited per
  client address. Both are kept in the database, so every worker sees them.
- API clients get bearer tokens that expire and can be revoked; browsers get a session
  token (in an HttpOnly cookie) with its own CSRF token. Only hashes of tokens are stored.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from msinfuse.config import Settings
from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.errors import Conflict, InvalidInput, NotFound, PermissionDenied, UserError
from msinfuse.persistence import repositories as repo
from msinfuse.persistence.models import ApiToken, SigninAttempt, User
from msinfuse.services import audit
from msinfuse.services.context import ROLES, Actor, ServiceContext, require
from msinfuse.services.validation import validate

_HASHER = PasswordHasher()
MIN_PASSWORD = 12


class NotAuthenticated(UserError):
    """No valid sign-in: missing, wrong, expired or revoked credentials."""


class TooManyAttempts(UserError):
    """Too many sign-in attempts from this client; try again later."""


class UserCreate(BaseModel):
    """A new user."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: str = Field(min_length=3, max_length=80, pattern=r"^[A-Za-z0-9._-]+$")
    full_name: str = Field(min_length=1, max_length=200)
    role: Literal["admin", "prescriber", "nurse", "pharmacist", "scheduler", "viewer"]
    password: str = Field(min_length=1, max_length=256)


def password_problem(password: str, username: str) -> str | None:
    """Why ``password`` is too weak, or ``None`` when it is strong enough."""
    if len(password) < MIN_PASSWORD:
        return f"the password needs at least {MIN_PASSWORD} characters"
    classes = sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )
    if classes < 3:
        return "the password needs three of: lower case, upper case, digits, symbols"
    if username.lower() in password.lower():
        return "the password must not contain the username"
    return None


def hash_password(password: str) -> str:
    """An Argon2 hash of ``password``."""
    return _HASHER.hash(password)


def user_json(user: User) -> dict[str, Any]:
    """A user as JSON (never the password hash)."""
    return {
        "id": user.id,
        "username": user.username,
        "full_name": user.full_name,
        "role": user.role,
        "active": user.active,
        "locked_until": user.locked_until.isoformat() if user.locked_until else None,
    }


def create_user(
    session: Session, ctx: ServiceContext, data: UserCreate | dict[str, Any]
) -> dict[str, Any]:
    """Create a user with a strong password."""
    require(ctx.actor, "users.manage")
    body: UserCreate = validate(UserCreate, data)
    problem = password_problem(body.password, body.username)
    if problem:
        raise InvalidInput(problem)
    if repo.find_user(session, body.username) is not None:
        raise Conflict(f"user {body.username!r} already exists")
    user = User(
        username=body.username,
        full_name=body.full_name,
        role=body.role,
        password_hash=hash_password(body.password),
    )
    session.add(user)
    session.flush()
    audit.record(session, ctx, "create", "User", user.id)
    return user_json(user)


def _user(session: Session, username: str) -> User:
    user = repo.find_user(session, username)
    if user is None:
        raise NotFound(f"user {username!r} not found")
    return user


def disable_user(session: Session, ctx: ServiceContext, username: str) -> dict[str, Any]:
    """Disable a user and revoke every token and session they hold."""
    require(ctx.actor, "users.manage")
    user = _user(session, username)
    user.active = False
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=ctx.now)
    )
    audit.record(session, ctx, "disable", "User", user.id)
    return user_json(user)


def reset_password(
    session: Session, ctx: ServiceContext, username: str, password: str
) -> dict[str, Any]:
    """Set a new password, clear any lock-out and revoke the user's tokens."""
    require(ctx.actor, "users.manage")
    user = _user(session, username)
    problem = password_problem(password, user.username)
    if problem:
        raise InvalidInput(problem)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=ctx.now)
    )
    audit.record(session, ctx, "reset-password", "User", user.id)
    return user_json(user)


def list_users(session: Session, ctx: ServiceContext) -> list[dict[str, Any]]:
    """Every user."""
    require(ctx.actor, "users.manage")
    return [user_json(u) for u in repo.list_users(session)]


# ----------------------------------------------------------------------------- sign-in


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token handed to a client once (only its hash is stored)."""

    token: str
    kind: Literal["bearer", "session"]
    expires_at: datetime
    csrf_token: str | None
    actor: Actor


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    """Stored timestamps come back naive from SQLite: they are UTC."""
    from datetime import UTC

    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def sign_in(
    session: Session,
    settings: Settings,
    kb: KnowledgeBase,
    now: datetime,
    username: str,
    password: str,
    client_address: str,
    kind: Literal["bearer", "session"] = "bearer",
) -> IssuedToken:
    """Check a password and issue a token; lock out after repeated failures.

    Failures raise :class:`NotAuthenticated` with the same message whether the user exists
    or not. Too many attempts from one address raise :class:`TooManyAttempts`.
    """
    window = now - timedelta(minutes=1)
    recent = (
        session.scalar(
            select(func.count())
            .select_from(SigninAttempt)
            .where(SigninAttempt.client_address == client_address, SigninAttempt.at >= window)
        )
        or 0
    )
    if recent >= settings.signin_per_minute:
        raise TooManyAttempts("too many sign-in attempts; wait a minute and try again")
    attempt = SigninAttempt(client_address=client_address, at=now, success=False)
    session.add(attempt)
    ctx = ServiceContext(kb, Actor(None, username[:80], "viewer"), now.date(), now, client_address)
    user = repo.find_user(session, username)
    if user is None or not user.active:
        _HASHER.hash(password)  # same work whether or not the user exists
        audit.record(session, ctx, "signin", "User", None, "failure")
        raise NotAuthenticated("wrong username or password")
    if user.locked_until is not None and _aware(user.locked_until) > now:
        audit.record(session, ctx, "signin", "User", user.id, "locked")
        raise NotAuthenticated("the account is locked after repeated failures; try again later")
    try:
        _HASHER.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= settings.lockout_attempts:
            user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
            user.failed_logins = 0
        audit.record(session, ctx, "signin", "User", user.id, "failure")
        raise NotAuthenticated("wrong username or password") from None
    user.failed_logins = 0
    user.locked_until = None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    attempt.success = True
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24) if kind == "session" else None
    hours = settings.session_hours if kind == "session" else settings.token_hours
    expires = now + timedelta(hours=hours)
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=_digest(token),
            kind=kind,
            csrf_token=csrf,
            created_at=now,
            expires_at=expires,
        )
    )
    actor = Actor(user.id, user.username, user.role)  # type: ignore[arg-type]
    audit.record(
        session,
        ServiceContext(ctx.kb, actor, now.date(), now, client_address),
        "signin",
        "User",
        user.id,
    )
    return IssuedToken(token, kind, expires, csrf, actor)


@dataclass(frozen=True, slots=True)
class Authenticated:
    """The actor behind a valid token."""

    actor: Actor
    token_id: int
    kind: str
    csrf_token: str | None


def authenticate(
    session: Session, token: str, now: datetime, kind: str | None = None
) -> Authenticated:
    """Resolve a token to its user; expired, revoked or unknown tokens are refused."""
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
    if (
        row is None
        or row.revoked_at is not None
        or _aware(row.expires_at) <= now
        or (kind and row.kind != kind)
    ):
        raise NotAuthenticated("sign in again: the token is missing, expired or revoked")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise NotAuthenticated("sign in again: the account is disabled")
    if user.role not in ROLES:
        raise PermissionDenied("unknown role")
    return Authenticated(Actor(user.id, user.username, user.role), row.id, row.kind, row.csrf_token)  # type: ignore[arg-type]


def revoke(session: Session, ctx: ServiceContext, token_id: int) -> None:
    """Revoke a token or session (its owner, or an admin)."""
    row = repo.get_or_raise(session, ApiToken, token_id, "token")
    if row.user_id != ctx.actor.user_id:
        require(ctx.actor, "users.manage")
    row.revoked_at = ctx.now
    audit.record(session, ctx, "revoke", "ApiToken", row.id)


def active_tokens(session: Session, ctx: ServiceContext, username: str) -> Sequence[dict[str, Any]]:
    """A user's live tokens and sessions (admin)."""
    require(ctx.actor, "users.manage")
    user = _user(session, username)
    rows = session.scalars(
        select(ApiToken).where(
            ApiToken.user_id == user.id,
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > ctx.now,
        )
    ).all()
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "created_at": r.created_at.isoformat(),
            "expires_at": r.expires_at.isoformat(),
        }
        for r in rows
    ]


#: Sign-ins of the demo clinic (never use these outside a demo).
DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    ("demo.admin", "Demo Administrator", "admin", "Infuse-Admin-2026!"),
    ("demo.nurse", "Demo Infusion Nurse", "nurse", "Infuse-Nurse-2026!"),
    ("demo.prescriber", "Demo Neurologist", "prescriber", "Infuse-Prescriber-2026!"),
    ("demo.pharmacist", "Demo Pharmacist", "pharmacist", "Infuse-Pharmacist-2026!"),
    ("demo.scheduler", "Demo Scheduler", "scheduler", "Infuse-Scheduler-2026!"),
    ("demo.viewer", "Demo Viewer", "viewer", "Infuse-Viewer-2026!"),
)


def ensure_demo_users(session: Session, ctx: ServiceContext) -> list[tuple[str, str, str]]:
    """Create the demo sign-ins that do not exist yet; returns (username, role, password)."""
    created = []
    for username, full_name, role, password in DEMO_USERS:
        if repo.find_user(session, username) is None:
            create_user(
                session,
                ctx,
                {"username": username, "full_name": full_name, "role": role, "password": password},
            )
        created.append((username, role, password))
    return created
