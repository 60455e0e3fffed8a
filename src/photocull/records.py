"""The typed records that flow from the pipeline into the catalog and out to exports.

They are plain dataclasses so they cross process boundaries (pickled from the
workers) and map one field to one catalog column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from photocull.ingest.metadata import PhotoMetadata

Status = Literal["ok", "unreadable", "missing"]


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What decoding told us about the pixels (full-resolution, upright size)."""

    format: str
    width: int
    height: int
    megapixels: float
    decode_mode: str


@dataclass(slots=True)
class PhotoRecord:
    """Everything measured on one distinct content (identified by its SHA-256)."""

    content_hash: str
    image: ImageInfo
    metadata: PhotoMetadata
    ingest_stamp: str
    analyses: dict[str, tuple[str, Any]] = field(default_factory=dict)  # name -> (stamp, record)
    # Neural analysers still to run, in the scanning process: name -> prepared model input.
    pending: dict[str, Any] = field(default_factory=dict)
    # The 256 px gallery thumbnail (WebP) a worker made from its working copy; the scanning
    # process saves it (a worker on another node cannot reach the catalog's folder) and drops it.
    thumbnail: bytes | None = None


@dataclass(slots=True)
class FileResult:
    """The outcome of scanning one file."""

    path: Path
    size: int
    mtime_ns: int
    content_hash: str | None
    status: Status
    reason: str | None = None
    photo: PhotoRecord | None = None  # None when this content was already in the catalog
