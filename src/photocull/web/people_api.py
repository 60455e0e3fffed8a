"""People in the web app: the list with a face for each, face thumbnails, naming and merging (docs/web.md).

Choosing a person's representative face reads every face's descriptor, so it
is done once per person and kept in memory until the people change (an edit
here, a reload, or a commit by another process); the thumbnails are made once
per face and kept on disk under the catalog folder, addressed by content hash
and face index only, so they are immutable.

Names and roles weigh in the picks (face rules, reasons that name people), so
every edit queues a cull job (``web.jobs.queue_cull``, coalesced) and answers
it as ``cull_job``.
"""

from __future__ import annotations

import io
import threading
import weakref
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path as PathParam, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from photocull.catalog.people import ROLES
from photocull.catalog.store import Catalog
from photocull.errors import UnreadableFile
from photocull.files import write_atomic
from photocull.people import edits, listing
from photocull.people.crops import face_crop, representative
from photocull.web.index import GalleryIndex
from photocull.web.jobs import queue_cull
from photocull.web.security import CONTENT_HASH

FACE_PX = 160
IMMUTABLE = "public, max-age=31536000, immutable"
router = APIRouter(tags=["people"])


class PersonIn(BaseModel):
    """A person's new name (``null`` or empty clears it) and/or role; a value left out stays."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    role: Literal[ROLES] | None = None  # type: ignore[valid-type]


class MergeIn(BaseModel):
    """Move every face of ``others`` to ``keep``; the others are deleted."""

    model_config = ConfigDict(extra="forbid")
    keep: int
    others: list[int] = Field(min_length=1)


class Representatives:
    """Each person's representative face (content hash, face index), chosen once per state of the people.

    Kept for one gallery index (a reload starts afresh) and one catalog data
    version (another process's commit, a scan, starts afresh); this app's own
    edits call :meth:`forget`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: weakref.ref | None = None
        self._version: int | None = None
        self._faces: dict[int, dict[str, Any] | None] = {}

    def of(self, index: GalleryIndex, catalog: Catalog, person_ids: list[int]) -> dict[int, dict[str, Any] | None]:
        """The face of each of ``person_ids``; ``catalog`` is the index's, held by the caller."""
        version = catalog.gallery.data_version()
        with self._lock:
            if self._owner is None or self._owner() is not index or self._version != version:
                self._owner, self._version, self._faces = weakref.ref(index), version, {}
            known = dict(self._faces)
        found = {}
        for pid in person_ids:
            if pid not in known:
                face = representative(catalog.people.faces_of(pid))
                found[pid] = None if face is None else _face_ref(face["content_hash"], face["face_index"])
        with self._lock:
            if self._version == version:
                self._faces.update(found)
        return known | found

    def forget(self) -> None:
        with self._lock:
            self._faces = {}


_STATE_LOCK = threading.Lock()


def _representatives(request: Request) -> Representatives:
    state = request.app.state
    with _STATE_LOCK:
        found = getattr(state, "representatives", None)
        if found is None:
            found = state.representatives = Representatives()
    return found


def _index(request: Request) -> GalleryIndex:
    return request.app.state.index


def _face_ref(content_hash: str, face_index: int) -> dict[str, Any]:
    return {"content_hash": content_hash, "face_index": face_index, "url": f"/faces/{content_hash}/{face_index}"}


def _rows(request: Request, index: GalleryIndex, catalog: Catalog, only: int | None = None) -> list[dict]:
    """People with faces in readable files, most faces first (or just person ``only``), each with a face."""
    people = [p for p in catalog.people.listing() if p["faces"] and (only is None or p["id"] == only)]
    faces = _representatives(request).of(index, catalog, [p["id"] for p in people])
    return [p | {"face": faces.get(p["id"])} for p in people]


def _person_row(request: Request, index: GalleryIndex, catalog: Catalog, person_id: int) -> dict:
    rows = _rows(request, index, catalog, only=person_id)
    if rows:
        return rows[0]
    person = catalog.people.person(person_id)  # no face in a readable file left
    return person | {"faces": 0, "photos": 0, "confirmed": 0, "face": None}


def _known(catalog: Catalog, person_ids: list[int]) -> None:
    for pid in person_ids:
        if catalog.people.person(pid) is None:
            raise HTTPException(404, f"no person {pid}")


@router.get("/api/people")
def people(request: Request) -> dict:
    """People found in the faces, most faces first, each with a representative face to show."""
    index = _index(request)
    with index.use() as catalog:
        return {"people": _rows(request, index, catalog)}


@router.get("/api/people/{person_id}/faces")
def person_faces(request: Request, person_id: int) -> dict:
    """The person's faces, least typical first, so a wrongly placed face is near the top."""
    index = _index(request)
    with index.use() as catalog:
        _known(catalog, [person_id])
        faces = listing.faces_of(catalog, person_id)
    rows = []
    for face in faces:
        entry = index.by_absolute.get(face["path"])
        rows.append({"path": entry.path if entry else face["path"], "distance": face["distance"]}
                    | _face_ref(face["content_hash"], face["face_index"]))
    return {"faces": rows}


@router.patch("/api/people/{person_id}")
def edit_person(request: Request, person_id: int, body: PersonIn) -> dict:
    """Name a person and/or set their role; their faces become confirmed (re-clustering keeps them). The
    answer is the person's row with ``cull_job``: the cull queued to redo the picks (null without jobs)."""
    given = body.model_fields_set
    name = (body.name or "") if "name" in given else None  # "" clears the name
    if name is None and body.role is None:
        raise HTTPException(422, "give name, role or both")
    index = _index(request)
    with index.use() as catalog:
        _known(catalog, [person_id])
        try:
            edits.label(catalog, person_id, name, body.role)
        except edits.PeopleError as exc:
            raise HTTPException(422, str(exc)) from exc
        _representatives(request).forget()
        row = _person_row(request, index, catalog, person_id)
    return row | {"cull_job": queue_cull(request)}


@router.post("/api/people/merge")
def merge_people(request: Request, body: MergeIn) -> dict:
    """Merge ``others`` into ``keep``; the gallery's people on each photo follow at once, the picks after
    the cull job queued (``cull_job``)."""
    index = _index(request)
    with index.use() as catalog:
        _known(catalog, [body.keep, *body.others])
        try:
            edits.merge(catalog, body.keep, body.others)
        except edits.PeopleError as exc:
            raise HTTPException(422, str(exc)) from exc
        _representatives(request).forget()
        index.reload_people(catalog)
        person = _person_row(request, index, catalog, body.keep)
    return {"person": person, "merged": body.others, "cull_job": queue_cull(request)}


@router.get("/faces/{content_hash}/{face_index}", response_class=Response,
            responses={200: {"content": {"image/webp": {}}}})
async def face_image(request: Request, content_hash: Annotated[str, PathParam(pattern=CONTENT_HASH)],
                     face_index: Annotated[int, PathParam(ge=0, le=10_000)]) -> Response:
    """A face's square WebP thumbnail (160 px) by content hash and face index, made once and cached."""
    index = _index(request)
    entry = index.by_hash.get(content_hash)
    if entry is None:
        raise HTTPException(404, "unknown photo")
    etag = f'"{content_hash[:32]}-face-{face_index}"'
    headers = {"Cache-Control": IMMUTABLE, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    cached = request.app.state.catalog_path.parent / "faces" / f"{content_hash}-{face_index}.webp"
    data = await run_in_threadpool(_thumbnail, request, index, entry.original, face_index, cached)
    return Response(data, media_type="image/webp", headers=headers)


def _thumbnail(request: Request, index: GalleryIndex, photo: Path | str, face_index: int, cached: Path) -> bytes:
    """The cached thumbnail, else a new one cropped from the photo (the crop rules of people/crops.py)."""
    try:
        return cached.read_bytes()
    except FileNotFoundError:
        pass
    with index.use() as catalog:
        face = next((f for f in catalog.faces(photo) if f["face_index"] == face_index), None)
    if face is None:
        raise HTTPException(404, "no such face")
    try:
        image = face_crop(face, request.app.state.settings, FACE_PX)
    except UnreadableFile as exc:
        raise HTTPException(404, f"photo unreadable: {exc}") from exc
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=82)
    data = buffer.getvalue()
    write_atomic(cached, data, durable=False)
    return data
