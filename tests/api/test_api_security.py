"""Sign-in, tokens, sessions with CSRF, security headers, size limits, error bodies, and
privacy of the logs, through the real application."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.api.conftest import API, Api, Template, make_api
from tests.api.test_api_flow import patient
from tests.support import PASSWORD, username

from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.persistence.engine import make_engine, session_factory, session_scope
from msinfuse.services import auth, records


def sign_in(api: Api, user: str, password: str = PASSWORD):
    return api.client.post(API + "/auth/token", data={"username": user, "password": password})


class TestSignIn:
    def test_a_correct_password_gives_a_bearer_token_for_that_user(self, api: Api):
        response = sign_in(api, username("pharmacist"))
        token = api.ok(response)["access_token"]
        me = api.client.get(API + "/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert api.ok(me) == {
            "user_id": me.json()["user_id"],
            "username": "pharmacist1",
            "role": "pharmacist",
        }

    def test_failures_do_not_reveal_whether_the_user_exists(self, api: Api):
        wrong = sign_in(api, username("nurse"), "Not-The-Password-1")
        unknown = sign_in(api, "nobody-here", "Not-The-Password-1")
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()
        assert wrong.headers["www-authenticate"] == "Bearer"

    def test_repeated_failures_lock_the_account_until_the_lockout_ends(self, api: Api):
        for _ in range(api.settings.lockout_attempts):
            assert sign_in(api, username("viewer"), "Wrong-Password-99").status_code == 401
        api.clock.advance(minutes=2)  # outside the per-minute rate window
        locked = sign_in(api, username("viewer"))
        assert locked.status_code == 401
        assert "locked" in locked.json()["detail"]
        api.clock.advance(minutes=api.settings.lockout_minutes)
        assert sign_in(api, username("viewer")).status_code == 200

    def test_sign_in_is_rate_limited_per_client_address(self, api: Api):
        codes = [
            sign_in(api, "nobody", "Wrong-Password-99").status_code
            for _ in range(api.settings.signin_per_minute)
        ]
        assert set(codes) == {401}
        assert sign_in(api, username("nurse")).status_code == 429
        api.clock.advance(minutes=1, seconds=1)
        assert sign_in(api, username("nurse")).status_code == 200

    def test_failed_sign_ins_are_audited_and_survive_the_failed_request(self, api: Api):
        sign_in(api, username("nurse"), "Wrong-Password-99")
        events = api.ok(api.get("/audit", "admin", params={"since": "2026-11-01", "limit": 1000}))[
            "items"
        ]
        assert any(e["action"] == "signin" and e["outcome"] == "failure" for e in events)


class TestTokens:
    def test_a_revoked_token_is_refused(self, api: Api):
        token = api.ok(sign_in(api, username("nurse")))["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert api.client.post(API + "/auth/revoke", headers=headers).status_code == 204
        assert api.client.get(API + "/auth/me", headers=headers).status_code == 401

    def test_a_token_expires(self, api: Api):
        token = api.ok(sign_in(api, username("nurse")))["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        api.clock.advance(hours=api.settings.token_hours - 0.1)
        assert api.client.get(API + "/auth/me", headers=headers).status_code == 200
        api.clock.advance(hours=0.2)
        assert api.client.get(API + "/auth/me", headers=headers).status_code == 401

    def test_disabling_a_user_ends_their_access_at_once(self, api: Api):
        assert api.get("/patients", "scheduler").status_code == 200
        api.ok(api.post(f"/users/{username('scheduler')}/disable", "admin"))
        assert api.get("/patients", "scheduler").status_code == 401
        assert sign_in(api, username("scheduler")).status_code == 401

    def test_a_password_reset_revokes_tokens_and_requires_strength(self, api: Api):
        weak = api.post(
            f"/users/{username('pharmacist')}/reset-password", "admin", json={"password": "short"}
        )
        assert weak.status_code in {400, 422}
        api.ok(
            api.post(
                f"/users/{username('pharmacist')}/reset-password",
                "admin",
                json={"password": "A-New-Strong-Pass-7"},
            )
        )
        assert api.get("/patients", "pharmacist").status_code == 401
        assert sign_in(api, username("pharmacist"), "A-New-Strong-Pass-7").status_code == 200

    @pytest.mark.parametrize(
        ("password", "problem"),
        [
            ("Short-1a", "12 characters"),
            ("alllowercaseletters", "three of"),
            ("Newuser1-newuser1-X", "username"),
        ],
    )
    def test_weak_passwords_are_refused_with_the_reason(self, api: Api, password, problem):
        response = api.post(
            "/users",
            "admin",
            json={
                "username": "newuser1",
                "full_name": "New User",
                "role": "nurse",
                "password": password,
            },
        )
        assert response.status_code == 400
        assert problem in response.json()["detail"]
        assert password not in response.text


class TestBrowserSessions:
    @pytest.fixture
    def session_cookie(self, api: Api) -> Iterator[auth.IssuedToken]:
        engine = make_engine(api.url)
        with session_scope(session_factory(engine)) as session:
            issued = auth.sign_in(
                session,
                api.settings,
                default_knowledge_base(),
                api.clock(),
                username("nurse"),
                PASSWORD,
                "browser",
                "session",
            )
        engine.dispose()
        api.client.cookies.set("msinfuse_session", issued.token)
        yield issued
        api.client.cookies.clear()

    def test_a_change_without_the_csrf_token_is_refused(
        self, api: Api, session_cookie: auth.IssuedToken
    ):
        body = {
            "mrn": "C1",
            "given_name": "Ana",
            "family_name": "Diaz",
            "birth_date": "1985-02-01",
            "sex": "female",
        }
        assert api.client.get(API + "/auth/me").status_code == 200  # reads need no token
        refused = api.client.post(API + "/patients", json=body)
        assert refused.status_code == 403
        wrong = api.client.post(API + "/patients", json=body, headers={"X-CSRF-Token": "guess"})
        assert wrong.status_code == 403
        ok = api.client.post(
            API + "/patients", json=body, headers={"X-CSRF-Token": session_cookie.csrf_token or ""}
        )
        assert ok.status_code == 201

    def test_a_session_cannot_be_used_as_a_bearer_token(
        self, api: Api, session_cookie: auth.IssuedToken
    ):
        api.client.cookies.clear()
        response = api.client.get(
            API + "/auth/me", headers={"Authorization": f"Bearer {session_cookie.token}"}
        )
        assert response.status_code == 401


class TestHttpLayer:
    @pytest.mark.parametrize(
        ("path", "role", "status"),
        [("/health", None, 200), ("/patients", None, 401), ("/patients/424242", "nurse", 404)],
    )
    def test_every_response_carries_the_security_headers(self, sqlite_api: Api, path, role, status):
        response = sqlite_api.get(path, role)
        assert response.status_code == status
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["cache-control"] == "no-store"
        assert len(headers["x-request-id"]) >= 8

    def test_a_plain_request_id_is_kept_and_anything_else_replaced(self, sqlite_api: Api):
        kept = sqlite_api.client.get(API + "/health", headers={"X-Request-Id": "abc-123"})
        assert kept.headers["x-request-id"] == "abc-123"
        replaced = sqlite_api.client.get(API + "/health", headers={"X-Request-Id": "a b\nforged"})
        assert replaced.headers["x-request-id"] != "a b\nforged"

    def test_an_oversized_body_is_refused_with_413(
        self, sqlite_api_template: Template, tmp_path: Path
    ):
        import shutil

        target = tmp_path / "small.sqlite3"
        shutil.copy(sqlite_api_template.url.removeprefix("sqlite:///"), target)
        for small in make_api(
            f"sqlite:///{target}", sqlite_api_template.tokens, "sqlite", max_body_bytes=2048
        ):
            response = small.post("/patients", json={"mrn": "x" * 5000})
            assert response.status_code == 413
            assert response.json()["error"] == "PayloadTooLarge"
            assert response.headers["x-content-type-options"] == "nosniff"

    def test_an_unexpected_error_is_a_500_with_a_request_id_and_no_detail(
        self, sqlite_api: Api, monkeypatch: pytest.MonkeyPatch
    ):
        def broken(*_args: object, **_kw: object) -> None:
            raise RuntimeError("internal detail about Diaz")

        monkeypatch.setattr(records, "get_patient", broken)
        response = sqlite_api.get("/patients/1")
        assert response.status_code == 500
        body = response.json()
        assert body == {
            "error": "InternalServerError",
            "detail": "an unexpected error occurred",
            "request_id": response.headers["x-request-id"],
        }
        assert "Diaz" not in response.text

    def test_a_write_is_acknowledged_only_after_its_commit(
        self, sqlite_api: Api, monkeypatch: pytest.MonkeyPatch
    ):
        from sqlalchemy.orm import Session

        def failing_commit(self: Session) -> None:  # noqa: ARG001 - replaces a method
            raise RuntimeError("the disk is full")

        body = {"mrn": "C9", "given_name": "Ana", "family_name": "Diaz", "sex": "female"}
        with monkeypatch.context() as patch:
            patch.setattr(Session, "commit", failing_commit)
            response = sqlite_api.post("/patients", json=body)
        assert response.status_code == 500  # never a 201 for a write that was not stored
        assert sqlite_api.ok(sqlite_api.get("/patients"))["total"] == 0

    def test_logs_name_route_templates_never_record_ids_or_names(self, sqlite_api: Api):
        seen: list[str] = []
        handler = logging.Handler(logging.DEBUG)
        handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
        logger = logging.getLogger("msinfuse")
        level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            pid = patient(sqlite_api, "MRN-77123", "Quennell")
            sqlite_api.get(f"/patients/{pid}")
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
        text = "\n".join(seen)
        assert "GET /patients/{patient_id} -> 200" in text
        assert "Quennell" not in text
        assert "MRN-77123" not in text
        assert f"/patients/{pid} " not in text

    def test_openapi_and_docs_are_served_without_a_cdn(self, sqlite_api: Api):
        schema = sqlite_api.ok(sqlite_api.client.get(API + "/openapi.json"))
        assert "/patients/{patient_id}/checks" in schema["paths"]
        docs = sqlite_api.client.get(API + "/docs")
        assert docs.status_code == 200
        assert "cdn." not in docs.text
        assert "unpkg" not in docs.text
        assert "/static" in docs.text or "static-offline-docs" in docs.text


class TestAudit:
    def test_reading_a_patient_writes_an_audit_event_with_the_client(self, api: Api):
        pid = patient(api)
        api.ok(api.get(f"/patients/{pid}", "viewer"))
        events = api.ok(api.get("/audit", "admin", params={"since": "2026-11-01", "limit": 1000}))[
            "items"
        ]
        reads = [
            e
            for e in events
            if e["action"] == "read"
            and e["resource_type"] == "Patient"
            and e["resource_id"] == str(pid)
        ]
        assert reads
        assert reads[-1]["username"] == username("viewer")
        assert reads[-1]["client_address"] == "testclient"
        assert reads[-1]["outcome"] == "success"

    def test_the_api_offers_no_way_to_change_or_delete_audit_events(self, api: Api):
        from msinfuse.api.app import route_permissions

        audit_routes = [(m, p) for m, p, _ in route_permissions() if p.startswith("/audit")]
        assert audit_routes == [("GET", "/audit")]
        assert api.client.delete(API + "/audit", headers=api.headers("admin")).status_code == 405
