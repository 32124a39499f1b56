"""Walk every web page and form as every role and as nobody, and hold the answers to the
authorization matrix (``msinfuse.services.context.PERMISSIONS``) the API uses too.

Nobody signed in is sent to the sign-in page; a role without the page's permission gets a
403 page; a role with it is never refused (and never meets a server error).
"""

from __future__ import annotations

import re

import pytest

from msinfuse.api.app import route_permissions
from msinfuse.services.context import PERMISSIONS, ROLES
from msinfuse.web.routes import ROUTERS
from tests.web.conftest import Web

ROUTES = route_permissions(ROUTERS)
PUBLIC = {("GET", "/"), ("GET", "/favicon.ico"), ("GET", "/signin"), ("POST", "/signin")}
SIGNED_IN_ONLY = {("POST", "/signout")}


def concrete(web: Web, path: str) -> str:
    c = web.clinic
    values = {
        "patient_id": c.diaz,
        "dose_id": c.diaz_dose,
        "agent_id": "natalizumab",
        "username": "nobody-such",
        "kind": "monitoring",
        "appointment_id": c.diaz_appointment,
    }
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), 987654)), path)


def walk_order(route: tuple[str, str, str | None]) -> tuple[bool, str, str]:
    method, path, _ = route
    return (path == "/signout", path, method)  # signing out ends the session: last


def test_every_web_route_is_guarded_by_a_permission_of_the_matrix_or_is_public():
    for method, path, permission in ROUTES:
        if (method, path) in PUBLIC | SIGNED_IN_ONLY:
            continue
        assert permission in PERMISSIONS, f"{method} {path} has no permission"


def test_the_web_uses_the_matrix_for_every_area():
    used = {perm for _, _, perm in ROUTES if perm}
    assert {
        "patients.read",
        "plans.write",
        "checks.run",
        "checks.acknowledge",
        "checks.override",
        "administrations.write",
        "appointments.read",
        "appointments.write",
        "worklists.read",
        "knowledge.read",
        "users.manage",
        "sites.manage",
        "schedule.propose",
        "schedule.accept",
        "shifts.write",
        "feeds.manage",
    } <= used


def test_nobody_signed_in_is_sent_to_sign_in(web: Web):
    for method, path, _ in ROUTES:
        if (method, path) in PUBLIC:
            continue
        url = concrete(web, path)
        response = web.get(url, None) if method == "GET" else web.post(url, None, {})
        assert response.status_code in (303, 403), f"{method} {path}: {response.status_code}"
        if method == "GET":
            assert response.headers["location"].startswith("/signin?next=")


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_what_the_matrix_grants(web: Web, role: str):
    mismatches = []
    for method, path, permission in sorted(ROUTES, key=walk_order):
        if (method, path) in PUBLIC:
            continue
        allowed = permission is None or role in PERMISSIONS[permission]
        url = concrete(web, path)
        response = web.get(url, role) if method == "GET" else web.post(url, role, {})
        status = response.status_code
        assert status < 500, f"{method} {path} failed with {status} for {role}"
        if allowed and status in (401, 403):
            mismatches.append(f"{method} {path}: refused {status} but {permission} allows {role}")
        if not allowed and status != 403:
            mismatches.append(f"{method} {path}: answered {status} but {permission} denies {role}")
        if not allowed:
            assert "Not allowed" in response.text
    assert mismatches == []


@pytest.mark.parametrize("role", ROLES)
def test_navigation_offers_only_what_the_role_may_open(web: Web, role: str):
    page = web.page("/patients", role)
    nav = page.split('<nav aria-label="Main">')[1].split("</nav>")[0]
    assert ('href="/admin/users"' in nav) == (role in PERMISSIONS["users.manage"])
    assert ('href="/admin/sites"' in nav) == (role in PERMISSIONS["sites.manage"])
    patient = web.page(f"/patients/{web.clinic.diaz}", role)
    assert ("Start or change a plan" in patient) == (role in PERMISSIONS["plans.write"])
    assert ("Pre-infusion check</a>" in patient) == (role in PERMISSIONS["checks.run"])
