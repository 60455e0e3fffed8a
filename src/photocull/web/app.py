"""``create_app``: the review web app for one catalog (docs/web.md)."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from photocull import __version__
from photocull.config import Settings
from photocull.web.api import router
from photocull.web.export_api import router as export_router
from photocull.web.index import GalleryIndex
from photocull.web.jobs import install_jobs, router as jobs_router
from photocull.web.people_api import router as people_router
from photocull.web.security import Guard, check_binding, token_required
from photocull.web.uploads import UploadStore, router as uploads_router


def create_app(catalog_path: Path, settings: Settings) -> FastAPI:
    """The app serving ``catalog_path``. Scores every photo once, now (a few seconds at 100,000 photos).

    Raises ValueError when ``settings.web`` binds a non-loopback address without a token.
    """
    web = settings.web
    check_binding(web.host, web.token)
    app = FastAPI(title="photocull", version=__version__,
                  description="Review a culled library: gallery, groups, decisions, previews. See docs/web.md.")
    app.state.settings = settings
    app.state.catalog_path = Path(catalog_path).resolve()
    app.state.index = GalleryIndex(app.state.catalog_path, settings)
    app.state.previews = app.state.catalog_path.parent / "previews"
    app.add_middleware(Guard, token=web.token, required=token_required(web.host, web.token))
    app.include_router(router)
    app.state.uploads = UploadStore(app.state.catalog_path.parent / "uploads", web.max_upload_bytes)
    install_jobs(app, reload=lambda: reload_index(app))  # scan jobs; cancelled when the server stops
    app.include_router(uploads_router)
    app.include_router(jobs_router)
    app.include_router(people_router)
    app.include_router(export_router)
    app.add_api_route("/api/reload", reload_gallery, methods=["POST"], tags=["gallery"])
    app.add_api_route("/", index_page, methods=["GET"], response_class=FileResponse, include_in_schema=False)
    app.mount("/static", _Static(directory=STATIC), name="static")
    return app


_RELOAD_LOCK = threading.Lock()


def reload_index(app: FastAPI) -> GalleryIndex:
    """Rebuild the in-memory gallery (scores, groups, people) after a scan or cull, and swap it in:
    requests keep the old one until the new one is whole; the old one's connection is then closed.
    One rebuild at a time (each scores every photo)."""
    with _RELOAD_LOCK:
        fresh = GalleryIndex(app.state.catalog_path, app.state.settings)
        old, app.state.index = app.state.index, fresh
        old.close()
    return fresh


def reload_gallery(request: Request) -> dict:
    """Rebuild the gallery from the catalog (scores, groups, people), as after a scan or cull elsewhere."""
    return {"photos": len(reload_index(request.app).entries)}


STATIC = Path(__file__).parent / "static"


class _Static(StaticFiles):
    """The front end's files (docs/web.md): revalidated on every use (ETag / Last-Modified come with
    StaticFiles), so that a new version of the app is picked up at once."""

    def file_response(self, *args, **kwargs) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def index_page() -> FileResponse:
    """The single page of the front end (src/photocull/web/static/index.html); its modules route by hash."""
    return FileResponse(STATIC / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})
