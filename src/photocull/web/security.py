"""The web app's security model (docs/web.md).

- Loopback by default. Bound to any other address, the app refuses to start
  without a token (:func:`check_binding`).
- A token, when set, is required on every request: ``Authorization: Bearer T``
  or the ``photocull_token`` cookie (HttpOnly, SameSite=Strict) that the login
  form sets (``GET /login`` shows it, ``POST /login`` checks the field
  ``token``; a wrong one costs :data:`LOGIN_DELAY`) or ``GET /login?token=T``.
  A browser asking for a page without it is sent to the form.
- ``POST /login`` is the one state-changing request without the token and the
  custom header (a plain form cannot send one): its ``Origin``, when present,
  must be this server's own, and the cookie it sets is SameSite=Strict.
- CSRF: a state-changing request (POST, PUT, PATCH, DELETE) must carry the
  custom header ``X-Photocull: 1``, which a cross-site form or image cannot
  send without a CORS preflight this app never grants, and its ``Origin``,
  when present, must be this server's own.
- Files are served by content hash only (:data:`CONTENT_HASH`), never by path.
- Without a token (loopback only), a request must name a loopback host in its
  ``Host`` header: a web page whose domain an attacker points at 127.0.0.1
  (DNS rebinding) would otherwise read the library from the user's browser.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from html import escape
from urllib.parse import parse_qs, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.middleware.base import BaseHTTPMiddleware

CONTENT_HASH = r"^[0-9a-f]{64}$"
COOKIE = "photocull_token"
CSRF_HEADER = "x-photocull"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOGIN_DELAY = 1.0  # seconds a wrong token waits, whatever it was: guessing stays slow
LOGIN_BODY_LIMIT = 4096  # bytes of a login form's body
API_PREFIXES = ("/api/", "/uploads", "/openapi.json")  # answered 401, never sent to the login form


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None) -> None:
    """Refuse a non-loopback address without a token (anyone on the network could cull the library)."""
    if not is_loopback(host) and not token:
        raise ValueError(f"refusing to listen on {host} without a token: anyone who can reach it could change "
                         "your decisions; set --token (or web.token), or listen on 127.0.0.1")


def token_required(host: str, token: str | None) -> bool:
    return bool(token) or not is_loopback(host)


class Guard(BaseHTTPMiddleware):
    """Token and CSRF checks before any route runs."""

    def __init__(self, app, token: str | None, required: bool):
        super().__init__(app)
        self.token = token or ""
        self.required = required

    async def dispatch(self, request: Request, call_next) -> Response:
        if not self.required and not is_loopback(host_name(request.headers.get("host", ""))):
            return JSONResponse({"detail": "this server answers only to a loopback host name (127.0.0.1, "
                                 "localhost); run it with a token to reach it by another name"}, status_code=421)
        if self.required:
            if request.url.path == "/login":
                return await self._login(request)
            if not self._authorised(request):
                if wants_page(request):
                    return RedirectResponse("/login", status_code=303, headers={"Cache-Control": "no-store"})
                return JSONResponse({"detail": "token required (Authorization: Bearer, or log in at /login)"},
                                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if request.method in UNSAFE_METHODS:
            problem = csrf_problem(request)
            if problem:
                return JSONResponse({"detail": problem}, status_code=403)
        return await call_next(request)

    async def _login(self, request: Request) -> Response:
        """The login form (GET), its check (POST), or the link form ``GET /login?token=T``."""
        if request.method == "POST":
            origin = request.headers.get("origin")
            host = request.headers.get("host", "")
            cross = origin is not None and (origin == "null" or urlsplit(origin).netloc != host)
            if cross or request.headers.get("sec-fetch-site") == "cross-site":
                return JSONResponse({"detail": f"cross-origin login refused (Origin {origin})"}, status_code=403)
            form = await _form(request)
            if form is None:
                return login_page("the form was too large or not a form", 400)
            given = (form.get("token") or [""])[0]
            if not self._matches(given):
                await asyncio.sleep(LOGIN_DELAY)
                return login_page("wrong token", 401)
            return _logged_in(given)
        if request.method not in ("GET", "HEAD"):
            return JSONResponse({"detail": "method not allowed"}, status_code=405, headers={"Allow": "GET, POST"})
        if "token" in request.query_params:
            given = request.query_params["token"]
            if not self._matches(given):
                return JSONResponse({"detail": "wrong token"}, status_code=401)
            return _logged_in(given)
        if self._authorised(request):
            return RedirectResponse("/", status_code=303)
        return login_page()

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer ") and self._matches(header[7:].strip()):
            return True
        return self._matches(request.cookies.get(COOKIE, ""))

    def _matches(self, given: str) -> bool:
        return bool(self.token) and hmac.compare_digest(given.encode(), self.token.encode())


def wants_page(request: Request) -> bool:
    """A browser navigating to a page (GET, HTML accepted), rather than the API or a file."""
    return (request.method in ("GET", "HEAD") and "text/html" in request.headers.get("accept", "")
            and not request.url.path.startswith(API_PREFIXES))


async def _form(request: Request) -> dict[str, list[str]] | None:
    """The urlencoded body's fields (no python-multipart needed), or None when too large or not UTF-8."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > LOGIN_BODY_LIMIT:
            return None
    try:
        return parse_qs(body.decode(), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return None


def _logged_in(token: str) -> Response:
    response = RedirectResponse("/", status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
    return response


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>photocull: log in</title>
<style>
body {{ font: 16px system-ui, sans-serif; background: #16181c; color: #e8e8e8; display: grid;
       place-items: center; min-height: 100vh; margin: 0; }}
form {{ display: grid; gap: .75rem; width: min(20rem, 90vw); }}
input, button {{ font: inherit; padding: .5rem; border-radius: 4px; border: 1px solid #555; }}
button {{ background: #3b6fd8; color: #fff; border: 0; cursor: pointer; }}
.error {{ color: #ff8a80; margin: 0; }}
</style></head>
<body><form method="post" action="/login">
<h1>photocull</h1>
{error}<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form></body></html>
"""


def login_page(error: str = "", status: int = 200) -> HTMLResponse:
    """The login form, with ``error`` above it (our own constant texts, escaped all the same)."""
    shown = f'<p class="error" role="alert">{escape(error)}</p>\n' if error else ""
    return HTMLResponse(LOGIN_PAGE.format(error=shown), status_code=status,
                        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                 "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                 "form-action 'self'; frame-ancestors 'none'"})


def host_name(host_header: str) -> str:
    """The host name of a ``Host`` header, without its port ("[::1]:8765" -> "::1")."""
    return urlsplit(f"//{host_header}").hostname or ""


def csrf_problem(request: Request) -> str | None:
    """Why a state-changing request is refused as possibly cross-site, or None."""
    if request.headers.get(CSRF_HEADER) != "1":
        return "state-changing requests need the header X-Photocull: 1"
    origin = request.headers.get("origin")
    if origin is not None:
        host = request.headers.get("host", "")
        if origin == "null" or urlsplit(origin).netloc != host:
            return f"cross-origin request refused (Origin {origin})"
    return None
