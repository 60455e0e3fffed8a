"""Small upright previews of photos, made once and cached as WebP, for reports and the web app.

A preview is keyed by the photo's content hash and its size, so copies of one
photo share it and an edited file gets a new one. Decoding goes through the
ingest decoder (every format, orientation applied, JPEGs DCT-scaled), at the
smallest size that still fills the preview.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from photocull.config import IngestSettings
from photocull.errors import UnreadableFile
from photocull.ingest.decode import decode
from photocull.files import write_atomic

PREVIEW_QUALITY = 80


def preview_path(cache: Path, content_hash: str, size: int) -> Path:
    return cache / content_hash[:2] / f"{content_hash}-{size}.webp"


def preview(photo: Path, content_hash: str, size: int, cache: Path, settings: IngestSettings) -> bytes:
    """The WebP preview of ``photo`` with long edge ``size`` (at most), from the cache or made now.

    Raises :class:`UnreadableFile` when the photo can no longer be read.
    """
    path = preview_path(cache, content_hash, size)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    try:
        data = photo.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"cannot read file: {exc.strerror or exc}") from exc
    edge = max(256, size)
    decoded = decode(data, photo, settings.model_copy(update={"working_size": edge, "min_decode_edge": edge}))
    image = Image.fromarray(decoded.rgb)
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=PREVIEW_QUALITY, method=4)
    write_atomic(path, buffer.getvalue())
    return buffer.getvalue()
