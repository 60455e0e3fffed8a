"""``photocull export people``: one folder per person with their photos, ``metadata.json`` and a ``summary.csv``.

Layout (the person's id zero-padded to three digits; the name lives in the
metadata, so a folder keeps its name when the person is renamed)::

    DEST/summary.csv                     person, name, role, photos, faces, kept
    DEST/person_001/metadata.json        id, name, role, faces, photos, representative crop
    DEST/person_001/face.jpg             the representative face crop (256 px)
    DEST/person_001/IMG_0042.jpg         the person's photos (keepers, or --all), copied or hard-linked

A photo of several people is in each of their folders. Two photos with the
same name in one person's folder get ``NAME (1).EXT``. Photos in object storage
(URL keys) are streamed from their bucket (``link``: copied).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photocull.catalog.sidecars import Sidecars
from photocull.catalog.store import Catalog, printable
from photocull.config import Settings
from photocull.errors import UnreadableFile
from photocull.files import write_atomic
from photocull.export.common import relative_name, unique_destination
from photocull.ingest.originals import as_original, copy_original, original_name
from photocull.ingest.remote import is_url
from photocull.people.crops import representative, write_crop

MODES = ("copy", "link")
CROP_NAME = "face.jpg"


@dataclass
class PeopleReport:
    people: int = 0
    files: int = 0
    bytes: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    summary: str | None = None


def folder_name(person_id: int) -> str:
    return f"person_{person_id:03d}"


def export_people(catalog: Catalog, dest: Path, settings: Settings, mode: str = "copy", every_photo: bool = False,
                  include_undecided: bool = False) -> PeopleReport:
    """Write the people folders; photos are the person's keepers (``every_photo``: all their readable photos)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    dest = dest.resolve()
    dest.mkdir(parents=True, exist_ok=True)
    report = PeopleReport()
    decided = catalog.decisions.effective_by_key()
    files_of = Sidecars(catalog).person_files()
    summary = []
    for person in catalog.people.listing():
        files = files_of.get(person["id"], [])
        if not files:
            continue
        flags = {key: decided.get(key, (None,))[0] for key, _ in files}
        kept = [key for key, _ in files if flags[key] == "keep" or (include_undecided and flags[key] is None)]
        chosen = [(key, faces) for key, faces in files if every_photo or key in kept]
        folder = dest / folder_name(person["id"])
        folder.mkdir(exist_ok=True)
        photos = []
        for key, faces in chosen:
            source = catalog.resolve(key)
            options = settings.ingest.storage_options
            target, same = unique_destination(folder / original_name(source), source, options)
            try:
                if not same:
                    report.bytes += _place(source, target, mode, options)
                    report.files += 1
            except OSError as exc:
                report.problems.append((printable(source), exc.strerror or str(exc)))
                continue
            photos.append({"file": printable(Path(target.name)), "source": printable(Path(relative_name(catalog, key))),
                           "faces": faces, "flag": flags[key]})
        crop = None
        face = representative(catalog.people.faces_of(person["id"]))
        if face is not None:
            try:
                made = write_crop(folder, person["id"], face, settings)
                crop = folder / CROP_NAME
                os.replace(made, crop)
            except (UnreadableFile, OSError) as exc:
                report.problems.append((f"person {person['id']} crop", str(exc)))
        metadata = {
            "id": person["id"], "folder": folder.name, "name": person["name"], "role": person["role"],
            "faces": person["faces"], "photos_total": len(files), "kept": len(kept),
            "representative": None if face is None else {
                "crop": crop.name if crop else None,
                "photo": printable(Path(relative_name(catalog, catalog.key(as_original(face["path"]))))),
                "face_index": face["face_index"], "box": [face["x0"], face["y0"], face["x1"], face["y1"]]},
            "photos": photos,
        }
        write_atomic(folder / "metadata.json",
                           (json.dumps(metadata, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
        summary.append({"person": folder.name, "name": person["name"] or "", "role": person["role"],
                        "photos": len(photos), "faces": person["faces"], "kept": len(kept)})
        report.people += 1
    summary_path = dest / "summary.csv"
    partial = summary_path.with_name(".summary.csv.photocull-partial")
    with open(partial, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=["person", "name", "role", "photos", "faces", "kept"])
        writer.writeheader()
        writer.writerows(summary)
    partial.replace(summary_path)
    report.summary = str(summary_path)
    return report


def _place(source: Path | str, target: Path, mode: str, storage_options: Mapping[str, Any]) -> int:
    if mode == "link" and not is_url(source):
        try:
            os.link(source, target)
            return source.stat().st_size
        except OSError as exc:
            if exc.errno not in (18, 1, 95):  # EXDEV, EPERM, EOPNOTSUPP: copied instead
                raise
    return copy_original(source, target, storage_options)
