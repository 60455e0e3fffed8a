"""Uploads: a tus 1.0.0 server (core, creation, termination, expiration) and the batch ``finish`` route.

Our own server rather than a generic tus package, because every check happens
where the upload is: the name and size are refused at creation (415, 413,
507) before a byte is stored, the content is sniffed on the last byte (415),
partial uploads live in the catalog's folder (``.photocull/uploads/``, hidden
from scans), and every request goes through the app's token and CSRF guard.

Each upload is two files: ``<id>.bin`` (the bytes) and ``<id>.json`` (length,
names, batch, creation time). The data file's size *is* the offset, so a
dropped connection loses nothing written: HEAD answers what is on disk.
"""

from __future__ import annotations

import base64
import binascii
import errno
import json
import os
import re
import secrets
import shutil
import threading
import time
from dataclasses import asdict, dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path as PathParam, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from photocull.config import IngestSettings
from photocull.errors import DiskFullError
from photocull.ingest.archive import ArchiveRefused, extract_zip
from photocull.ingest.formats import is_photo_name, is_raw_name
from photocull.web.jobs import runner, start_scan

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
UPLOAD_ID = r"^[0-9a-f]{32}$"
BATCH_ID = r"^[A-Za-z0-9_-]{1,64}$"
DEFAULT_BATCH = "upload"
EXPIRY_SECONDS = 24 * 3600
SPARE_BYTES = 256 << 20  # left free on the disk beyond the upload itself
OCTET_STREAM = "application/offset+octet-stream"

router = APIRouter()


class UploadError(Exception):
    """A refused upload: HTTP status and the reason shown to the user."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(slots=True)
class UploadInfo:
    """What creation learned about one upload (the offset is the data file's size)."""

    id: str
    length: int
    filename: str
    relative_path: str | None
    batch: str
    created: float
    complete: bool = False


# -- what a file may be ------------------------------------------------------------------------------
def allowed_name(name: str) -> bool:
    """A photo format photocull ingests, or a ZIP of them."""
    return is_photo_name(name) or name.lower().endswith(".zip")


_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "tiff": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),
    "gif": (b"GIF87a", b"GIF89a"),
    "bmp": (b"BM",),
    "ico": (b"\x00\x00\x01\x00",),
    "zip": (b"PK\x03\x04",),
}


def sniff(head: bytes) -> str | None:
    """The container format the first bytes show, or None."""
    for kind, signatures in _SIGNATURES.items():
        if head.startswith(signatures):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        return "isobmff"  # HEIC, HEIF, AVIF
    if re.match(rb"P[1-7]\s", head[:3]):
        return "pnm"
    return None


def content_matches(name: str, head: bytes) -> bool:
    """Whether the first bytes fit the name. A raster photo may be any raster format (photocull decodes
    by content: a PNG named .jpg is still a photo), a ZIP must be a ZIP; RAW formats are vendor-specific
    and accepted by name, unless the content is plainly something else (a ZIP)."""
    kind = sniff(head)
    if name.lower().endswith(".zip"):
        return kind == "zip"
    if is_raw_name(name):
        return kind != "zip" and not _looks_like_text(head)
    return kind is not None and kind != "zip"


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c >= 0x20 or c in b"\t\r\n" for c in head)


