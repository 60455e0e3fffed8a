"""A representative face crop for each person: the picture a person is recognised by in lists.

The representative is a typical face (among the half nearest the person's
centroid, so a wrongly placed face is never chosen) that is the best to look
at: facing the camera, eyes open, large and sharp. Crops are 256 px squares
with the face and some margin, written once per representative face: a
listing decodes a photo again only when a person's representative changed.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from photocull.config import Settings
from photocull.errors import UnreadableFile
from photocull.ingest.decode import decode
from photocull.ingest.originals import read_original
from photocull.files import write_atomic

CROP_PX = 256
_MARGIN = 0.35  # share of the face box added on each side


def representative(faces: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The face to show for a person, from their faces' rows (with ``descriptor``)."""
    if not faces:
        return None
    vectors = np.stack([f["descriptor"] for f in faces]).astype(np.float64)
    distance = np.linalg.norm(vectors - vectors.mean(axis=0), axis=1)
    typical = [faces[i] for i in np.argsort(distance, kind="stable")[: max(1, (len(faces) + 1) // 2)]]

    def appeal(face: dict[str, Any]) -> tuple:
        area = (face["x1"] - face["x0"]) * (face["y1"] - face["y0"])
        return (bool(face["facing"]), face["eyes"] == "open", area * (0.5 + (face["sharpness"] or 0.0)))

    return max(typical, key=appeal)


def crop_path(folder: Path, person_id: int, face: dict[str, Any]) -> Path:
    return folder / f"person-{person_id}-{face['content_hash'][:12]}-{face['face_index']}.jpg"


def write_crop(folder: Path, person_id: int, face: dict[str, Any], settings: Settings) -> Path:
    """The person's crop of ``face`` (a row with ``path`` and box); older crops of the person are removed."""
    path = crop_path(folder, person_id, face)
    if not path.is_file():
        write_atomic(path, _jpeg(face_crop(face, settings)))
    for old in folder.glob(f"person-{person_id}-*.jpg"):
        if old != path:
            old.unlink(missing_ok=True)
    return path


def face_crop(face: dict[str, Any], settings: Settings, size: int = CROP_PX) -> Image.Image:
    """The square crop of ``face`` (a row with ``path`` and box), ``size`` px: for the CLI's crops and the
    web app's face thumbnails alike. UnreadableFile when the photo cannot be read or decoded."""
    try:
        photo = decode(read_original(face["path"], settings.ingest.storage_options), face["path"], settings.ingest)
    except OSError as exc:
        raise UnreadableFile(f"cannot read file: {exc.strerror or exc}") from exc
    return _square(photo.rgb, face, size)


def _square(rgb: np.ndarray, face: dict[str, Any], size: int = CROP_PX) -> Image.Image:
    height, width = rgb.shape[:2]
    x0, x1, y0, y1 = face["x0"] * width, face["x1"] * width, face["y0"] * height, face["y1"] * height
    side = max(x1 - x0, y1 - y0) * (1 + 2 * _MARGIN)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    box = (round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2))
    crop = Image.fromarray(rgb).crop(box)  # outside the photo: black, so the face stays centred
    return crop.resize((size, size), Image.Resampling.LANCZOS)


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()
