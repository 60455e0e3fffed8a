"""People in a real catalog: scans place faces into people, incrementally; names, roles and the user's
corrections survive re-scans and re-clustering; crops and exports show them."""

from __future__ import annotations

import csv
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photocull.catalog.store import Catalog
from photocull.config import Settings
from photocull.people import edits
from photocull.people.clustering import Person, assign
from photocull.people.update import recluster
from photocull.pipeline.scan import scan
from tests.helpers import run_cli
from tests.people.test_clustering import GROUPS  # who is in each group photo

FACES = Settings(scan={"analysers": ("technical", "faces")})


def _people_by_file(catalog: Catalog) -> dict[str, list[int | None]]:
    found: dict[str, list[int | None]] = {}
    for face in catalog.faces():
        found.setdefault(Path(face["path"]).relative_to(catalog.root).as_posix(), []).append(face["person"])
    return found


@pytest.fixture(scope="module")
def scanned(corpus: Path, models_ready: Path, tmp_path_factory) -> dict:
    """Portraits scanned first, then the group photos added and scanned: the second scan is incremental."""
    folder = tmp_path_factory.mktemp("people")
    shutil.copytree(corpus / "faces" / "people", folder / "people")
    with Catalog(folder / ".photocull" / "catalog.db") as catalog:
        first = scan([folder], catalog, FACES)
        before = _people_by_file(catalog)
        for name in GROUPS:
            shutil.copy(corpus / "faces" / "groups" / name, folder)
        second = scan([folder], catalog, FACES)
        after = _people_by_file(catalog)
    return {"folder": folder, "first": first, "second": second, "before": before, "after": after}


def _copy(scanned: dict, tmp_path: Path) -> Path:
    """A private copy of the scanned folder, catalog included, for tests that change people."""
    folder = tmp_path / "copy"
    shutil.copytree(scanned["folder"], folder)
    return folder


def _portrait_person(after: dict[str, list[int | None]]) -> dict[str, int]:
    """The person id of each portrait folder's name (every face of a folder must share it)."""
    ids: dict[str, set] = {}
    for path, people in after.items():
        if path.startswith("people/"):
            ids.setdefault(path.split("/")[1], set()).update(people)
    assert all(len(found) == 1 for found in ids.values()), ids
    return {name: next(iter(found)) for name, found in ids.items()}


def test_portraits_cluster_by_person(scanned: dict) -> None:
    faces = [(path.split("/")[1], person) for path, people in scanned["after"].items()
             if path.startswith("people/") for person in people]
    pairs = list(itertools.combinations(faces, 2))
    true_same = {i for i, (a, b) in enumerate(pairs) if a[0] == b[0]}
    found_same = {i for i, (a, b) in enumerate(pairs) if a[1] == b[1]}
    precision = len(true_same & found_same) / len(found_same)
    recall = len(true_same & found_same) / len(true_same)
    f1 = 2 * precision * recall / (precision + recall)
    print(f"people pairwise F1 (catalog, after an incremental scan): {f1:.3f} over {len(faces)} faces")
    assert f1 >= 0.95
    assert scanned["first"].people.new_people == 5 and scanned["first"].people.faces_placed == len(faces)


def test_new_photos_join_existing_people_without_reclustering(scanned: dict) -> None:
    before, after = scanned["before"], scanned["after"]
    assert {path: after[path] for path in before} == before  # the first scan's people keep their ids
    assert not scanned["second"].people.reclustered
    person = _portrait_person(after)
    for name, who in GROUPS.items():
        known = {person[w] for w in who}
        assert known <= set(after[name]), (name, after[name], known)
        assert len(set(after[name])) == len(after[name]), name  # two faces of one photo: two people
    strangers = {p for name in GROUPS for p in after[name]} - set(person.values())
    assert len(strangers) == 1  # the girl in obama_and_biden.jpg, a person of her own
    assert scanned["second"].people.new_people == 1


def test_listing_writes_one_crop_per_person(scanned: dict, tmp_path: Path) -> None:
    crops = tmp_path / "crops"
    listed = json.loads(run_cli("people", "-f", scanned["folder"], "--crops", crops, "--json").stdout)
    assert len(listed) == 6 and [p["faces"] for p in listed] == sorted((p["faces"] for p in listed), reverse=True)
    for person in listed:
        crop = Path(person["crop"])
        assert crop.parent == crops and crop.name.startswith(f"person-{person['id']}-")
        with Image.open(crop) as image:
            assert image.size == (256, 256) and image.format == "JPEG"
    assert len(list(crops.iterdir())) == len(listed)
    text = run_cli("people", "-f", scanned["folder"], "--no-crops").stdout
    assert "6 people" in text


def test_names_and_roles_survive_rescans_and_reclustering(scanned: dict, tmp_path: Path) -> None:
    folder = _copy(scanned, tmp_path)
    obama = _portrait_person(scanned["after"])["obama"]
    run_cli("people", "label", obama, "--name", "Barack", "--role", "main", "-f", folder)
    with Catalog(folder / ".photocull" / "catalog.db") as catalog:
        # Another faces setting: every photo's faces are measured again and their rows replaced.
        again = scan([folder], catalog, Settings(scan={"analysers": ("technical", "faces")},
                                                 faces={"min_score": 0.66}))
        assert again.analyser_runs.get("faces") == again.files
        assert _people_by_file(catalog) == scanned["after"]
        done = recluster(catalog, Settings())
        assert done.reclustered and _people_by_file(catalog) == scanned["after"]
        assert catalog.people.person(obama) == {"id": obama, "name": "Barack", "role": "main"}
    rows = _face_csv(folder, tmp_path)
    named = [r for r in rows if r["person_name"] == "Barack"]
    assert len(named) == 5 and {r["role"] for r in named} == {"main"}
    assert all(r["role"] == "other" for r in rows if r["person_name"] != "Barack")


