"""Exports from the web app: the keepers as a ZIP download, decisions into XMP sidecars (docs/web.md).

The ZIP is written by a thread straight into the response through a bounded
pipe (:func:`photocull.export.archive.stream_zip`): a 10 GB export needs
neither 10 GB of memory nor a second copy on disk, and a download that is
cancelled stops the writer. Both exports use a connection of their own, so
the gallery stays responsive while they run.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from photocull.catalog.store import Catalog
from photocull.export.archive import stream_zip
from photocull.export.xmp import STYLES, write_sidecars

ZIP_NAME = "photocull-keepers.zip"
router = APIRouter(tags=["export"])


class XmpIn(BaseModel):
    """Which sidecars to write: ``both`` (NAME.EXT.xmp and Adobe's NAME.xmp), ``adobe`` or ``full``."""

    model_config = ConfigDict(extra="forbid")
    style: Literal[STYLES] = "both"  # type: ignore[valid-type]


class _Pipe:
    """Bytes from the thread writing the archive to the response, in chunks of about 1 MiB, a few at a time
    (the writer waits when the client is slow); once the reader stops, every write fails."""

    CHUNK = 1 << 20
    _END = object()

    def __init__(self, chunks: int = 8) -> None:
        self._queue: queue.Queue = queue.Queue(chunks)
        self._buffer = bytearray()
        self._stopped = threading.Event()

    def write(self, data: bytes) -> int:
        self._buffer += data
        if len(self._buffer) >= self.CHUNK:
            self._put(bytes(self._buffer))
            self._buffer.clear()
        return len(data)

    def flush(self) -> None:
        """Nothing: chunks go when full or at :meth:`close` (zipfile flushes after every entry)."""

    def close(self, error: BaseException | None = None) -> None:
        """The end of the archive, or the error that cut it short (the download then fails, not truncates
        silently into a valid-looking file)."""
        if self._buffer and error is None:
            self._put(bytes(self._buffer))
        self._buffer.clear()
        self._put(error if error is not None else self._END)

    def _put(self, item: object) -> None:
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        raise BrokenPipeError("the download was closed")

    def chunks(self) -> Iterator[bytes]:
        try:
            while (item := self._queue.get()) is not self._END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._stopped.set()


def _zip_chunks(request: Request, include_undecided: bool) -> Iterator[bytes]:
    """The archive's bytes; the writer thread starts with the first chunk asked for."""
    app = request.app
    pipe = _Pipe()

    def write() -> None:
        error = None
        try:
            with Catalog(app.state.catalog_path) as catalog:
                stream_zip(catalog, pipe, app.state.settings.rules, include_undecided,
                           storage_options=app.state.settings.ingest.storage_options)
        except BrokenPipeError:
            return
        except Exception as exc:  # reported to the reader, which fails the download
            error = exc
        try:
            pipe.close(error)
        except BrokenPipeError:
            pass

    threading.Thread(target=write, name="photocull-zip", daemon=True).start()
    yield from pipe.chunks()


@router.get("/api/export/zip", response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}}}})
def export_zip(request: Request, include_undecided: bool = False) -> StreamingResponse:
    """The keepers (and, with ``include_undecided``, photos not flagged) as one ZIP, streamed as it is
    written: their folders under the library root, their sidecars, and photo_scores.csv."""
    return StreamingResponse(_zip_chunks(request, include_undecided), media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="{ZIP_NAME}"',
                                      "Cache-Control": "no-store"})


@router.post("/api/export/xmp")
def export_xmp(request: Request, body: XmpIn | None = None) -> dict:
    """Write every decision into XMP sidecars beside the photos (Lightroom, darktable, digiKam read them);
    sidecars another tool changed are read back first, as your decisions."""
    style = body.style if body is not None else "both"
    with Catalog(request.app.state.catalog_path) as catalog:
        report = asdict(write_sidecars(catalog, style))
    return {"written": len(report["written"]), "unchanged": report["unchanged"],
            "imported": len(report["imported"]), "skipped_adobe": len(report["skipped_adobe"]),
            "in_object_storage": len(report["in_object_storage"]),  # never written into a bucket
            "files": report["written"],
            "errors": [{"path": path, "error": why} for path, why in report["problems"]]}
