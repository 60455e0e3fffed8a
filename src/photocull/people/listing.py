"""What ``photocull people`` shows: every person with counts, role and a face crop; one person's faces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from photocull.catalog.store import Catalog
from photocull.config import Settings
from photocull.errors import UnreadableFile
from photocull.people.crops import representative, write_crop


def list_people(catalog: Catalog, settings: Settings, crops: Path | None) -> list[dict[str, Any]]:
    """People with faces in readable files, most faces first; with ``crops``, each one's crop is written there.

    A crop that cannot be made (the photo vanished or broke since the scan)
    is reported in the row's ``crop_error`` and the listing goes on.
    """
    people = [p for p in catalog.people.listing() if p["faces"]]
    for person in people:
        face = representative(catalog.people.faces_of(person["id"]))
        person["example"] = face["path"] if face else None
        person["crop"] = None
        if crops is not None and face is not None:
            try:
                person["crop"] = str(write_crop(crops, person["id"], face, settings))
            except UnreadableFile as exc:
                person["crop_error"] = f"{face['path']}: {exc}"
    return people


def faces_of(catalog: Catalog, person_id: int) -> list[dict[str, Any]]:
    """The person's faces, least typical first (a wrongly placed face is near the top), without descriptors."""
    faces = catalog.people.faces_of(person_id)
    if not faces:
        return []
    vectors = np.stack([f["descriptor"] for f in faces]).astype(np.float64)
    distances = np.linalg.norm(vectors - vectors.mean(axis=0), axis=1)
    rows = [{k: v for k, v in f.items() if k != "descriptor"} | {"distance": round(float(d), 3)}
            for f, d in zip(faces, distances)]
    return sorted(rows, key=lambda r: -r["distance"])