def test_merge_and_split_are_kept_by_reclustering(scanned: dict, tmp_path: Path) -> None:
    folder = _copy(scanned, tmp_path)
    person = _portrait_person(scanned["after"])
    biden, obama = person["biden"], person["obama"]
    run_cli("people", "label", biden, "--name", "Joe", "--role", "important", "-f", folder)
    merged = run_cli("people", "merge", obama, biden, "-f", folder)  # a mistake, on purpose
    assert "appears twice" in merged.stderr  # they share two group photos
    with Catalog(folder / ".photocull" / "catalog.db") as catalog:
        assert catalog.people.person(biden) is None
        assert catalog.people.person(obama)["role"] == "important"  # the more important role of the two
    moved = run_cli("people", "split", obama, folder / "people" / "biden" / "biden.jpg", "--to", obama + 100,
                    check=False)
    assert moved.returncode == 1 and f"no person {obama + 100}" in moved.stderr
    moved = run_cli("people", "split", obama, folder / "people" / "biden" / "biden.jpg")
    new_id = int(moved.stderr.split("to person ")[1].split()[0])
    assert new_id > max(p for people in scanned["after"].values() for p in people)  # ids are never reused
    with Catalog(folder / ".photocull" / "catalog.db") as catalog:
        recluster(catalog, Settings())
        people = _people_by_file(catalog)
    assert people["people/biden/biden.jpg"] == [new_id]
    assert people["people/biden/biden2.jpg"] == [obama]  # merged by the user: stays merged
    shown = json.loads(run_cli("people", "show", obama, "-f", folder, "--json").stdout)
    assert len(shown) == 8 and all(row["confirmed"] for row in shown)
    assert [r["distance"] for r in shown] == sorted((r["distance"] for r in shown), reverse=True)
    bad = run_cli("people", "split", obama, folder / "people" / "rose_leslie" / "img1.jpg", check=False)
    assert bad.returncode == 1 and "has no face in that photo" in bad.stderr


def test_face_rules_rank_photos_through_the_cli(scanned: dict, tmp_path: Path) -> None:
    folder = _copy(scanned, tmp_path)
    stranger = scanned["after"]["obama_and_biden.jpg"][2]  # the girl, looking down with closed eyes
    shown = json.loads(run_cli("show", folder / "obama_and_biden.jpg", "--json").stdout)
    assert shown["faces"][2]["eyes"] == "closed" and not shown["face_verdict"]["rejected"]
    run_cli("people", "label", stranger, "--role", "main", "-f", folder)
    shown = json.loads(run_cli("show", folder / "obama_and_biden.jpg", "--json").stdout)
    assert shown["face_verdict"]["rejected"] and "rejects the photo" in shown["face_verdict"]["reasons"][0]
    ranked = json.loads(run_cli("top", folder, "--by", "faces", "-n", "100", "--json").stdout)
    assert len(ranked) == 15 and ranked[-1]["path"].endswith("obama_and_biden.jpg")  # rejected: last
    scores = [r["face_score"] for r in ranked if not r["face_rejected"]]
    assert scores == sorted(scores, reverse=True)


def test_assign_keeps_a_person_out_of_photos_they_are_already_in() -> None:
    rng = np.random.default_rng(1)
    centre = rng.normal(size=128)
    centre /= np.linalg.norm(centre)
    person = Person(1, centre.astype(np.float32), 3, 0.1)
    step = rng.normal(size=128)
    step *= 0.2 / np.linalg.norm(step)
    near = np.stack([centre + step, centre - step])  # each nearer the person than the other
    free = assign(near, ["a", "b"], [person])
    assert list(free.labels) == [1, 1]
    blocked = assign(near, ["a", "b"], [person], people_photos=[{"a"}])
    assert list(blocked.labels) == [2, 1]  # person 1 already has a face in photo a


def test_correction_errors_name_the_problem(scanned: dict, tmp_path: Path) -> None:
    folder = _copy(scanned, tmp_path)
    with Catalog(folder / ".photocull" / "catalog.db") as catalog:
        with pytest.raises(edits.PeopleError, match="no person 999"):
            edits.label(catalog, 999, name="x")
        with pytest.raises(edits.PeopleError, match="role must be one of"):
            edits.label(catalog, 1, role="boss")
        with pytest.raises(edits.PeopleError, match="distinct"):
            edits.merge(catalog, 1, [1])


def _face_csv(folder: Path, tmp_path: Path) -> list[dict]:
    output = tmp_path / "face_data.csv"
    run_cli("export", "faces", folder, "-o", output)
    with open(output, newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0])[:9] == ["path", "face_index", "x0", "y0", "x1", "y1", "person", "person_name", "role"]
    return rows
