"""The faces analyser inside a real scan: counts, per-face rows in the catalog, incremental runs, export."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from photocull.analysis.faces.identity import SAME_PERSON
from photocull.catalog.store import Catalog
from photocull.config import Settings
from photocull.pipeline.scan import scan
from photocull.vectors import from_bytes
from tests.helpers import run_cli

GROUPS = {"two_people.jpg": 2, "obama_and_biden.jpg": 3, "kit_with_rose.jpg": 2, "obama1.jpg": 1}
NO_FACES = ("building.jpg", "fruits.jpg", "leuvenA.jpg", "baboon.jpg")


@pytest.fixture(scope="module")
def scanned(corpus: Path, models_ready: Path, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("faces")
    for name in GROUPS:
        shutil.copy(corpus / "faces" / "groups" / name, folder)
    for name in NO_FACES:
        shutil.copy(corpus / "scenes" / name, folder)
    shutil.copytree(corpus / "faces" / "people", folder / "people")
    with Catalog(folder / ".photocull" / "catalog.db") as catalog:
        first = scan([folder], catalog, Settings(scan={"analysers": ("technical",)}))
        added = scan([folder], catalog, Settings(scan={"analysers": ("technical", "faces")}))
    assert added.analyser_runs == {"faces": first.analysed}  # only the new analyser ran
    return folder


def _rows(folder: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(folder / ".photocull" / "catalog.db") as db:
        return db.execute(sql).fetchall()


def test_face_counts(scanned: Path) -> None:
    counts = dict(_rows(scanned, "SELECT files.path, face_count FROM files JOIN faces USING (content_hash)"))
    for name, expected in GROUPS.items():
        assert counts[name] == expected, name
    for name in NO_FACES:
        assert counts[name] == 0, name
    people = [path for path in counts if path.startswith("people/")]
    assert people and all(counts[path] >= 1 for path in people)
    rows = _rows(scanned, "SELECT count(*) FROM detected_faces")[0][0]
    assert rows == sum(counts.values())  # one row per face, none left over


def test_face_rows_are_sane(scanned: Path) -> None:
    with Catalog(scanned / ".photocull" / "catalog.db") as catalog:
        faces = catalog.faces()
    assert faces
    for face in faces:
        assert 0 <= face["x0"] < face["x1"] <= 1 and 0 <= face["y0"] < face["y1"] <= 1, face
        assert face["eyes"] in ("open", "closed", "uncertain") and 0 < face["score"] <= 1
        assert -90 <= face["yaw"] <= 90 and 0 <= face["brightness"] <= 1
    portraits = [f for f in faces if f["path"].split("/")[-3] == "people"]
    assert portraits and all(f["eyes"] == "open" for f in portraits)  # the portraits all have open eyes


def test_stored_descriptors_tell_people_apart(scanned: Path) -> None:
    rows = _rows(scanned, "SELECT files.path, descriptor FROM files JOIN detected_faces USING (content_hash) "
                          "WHERE files.path LIKE 'people/%'")
    person = [Path(path).parent.name for path, _ in rows]
    vectors = np.stack([from_bytes(blob) for _, blob in rows])
    assert vectors.shape[1] == 128 and len(set(person)) >= 3
    distances = np.linalg.norm(vectors[:, None] - vectors[None], axis=-1)
    same = [distances[i, j] for i in range(len(rows)) for j in range(i) if person[i] == person[j]]
    other = [distances[i, j] for i in range(len(rows)) for j in range(i) if person[i] != person[j]]
    assert same and max(same) < SAME_PERSON < min(other)


def test_rescan_skips_and_export_writes_one_row_per_face(scanned: Path, tmp_path: Path) -> None:
    with Catalog(scanned / ".photocull" / "catalog.db") as catalog:
        again = scan([scanned], catalog, Settings(scan={"analysers": ("technical", "faces")}))
    assert again.analyser_runs == {} and again.skipped == again.files
    output = tmp_path / "face_data.csv"
    run_cli("export", "faces", scanned, "-o", output)
    with open(output, newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == _rows(scanned, "SELECT count(*) FROM detected_faces")[0][0]
    assert {"path", "face_index", "x0", "eyes", "smile", "smiling", "yaw", "sharpness"} <= set(rows[0])
    assert "descriptor" not in rows[0]


def test_show_lists_each_face(scanned: Path) -> None:
    photo = scanned / "obama_and_biden.jpg"
    listed = json.loads(run_cli("show", photo, "--json").stdout)
    assert listed["face_count"] == len(listed["faces"]) == GROUPS["obama_and_biden.jpg"]
    assert [f["face_index"] for f in listed["faces"]] == [0, 1, 2] and "descriptor" not in listed["faces"][0]
    text = run_cli("show", photo).stdout
    assert "Each face" in text and all(f["eyes"] in text for f in listed["faces"])
