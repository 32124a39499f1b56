"""Property-based tests of the API against its own OpenAPI document (Schemathesis), with a
bounded number of examples per operation: no 5xx, every response matches its declared
schema, status and content type, for a signed-in client and for an anonymous one."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.api.conftest import API, Clock, _seed

from msinfuse.app import create_app
from msinfuse.config import Settings
from msinfuse.persistence.migrate import upgrade

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
EXAMPLES = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


# The application is built at import (Schemathesis reads its OpenAPI document while collecting);
# its database is created and seeded by the fixture below before the first request.
_DIR = Path(tempfile.mkdtemp(prefix="msinfuse-fuzz-"))
_URL = f"sqlite:///{_DIR / 'fuzz.sqlite3'}"
APP = create_app(Settings(database_url=_URL, log_level="WARNING"), Clock())
schema = (
    schemathesis.openapi.from_asgi(f"{API}/openapi.json", APP)
    # Random credentials on the sign-in route would only lock the client out (the lock-out
    # and rate limit have their own tests); revoking would end the fuzzing client's token.
    .exclude(path="/auth/token")
    .exclude(path="/auth/revoke")
)


@pytest.fixture(scope="module")
def tokens() -> Iterator[dict[str, str]]:
    upgrade(_URL)
    yield _seed(_URL)
    APP.app.state.runtime.engine.dispose()  # type: ignore[attr-defined]
    shutil.rmtree(_DIR, ignore_errors=True)


@schema.parametrize()
@EXAMPLES
def test_signed_in_requests_never_fail_and_match_the_schema(
    case: Any, tokens: dict[str, str]
) -> None:
    token = tokens["admin"]
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


@schema.parametrize()
@EXAMPLES
@pytest.mark.usefixtures("tokens")
def test_anonymous_requests_never_fail_and_match_the_schema(case: Any) -> None:
    response = case.call_and_validate(checks=CHECKS)
    if case.path not in {"/health", "/openapi.json"}:
        # Nothing is ever served: a well-formed request is refused with 401; a malformed one
        # (unreadable body, unknown path, wrong method) is rejected before sign-in is checked.
        assert 400 <= response.status_code < 500
        assert response.status_code != 403
