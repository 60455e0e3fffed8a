"""The JSON API and the preview route; each route calls one library function (docs/web.md)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path as PathParam, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from photocull.catalog.decisions import LABELS, UNSET
from photocull.errors import UnreadableFile
from photocull.previews import preview, preview_path
from photocull.web.index import FILTERS, SORTS, GalleryIndex
from photocull.web.security import CONTENT_HASH

PREVIEW_SIZES = (256, 1024)
# Previews missing from the cache are made (a decode) by at most this many threads at a time, so
# that API requests, which share FastAPI's thread pool and the cores, never queue behind them.
PREVIEW_MAKERS = threading.BoundedSemaphore(max(1, (os.cpu_count() or 1) // 2))
router = APIRouter()


class DecisionIn(BaseModel):
    """A decision on one photo (``path``) or several (``paths``): paths as ``GET /api/photos`` gives them.
    A value left out stays as it was; ``null`` clears it."""

    model_config = ConfigDict(extra="forbid")
    path: str | None = None
    paths: list[str] | None = None
    flag: Literal["keep", "reject"] | None = None
    rating: int | None = Field(None, ge=0, le=5)
    label: Literal[LABELS] | None = None  # type: ignore[valid-type]


def _index(request: Request) -> GalleryIndex:
    return request.app.state.index


def _keys(index: GalleryIndex, paths: list[str]) -> list[str]:
    try:
        return index.keys_of(paths)
    except LookupError as exc:
        raise HTTPException(404, str(exc.args[0])) from exc


def _catalog(request: Request):
    """The app's one catalog connection (under its lock), with other processes' decisions loaded."""
    return _index(request).use()


@router.get("/api/photos", tags=["gallery"])
def photos(request: Request, offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=500)] = 100,
           sort: Literal[SORTS] = "score", filter: Literal[FILTERS] | None = None,  # type: ignore[valid-type]
           person: int | None = None, min_rating: Annotated[int | None, Query(ge=0, le=5)] = None) -> dict:
    """A page of photos, sorted (score: best first; time: oldest first; name), filtered, with the total."""
    index = _index(request)
    index.sync()
    return index.page(offset=offset, limit=limit, sort=sort, filter=filter, person=person, min_rating=min_rating)


@router.get("/api/groups", tags=["groups"])
def groups(request: Request, offset: Annotated[int, Query(ge=0)] = 0,
           limit: Annotated[int, Query(ge=1, le=500)] = 50, kind: str | None = None) -> dict:
    """Groups of the last cull, largest first, each with its pick, reason and members."""
    index = _index(request)
    with _catalog(request) as catalog:
        total = catalog.groups.count(kind=kind)
        found = catalog.groups.all(kind=kind, limit=limit, offset=offset)
    return {"total": total, "offset": offset, "limit": limit, "groups": [index.group_row(g) for g in found]}


@router.get("/api/groups/{group_id}", tags=["groups"])
def group(request: Request, group_id: int) -> dict:
    """One group: its pick with the reason, every member ranked with its score, reason and decision."""
    with _catalog(request) as catalog:
        found = catalog.groups.get(group_id)
    if found is None:
        raise HTTPException(404, f"no group {group_id}")
    return _index(request).group_row(found)


@router.post("/api/decisions", tags=["decisions"])
def decide(request: Request, body: DecisionIn) -> dict:
    """Your decision on one photo or several, saved at once (never overwritten by a re-cull)."""
    index = _index(request)
    keys = _keys(index, ([body.path] if body.path else []) + (body.paths or []))
    given = body.model_fields_set
    values = {name: getattr(body, name) if name in given else UNSET for name in ("flag", "rating", "label")}
    if all(v is UNSET for v in values.values()):
        raise HTTPException(422, "give at least one of flag, rating, label")
    with _catalog(request) as catalog:
        for key in keys:
            catalog.decisions.set_user(catalog.resolve(key), **values, origin="web")
        index.decided(catalog, keys)
    return {"decisions": {index.shown(key): index.decision(key) for key in keys}}


@router.delete("/api/decisions", tags=["decisions"])
def undo(request: Request, path: str) -> dict:
    """Forget your decision on a photo: the automatic one applies again."""
    index = _index(request)
    keys = _keys(index, [path])
    with _catalog(request) as catalog:
        catalog.decisions.clear_user(catalog.resolve(keys[0]))
        index.decided(catalog, keys)
    return {"decisions": {path: index.decision(keys[0])}}


@router.get("/api/stats", tags=["stats"])
def stats(request: Request) -> dict:
    """Photos, kept, rejected, undecided, space the rejects take, agreement with the automatic picks."""
    index = _index(request)
    index.sync()
    return index.stats()


@router.get("/previews/{content_hash}/{size}", tags=["previews"], response_class=Response,
            responses={200: {"content": {"image/webp": {}}}})
async def preview_image(request: Request, content_hash: Annotated[str, PathParam(pattern=CONTENT_HASH)],
                        size: int) -> Response:
    """A photo's WebP preview (long edge 256 or 1024) by content hash, made once and cached."""
    if size not in PREVIEW_SIZES:
        raise HTTPException(404, f"size must be one of {PREVIEW_SIZES}")
    entry = _index(request).by_hash.get(content_hash)
    if entry is None:
        raise HTTPException(404, "unknown photo")
    etag = f'"{content_hash[:32]}-{size}"'
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    app = request.app
    try:
        data = await run_in_threadpool(_preview, entry.original, content_hash, size, app.state.previews,
                                       app.state.settings)
    except UnreadableFile as exc:
        raise HTTPException(404, f"photo unreadable: {exc}") from exc
    return Response(data, media_type="image/webp", headers=headers)


def _preview(photo: Path | str, content_hash: str, size: int, cache: Path, settings) -> bytes:
    """A cached preview at once (the scan made the 256 px ones); a missing one made under PREVIEW_MAKERS."""
    try:
        return preview_path(cache, content_hash, size).read_bytes()
    except FileNotFoundError:
        pass
    with PREVIEW_MAKERS:
        return preview(photo, content_hash, size, cache, settings.ingest)
