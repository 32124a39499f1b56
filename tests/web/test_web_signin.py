"""Sign-in and sign-out in the browser: session cookie, CSRF, redirects, lock-out message."""

from __future__ import annotations

from msinfuse.http.deps import SESSION_COOKIE
from tests.support import PASSWORD, username
from tests.web.conftest import Web


def test_the_root_opens_the_board_and_asks_an_anonymous_visitor_to_sign_in(sqlite_web: Web):
    assert sqlite_web.get("/", None).headers["location"] == "/board"
    response = sqlite_web.get("/board", None)
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=/board"


def test_signing_in_sets_an_httponly_strict_session_cookie_and_lands_on_the_page_asked_for(
    sqlite_web: Web,
):
    response = sqlite_web.post(
        "/signin",
        None,
        {"username": username("nurse"), "password": PASSWORD, "next": "/patients"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/patients"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    token = response.cookies[SESSION_COOKIE]
    sqlite_web.client.cookies.set(SESSION_COOKIE, token)
    assert sqlite_web.client.get("/patients").status_code == 200


def test_a_wrong_password_keeps_the_username_and_says_why(sqlite_web: Web):
    response = sqlite_web.post(
        "/signin", None, {"username": username("nurse"), "password": "wrong-password-1A"}
    )
    assert response.status_code == 401
    assert "wrong username or password" in response.text
    assert f'value="{username("nurse")}"' in response.text
    assert "wrong-password-1A" not in response.text


def test_sign_in_never_redirects_to_another_site(sqlite_web: Web):
    response = sqlite_web.post(
        "/signin",
        None,
        {"username": username("viewer"), "password": PASSWORD, "next": "//evil.example/x"},
    )
    assert response.headers["location"] == "/board"


def test_signing_out_revokes_the_session_on_the_server(sqlite_web: Web):
    response = sqlite_web.post("/signout", "viewer")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?notice=signed-out"
    assert sqlite_web.get("/board", "viewer").status_code == 303  # the old cookie is dead


def test_a_change_without_the_csrf_token_is_refused(sqlite_web: Web):
    response = sqlite_web.post("/signout", "viewer", csrf=False)
    assert response.status_code == 403
    assert "CSRF" in response.text


def test_pages_carry_a_strict_content_security_policy_without_inline_script(sqlite_web: Web):
    policy = sqlite_web.get("/board").headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert (
        "unsafe-inline"
        in sqlite_web.client.get("/api/v1/health").headers["content-security-policy"]
    )  # the API's own docs pages need it; the web pages do not


def test_every_asset_is_served_by_msinfuse_itself(sqlite_web: Web):
    page = sqlite_web.page("/board")
    for asset in ("/static/htmx.min.js", "/static/app.js", "/static/app.css"):
        assert f'"{asset}"' in page
        assert sqlite_web.get(asset, None).status_code == 200
    assert "http://" not in page.replace("http://www.w3.org", "")
    assert "https://" not in page
    notice = sqlite_web.get("/static/htmx.LICENSE.txt", None).text
    assert "Zero-Clause BSD" in notice
