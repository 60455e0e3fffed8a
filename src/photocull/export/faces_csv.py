"""``face_data.csv``: one row per face found, with its photo, box, eyes, smile, pose and sharpness."""

from __future__ import annotations

from pathlib import Path

from photocull.catalog.store import Catalog
from photocull.export.scores_csv import write_rows


def write_faces_csv(catalog: Catalog, output: Path) -> int:
    """Write the CSV (atomically); return the number of faces."""
    return write_rows(catalog.faces(), output)