# -- storage -----------------------------------------------------------------------------------------
class UploadStore:
    """Partial and completed uploads in one folder; one lock per upload so two PATCHes never interleave."""

    def __init__(self, folder: Path, max_bytes: int, expiry_seconds: float = EXPIRY_SECONDS):
        self.folder, self.max_bytes, self.expiry_seconds = folder, max_bytes, expiry_seconds
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def _data(self, upload_id: str) -> Path:
        return self.folder / f"{upload_id}.bin"

    def _info_path(self, upload_id: str) -> Path:
        return self.folder / f"{upload_id}.json"

    def offset(self, upload_id: str) -> int:
        try:
            return self._data(upload_id).stat().st_size
        except FileNotFoundError:
            return 0

    def info(self, upload_id: str) -> UploadInfo:
        """The upload's info; UploadError 404 when unknown or expired, 410 is not used (gone = unknown)."""
        if not re.match(UPLOAD_ID, upload_id):
            raise UploadError(404, "no such upload")
        try:
            values = json.loads(self._info_path(upload_id).read_text())
        except (OSError, ValueError):
            raise UploadError(404, "no such upload") from None
        info = UploadInfo(**values)
        if not info.complete and self.expired(info):
            self.delete(upload_id)
            raise UploadError(404, "upload expired")
        return info

    def expires(self, info: UploadInfo) -> float:
        return info.created + self.expiry_seconds

    def expired(self, info: UploadInfo) -> bool:
        return time.time() > self.expires(info)

    def _save(self, info: UploadInfo) -> None:
        """Write the info atomically and durably (it changes twice: at creation and on completion)."""
        path = self._info_path(info.id)
        staging = path.with_suffix(".json.tmp")
        with open(staging, "w") as out:
            json.dump(asdict(info), out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(staging, path)

    def create(self, length: int, metadata: dict[str, str]) -> UploadInfo:
        """A new empty upload, after the checks that need no byte of it (name, size, disk room)."""
        filename = metadata.get("filename") or metadata.get("name") or ""
        if not filename or "/" in filename or "\\" in filename or "\0" in filename:
            raise UploadError(400, "Upload-Metadata needs a plain filename")
        if not allowed_name(filename):
            raise UploadError(415, f"{filename}: not a photo format photocull reads, nor a .zip")
        if length > self.max_bytes:
            raise UploadError(413, f"{filename}: {length} bytes, more than the limit of {self.max_bytes}")
        batch = metadata.get("batch") or DEFAULT_BATCH
        if not re.match(BATCH_ID, batch):
            raise UploadError(400, "batch must be 1-64 letters, digits, '-' or '_'")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.clean_expired()
        free = shutil.disk_usage(self.folder).free
        if length + SPARE_BYTES > free:
            raise UploadError(507, f"{filename}: {length} bytes do not fit, {free} bytes are free")
        info = UploadInfo(id=secrets.token_hex(16), length=length, filename=filename,
                          relative_path=metadata.get("relativePath") or None, batch=batch, created=time.time())
        self._data(info.id).touch()
        self._save(info)
        return info

    def clean_expired(self) -> int:
        """Delete partial uploads older than the expiry; the number deleted."""
        deleted = 0
        for path in self.folder.glob("*.json"):
            try:
                info = UploadInfo(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError):
                continue
            if not info.complete and self.expired(info) and info.id not in self._busy:
                self.delete(info.id)
                deleted += 1
        return deleted

    def delete(self, upload_id: str) -> None:
        for path in (self._data(upload_id), self._info_path(upload_id)):
            path.unlink(missing_ok=True)

    def claim(self, upload_id: str) -> None:
        """Mark an upload as being written (423 when another request writes it)."""
        with self._lock:
            if upload_id in self._busy:
                raise UploadError(423, "this upload is being written by another request")
            self._busy.add(upload_id)

    def release(self, upload_id: str) -> None:
        with self._lock:
            self._busy.discard(upload_id)

    def open_for_append(self, info: UploadInfo, offset: int):
        """The data file, open at ``offset``; UploadError 409 when that is not where it ends."""
        current = self.offset(info.id)
        if offset != current:
            raise UploadError(409, f"Upload-Offset {offset} does not match the stored offset {current}")
        if info.complete:
            raise UploadError(409, "upload already complete")
        return open(self._data(info.id), "ab")

    def complete(self, info: UploadInfo) -> None:
        """After the last byte: the content must fit the name, else the upload is deleted (415)."""
        with open(self._data(info.id), "rb") as data:
            os.fsync(data.fileno())
            head = data.read(64)
        if not content_matches(info.filename, head):
            self.delete(info.id)
            raise UploadError(415, f"{info.filename}: the content is not what the name says")
        info.complete = True
        self._save(info)

    def batch(self, batch: str) -> list[UploadInfo]:
        """The uploads of one batch, oldest first."""
        found = []
        for path in self.folder.glob("*.json") if self.folder.is_dir() else ():
            try:
                info = self.info(path.stem)
            except UploadError:
                continue
            if info.batch == batch:
                found.append(info)
        return sorted(found, key=lambda i: i.created)

    def data_path(self, info: UploadInfo) -> Path:
        return self._data(info.id)


# -- tus routes --------------------------------------------------------------------------------------
def _store(request: Request) -> UploadStore:
    return request.app.state.uploads


def tus_headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **extra}


