"""The web app's security model (docs/web.md).

- Loopback by default. Bound to any other address, the app refuses to start
  without a token (:func:`check_binding`).
- A token, when set, is required on every request: ``Authorization: Bearer T``
  or the ``photocull_token`` cookie that ``GET /login?token=T`` sets
  (HttpOnly, SameSite=Strict).
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

import hmac
import ipaddress
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.middleware.base import BaseHTTPMiddleware

CONTENT_HASH = r"^[0-9a-f]{64}$"
COOKIE = "photocull_token"
CSRF_HEADER = "x-photocull"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


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
                given = request.query_params.get("token", "")
                if not self._matches(given):
                    return JSONResponse({"detail": "wrong token"}, status_code=401)
                response = RedirectResponse("/", status_code=303)
                response.set_cookie(COOKIE, given, httponly=True, samesite="strict")
                return response
            if not self._authorised(request):
                return JSONResponse({"detail": "token required (Authorization: Bearer, or /login?token=)"},
                                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if request.method in UNSAFE_METHODS:
            problem = csrf_problem(request)
            if problem:
                return JSONResponse({"detail": problem}, status_code=403)
        return await call_next(request)

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer ") and self._matches(header[7:].strip()):
            return True
        return self._matches(request.cookies.get(COOKIE, ""))

    def _matches(self, given: str) -> bool:
        return bool(self.token) and hmac.compare_digest(given.encode(), self.token.encode())


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
