"""The demo sign-ins printed by ``make demo`` must pass the password rules they advertise."""

from __future__ import annotations

import pytest

from msinfuse.services.auth import DEMO_USERS, ROLES, password_problem


@pytest.mark.parametrize(("username", "full_name", "role", "password"), DEMO_USERS)
def test_every_demo_password_meets_the_strength_rules(username, full_name, role, password):
    assert full_name.startswith("Demo ")
    assert password_problem(password, username) is None
    assert role in ROLES


def test_there_is_one_demo_sign_in_per_role():
    assert sorted(role for _, _, role, _ in DEMO_USERS) == sorted(ROLES)
