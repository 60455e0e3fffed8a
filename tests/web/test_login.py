"""The login form of a token-protected server: shown to browsers, a wrong token refused slowly, the right
one sets the cookie the API then accepts alone, and a cross-origin login refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from photocull.config import Settings, WebSettings  # noqa: E402
from photocull.web import security  # noqa: E402
from photocull.web.app import create_app  # noqa: E402
from tests.web.test_uploads import new_library  # noqa: E402

TOKEN = "s3cret-token"
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture()
def app(tmp_path: Path):
    app = create_app(new_library(tmp_path / "library"), Settings(web=WebSettings(host="0.0.0.0", token=TOKEN)))
    yield app
    if app.state.jobs is not None:
        app.state.jobs.shutdown()


@pytest.fixture()
def client(app) -> TestClient:
    return TestClient(app, base_url="http://photos.lan:8765")


def test_a_browser_without_the_cookie_is_sent_to_the_login_form(client: TestClient):
    for page in ("/", "/docs"):
        response = client.get(page, headers=HTML, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login", page
    form = client.get("/login", headers=HTML)
    assert form.status_code == 200 and form.headers["content-type"].startswith("text/html")
    assert '<form method="post" action="/login">' in form.text and 'name="token"' in form.text
    assert "<script" not in form.text  # no JS needed
    assert form.headers["cache-control"] == "no-store" and form.headers["x-frame-options"] == "DENY"
    # the API and files answer 401 as before, even to a browser
    assert client.get("/api/stats", headers=HTML).status_code == 401
    assert client.get("/api/stats").json()["detail"].startswith("token required")


def test_a_wrong_token_shows_the_form_again_after_a_delay(client: TestClient):
    started = time.monotonic()
    response = client.post("/login", content="token=guess", headers=FORM, follow_redirects=False)
    assert time.monotonic() - started >= security.LOGIN_DELAY * 0.9
    assert response.status_code == 401 and "wrong token" in response.text and 'name="token"' in response.text
    assert "photocull_token" not in response.cookies and "photocull_token" not in client.cookies
    assert client.get("/api/stats").status_code == 401
    assert client.post("/login", content=b"token=" + b"x" * 5000, headers=FORM).status_code == 400


def test_the_right_token_sets_the_cookie_that_the_api_then_accepts(client: TestClient):
    response = client.post("/login", content=f"token={TOKEN}", headers={**FORM, **HTML,
                           "Origin": "http://photos.lan:8765"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert f"photocull_token={TOKEN}" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    stats = client.get("/api/stats")  # the cookie alone, no Authorization header
    assert stats.status_code == 200 and stats.json()["photos"] == 0
    assert client.get("/", headers=HTML).status_code == 200  # the page itself now
    assert client.get("/login", headers=HTML, follow_redirects=False).headers["location"] == "/"


def test_a_cross_origin_login_is_refused(client: TestClient):
    for origin in ("http://evil.example", "null", "http://photos.lan:9999"):
        response = client.post("/login", content=f"token={TOKEN}", headers={**FORM, "Origin": origin},
                               follow_redirects=False)
        assert response.status_code == 403, origin
        assert "photocull_token" not in response.cookies
    assert client.get("/api/stats").status_code == 401


def test_the_link_form_still_works(client: TestClient):
    assert client.get("/login", params={"token": "wrong"}).status_code == 401
    login = client.get("/login", params={"token": TOKEN}, follow_redirects=False)
    assert login.status_code == 303 and "photocull_token" in login.cookies
    assert client.get("/api/stats").status_code == 200
