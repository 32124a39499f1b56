"""Security headers, request-size limit, request ids and privacy-safe access logs."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("msinfuse.http")
# A caller's own request id is kept only when it is short and plain (it goes into the logs).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cache-control", b"no-store"),
]

CSP = b"content-security-policy"
#: The API's pages (its offline OpenAPI docs) need inline script and style.
API_CSP = (
    b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    b"script-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'"
)
#: Everything else (the web UI): scripts and styles only from msinfuse's own files, no
#: inline script or style. A response may set a stricter policy of its own (it is kept).
WEB_CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; form-action 'self'; object-src 'none'; frame-ancestors 'none'; "
    b"base-uri 'self'"
)


def csp_for(path: str) -> bytes:
    """The content security policy of a path."""
    return API_CSP if path.startswith("/api/") else WEB_CSP


_REPLACED = {k for k, _ in SECURITY_HEADERS} | {CSP}


class BodyTooLarge(Exception):
    """The request body is over the limit."""


class SecurityMiddleware:
    """Adds security headers and a request id to every response, refuses oversized bodies
    (413), and logs one line per request naming the route template (never the raw path,
    which can carry record ids), the status and the time."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = _header(scope, b"x-request-id") or ""
        request_id = offered if _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _too_large(send, request_id)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        status = 500
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                own_csp = [h for h in message.get("headers", []) if h[0].lower() == CSP]
                headers = [h for h in message.get("headers", []) if h[0].lower() not in _REPLACED]
                headers.extend(SECURITY_HEADERS)
                headers.extend(own_csp[:1] or [(CSP, csp_for(str(scope.get("path", ""))))])
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge:
            await _too_large(send, request_id)
            status = 413
        finally:
            route = scope.get("route")
            template = (
                getattr(route, "path_format", None) or getattr(route, "path", None) or "(unmatched)"
            )
            log.info(
                "%s %s -> %s in %.1f ms [request %s]",
                scope.get("method"),
                template,
                status,
                (time.perf_counter() - started) * 1000,
                request_id,
            )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


async def _too_large(send: Send, request_id: str) -> None:
    body = b'{"error":"PayloadTooLarge","detail":"the request body is too large"}'
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    headers.extend(SECURITY_HEADERS)
    headers.append((CSP, WEB_CSP))
    headers.append((b"x-request-id", request_id.encode()))
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
