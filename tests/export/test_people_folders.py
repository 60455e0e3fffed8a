"""People folders: person_NNN/ with the person's photos, metadata.json and a crop; summary.csv."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from photocull.catalog.store import Catalog
from photocull.config import Settings
from photocull.export.people_folders import export_people
from photocull.pipeline.scan import scan
from tests.helpers import run_cli

FACES = Settings(scan={"analysers": ("technical", "faces")})


@pytest.fixture(scope="module")
def portraits(corpus: Path, models_ready: Path, tmp_path_factory) -> Path:
    """corpus/faces/people (five people, one folder each) copied and scanned with faces once."""
    folder = tmp_path_factory.mktemp("people-export") / "portraits"
    shutil.copytree(corpus / "faces" / "people", folder)
    with Catalog(folder / ".photocull" / "catalog.db") as catalog:
        scan([folder], catalog, FACES)
        for photo in ("obama/obama.jpg", "biden/biden.jpg", "biden/biden2.jpg"):
            catalog.decisions.set_user(folder / photo, flag="keep")
        catalog.decisions.set_user(folder / "obama" / "obama2.jpg", flag="reject")
    return folder


def _person_of(catalog: Catalog, folder: Path) -> dict[str, int]:
    """Each corpus identity's person id (the faces of a folder all belong to one person)."""
    found: dict[str, set[int]] = {}
    for face in catalog.faces():
        found.setdefault(Path(face["path"]).relative_to(folder).parts[0], set()).add(face["person"])
    assert all(len(ids) == 1 for ids in found.values()), found
    return {name: ids.pop() for name, ids in found.items()}


def test_people_folders_hold_keepers_metadata_and_summary(portraits: Path, tmp_path: Path) -> None:
    dest = tmp_path / "people"
    with Catalog(portraits / ".photocull" / "catalog.db") as catalog:
        ids = _person_of(catalog, portraits)
        catalog.people.label(ids["obama"], "Barack", "main")
        report = export_people(catalog, dest, FACES)
    obama, biden = f"person_{ids['obama']:03d}", f"person_{ids['biden']:03d}"
    folders = sorted(p.name for p in dest.iterdir() if p.is_dir())
    assert folders == sorted(f"person_{i:03d}" for i in ids.values()) and report.people == 5
    assert sorted(p.name for p in (dest / obama).iterdir()) == ["face.jpg", "metadata.json", "obama.jpg"]
    assert sorted(p.name for p in (dest / biden).iterdir()) == ["biden.jpg", "biden2.jpg", "face.jpg",
                                                                 "metadata.json"]
    assert (dest / obama / "obama.jpg").read_bytes() == (portraits / "obama" / "obama.jpg").read_bytes()
    metadata = json.loads((dest / obama / "metadata.json").read_text())
    assert (metadata["id"], metadata["name"], metadata["role"]) == (ids["obama"], "Barack", "main")
    assert metadata["faces"] == 2 and metadata["photos_total"] == 2 and metadata["kept"] == 1
    assert [p["source"] for p in metadata["photos"]] == ["obama/obama.jpg"]
    assert metadata["representative"]["crop"] == "face.jpg"
    rows = {r["person"]: r for r in csv.DictReader((dest / "summary.csv").open())}
    assert set(rows) == set(folders)
    assert (rows[obama]["name"], rows[obama]["role"], rows[obama]["photos"], rows[obama]["kept"]) == \
        ("Barack", "main", "1", "1")
    assert rows[f"person_{ids['rose_leslie']:03d}"]["photos"] == "0"  # no keepers of hers


def test_every_photo_with_all_and_hard_links(portraits: Path, tmp_path: Path) -> None:
    dest = tmp_path / "everyone"
    result = run_cli("export", "people", dest, "-f", portraits, "--all", "--mode", "link")
    assert "5 people" in result.stderr
    with Catalog(portraits / ".photocull" / "catalog.db") as catalog:
        ids = _person_of(catalog, portraits)
    rose = dest / f"person_{ids['rose_leslie']:03d}"
    assert {"img1.jpg", "img2.jpg"} <= {p.name for p in rose.iterdir()}
    assert (rose / "img1.jpg").stat().st_ino == (portraits / "rose_leslie" / "img1.jpg").stat().st_ino
    rows = list(csv.DictReader((dest / "summary.csv").open()))
    assert sum(int(r["photos"]) for r in rows) == 9
