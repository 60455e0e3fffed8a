"""``face_data.csv``: one row per face found: photo, box, person, role, eyes, smile, pose, sharpness."""

from __future__ import annotations

from pathlib import Path

from photocull.catalog.store import Catalog
from photocull.export.scores_csv import write_rows

_LEADING = ("path", "face_index", "x0", "y0", "x1", "y1", "person", "person_name", "role")


def write_faces_csv(catalog: Catalog, output: Path) -> int:
    """Write the CSV (atomically); return the number of faces. Faces with no person have empty person columns."""
    rows = [{**{k: face[k] for k in _LEADING}, **face} for face in catalog.faces()]
    return write_rows(rows, output)