def _refusal(error: UploadError) -> JSONResponse:
    return JSONResponse({"detail": error.reason}, status_code=error.status, headers=tus_headers())


def _check_version(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise HTTPException(412, "Tus-Resumable: 1.0.0 required", headers={"Tus-Version": TUS_VERSION})


def _expires_header(store: UploadStore, info: UploadInfo) -> dict[str, str]:
    return {} if info.complete else {"Upload-Expires": formatdate(store.expires(info), usegmt=True)}


def parse_metadata(header: str) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs (a key alone means empty)."""
    values = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, encoded = pair.partition(" ")
        try:
            values[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise UploadError(400, f"Upload-Metadata {key!r} is not base64 of UTF-8 text") from exc
    return values


UploadId = Annotated[str, PathParam(pattern=UPLOAD_ID)]


@router.options("/uploads/", tags=["uploads"])
@router.options("/uploads/{upload_id}", tags=["uploads"], include_in_schema=False)
def tus_options(request: Request) -> Response:
    """What this tus server supports."""
    return Response(status_code=204, headers=tus_headers(**{
        "Tus-Version": TUS_VERSION, "Tus-Extension": TUS_EXTENSIONS,
        "Tus-Max-Size": str(_store(request).max_bytes)}))


@router.post("/uploads/", tags=["uploads"], status_code=201)
def tus_create(request: Request) -> Response:
    """Create an upload (tus creation): ``Upload-Length``, ``Upload-Metadata`` filename, relativePath, batch."""
    _check_version(request)
    store = _store(request)
    try:
        length = request.headers.get("upload-length", "")
        if not length.isdigit():
            raise UploadError(400, "Upload-Length (a number of bytes) is required")
        info = store.create(int(length), parse_metadata(request.headers.get("upload-metadata", "")))
    except UploadError as error:
        return _refusal(error)
    return Response(status_code=201, headers=tus_headers(Location=f"/uploads/{info.id}",
                                                         **_expires_header(store, info)))


@router.head("/uploads/{upload_id}", tags=["uploads"])
def tus_head(request: Request, upload_id: UploadId) -> Response:
    """The offset stored on disk: where a resumed upload goes on."""
    _check_version(request)
    store = _store(request)
    try:
        info = store.info(upload_id)
    except UploadError as error:
        return Response(status_code=error.status, headers=tus_headers())
    return Response(status_code=200, headers=tus_headers(**{
        "Upload-Offset": str(store.offset(upload_id)), "Upload-Length": str(info.length),
        **_expires_header(store, info)}))


@router.patch("/uploads/{upload_id}", tags=["uploads"])
async def tus_patch(request: Request, upload_id: UploadId) -> Response:
    """Append the request body at ``Upload-Offset``, streamed to disk chunk by chunk."""
    _check_version(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != OCTET_STREAM:
        return _refusal(UploadError(415, f"Content-Type must be {OCTET_STREAM}"))
    store = _store(request)
    offset_header = request.headers.get("upload-offset", "")
    try:
        if not offset_header.isdigit():
            raise UploadError(400, "Upload-Offset (a number of bytes) is required")
        info = store.info(upload_id)
        store.claim(upload_id)
    except UploadError as error:
        return _refusal(error)
    try:
        with store.open_for_append(info, int(offset_header)) as out:
            written = int(offset_header)
            try:
                async for chunk in request.stream():
                    if written + len(chunk) > info.length:
                        raise UploadError(413, f"more bytes than the declared Upload-Length {info.length}")
                    out.write(chunk)
                    written += len(chunk)
            except ClientDisconnect:
                return Response(status_code=204)  # what arrived is kept; the client resumes from HEAD
            out.flush()
        if written == info.length:
            store.complete(info)
    except UploadError as error:
        return _refusal(error)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            return _refusal(UploadError(507, "the disk is full"))
        raise
    finally:
        store.release(upload_id)
    return Response(status_code=204, headers=tus_headers(**{"Upload-Offset": str(store.offset(upload_id)),
                                                            **_expires_header(store, info)}))


@router.delete("/uploads/{upload_id}", tags=["uploads"])
def tus_delete(request: Request, upload_id: UploadId) -> Response:
    """Forget an upload and its bytes (tus termination)."""
    _check_version(request)
    store = _store(request)
    try:
        store.info(upload_id)
        store.claim(upload_id)
    except UploadError as error:
        return _refusal(error)
    try:
        store.delete(upload_id)
    finally:
        store.release(upload_id)
    return Response(status_code=204, headers=tus_headers())


# -- finishing a batch -------------------------------------------------------------------------------
_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


def safe_component(name: str) -> str:
    """One path component that is a plain, visible name on every file system ("" when nothing is left)."""
    name = _UNSAFE_CHARS.sub("_", name).strip().lstrip(".").rstrip(". ")
    while len(name.encode()) > 200:
        name = name[:-1]
    return name


def destination(folder: Path, info: UploadInfo) -> Path:
    """Where an upload lands: its relativePath's folders (sanitised) and its filename, inside ``folder``,
    with " (1)", " (2)"... before the extension when the name is taken."""
    folders = (info.relative_path or "").replace("\\", "/").split("/")[:-1]
    parts = [safe for p in folders if p not in ("", ".", "..") and (safe := safe_component(p))]
    name = safe_component(info.filename) or f"upload{Path(info.filename).suffix.lower()}"
    target = folder.joinpath(*parts, name)
    if not target.resolve().is_relative_to(folder.resolve()):  # cannot happen after sanitising; never trust
        target = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 1
    while target.exists():
        target = target.with_name(f"{stem} ({n}){suffix}")
        n += 1
    return target


def finish_batch(store: UploadStore, batch: str, folder: Path, ingest: IngestSettings) -> dict:
    """Move a batch's completed uploads into ``folder`` and extract its ZIPs there (safely).

    Returns ``{accepted: [paths relative to folder], refused: [{name, reason}]}``; an upload still in
    progress is left alone and reported as refused for now.
    """
    accepted: list[str] = []
    refused: list[dict[str, str]] = []
    for info in store.batch(batch):
        shown = info.relative_path or info.filename
        if not info.complete:
            refused.append({"name": shown, "reason": f"upload not complete ({store.offset(info.id)} of "
                            f"{info.length} bytes); finish again once it is"})
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = destination(folder, info)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(store.data_path(info), target)
        store.delete(info.id)
        if target.suffix.lower() != ".zip":
            accepted.append(target.relative_to(folder).as_posix())
            continue
        try:
            extracted = extract_zip(target, target.parent, ingest)
            clean = destination(target.parent, UploadInfo(info.id, 0, target.stem, None, batch, 0))
            extracted.rename(clean)
            accepted.append(clean.relative_to(folder).as_posix() + "/")
        except (ArchiveRefused, DiskFullError) as exc:
            refused.append({"name": shown, "reason": str(exc)})
        finally:
            target.unlink(missing_ok=True)
    return {"accepted": accepted, "refused": refused}


@router.post("/api/uploads/{batch}/finish", tags=["uploads"])
def finish(request: Request, batch: Annotated[str, PathParam(pattern=BATCH_ID)]) -> dict:
    """Move the batch's completed uploads into ``<library>/uploads/<batch>/`` (ZIPs extracted safely) and
    start a scan job on that folder -> ``{batch, accepted, refused, job}`` (job null when nothing came)."""
    jobs = runner(request)
    folder = jobs.root / "uploads" / batch
    with _FINISH_LOCK:
        outcome = finish_batch(_store(request), batch, folder, request.app.state.settings.ingest)
    job = start_scan(request, [folder.relative_to(jobs.root).as_posix()]) if outcome["accepted"] else None
    return {"batch": batch, **outcome, "job": job}


_FINISH_LOCK = threading.Lock()
