"""Walk every API route as every role and as nobody, and hold the answers to the written
authorization matrix (``msinfuse.services.context.PERMISSIONS``, printed in docs/security.md).

Anonymous callers get 401 everywhere but the public routes; a role without the route's
permission gets 403; a role with it is never refused (whatever else the placeholder request
earns: 200, 404, 422...).
"""

from __future__ import annotations

import re

import pytest
from tests.api.conftest import API, Api
from tests.support import PASSWORD, username

from msinfuse.api.app import PUBLIC_PATHS, route_permissions
from msinfuse.services.context import PERMISSIONS, ROLES

PLACEHOLDERS = {"agent": "natalizumab", "username": "nobody-such"}
ROUTES = route_permissions()


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PLACEHOLDERS.get(m.group(1), "987654"), path)


def walk_order(route: tuple[str, str, str | None]) -> tuple[bool, str, str]:
    method, path, _ = route
    return (path == "/auth/revoke", path, method)  # revoking our own token goes last


def call(api: Api, method: str, path: str, role: str | None):
    kwargs = {"json": {}} if method in {"POST", "PATCH", "PUT"} else {}
    if path == "/auth/token":
        kwargs = {"data": {"username": username("viewer"), "password": PASSWORD}}
    return api.client.request(method, API + concrete(path), headers=api.headers(role), **kwargs)


def test_every_permission_of_the_matrix_guards_at_least_one_route():
    used = {perm for _, _, perm in ROUTES if perm}
    api_permissions = {p for p in PERMISSIONS if not p.startswith(("fhir.", "schedule."))}
    assert api_permissions <= used


def test_routes_without_a_permission_are_public_or_about_the_callers_own_sign_in():
    bare = {path for _, path, perm in ROUTES if perm is None}
    assert bare <= PUBLIC_PATHS | {"/auth/me", "/auth/revoke"}


def test_nobody_signed_in_reaches_only_the_public_routes(api: Api):
    for method, path, _ in sorted(ROUTES, key=walk_order):
        status = call(api, method, path, None).status_code
        if path in PUBLIC_PATHS:
            assert status != 401, f"{method} {path} should be public"
        else:
            assert status == 401, f"{method} {path} answered {status} without sign-in"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_what_the_matrix_grants(api: Api, role: str):
    mismatches = []
    for method, path, permission in sorted(ROUTES, key=walk_order):
        if path == "/auth/token":
            continue
        allowed = permission is None or role in PERMISSIONS[permission]
        status = call(api, method, path, role).status_code
        if allowed and status in {401, 403}:
            mismatches.append(f"{method} {path}: refused {status} but {permission} allows {role}")
        if not allowed and status != 403:
            mismatches.append(f"{method} {path}: answered {status} but {permission} denies {role}")
        assert status < 500, f"{method} {path} failed with {status} for {role}"
    assert mismatches == []
