#!/usr/bin/env python
"""People benchmark: placing new faces incrementally against re-clustering every face.

A real catalog file is filled with an archive's faces (synthetic descriptors
with the corpus's geometry: people about 0.9 apart, faces about 0.25 from
their person's mean face, i.e. 0.35 from each other, 1.5 faces a photo)
and then grows by a new batch of photos, as after a day's shoot:

* **incremental**: ``update_people`` after the new scan (what ``photocull
  scan`` does): reads only the new faces, places them against the stored
  people;
* **baseline**: ``recluster`` (``photocull people --recluster``): reads and
  clusters every face again.

Both run on copies of the same catalog in one run; the table gives seconds,
faces/s and the ratio, plus pairwise precision/recall against the synthetic
truth (the two must agree). Writes ``bench/results/people_bench.json``.

Usage::

    python bench/people_bench.py [--people 600] [--faces 30000] [--new 1000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from photocull.catalog.store import Catalog
from photocull.config import Settings
from photocull.people.update import recluster, update_people
from photocull.vectors import to_bytes

RESULTS = Path(__file__).resolve().parent / "results" / "people_bench.json"


def synthetic_faces(people: int, faces: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(descriptors, true person of each, photo of each): 1.5 faces a photo, never one person twice."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=0.9 / np.sqrt(2 * 128), size=(people, 128))
    who = rng.integers(0, people, faces)
    descriptors = centres[who] + rng.normal(scale=0.25 / np.sqrt(128), size=(faces, 128))
    photos = np.empty(faces, np.int64)
    photo, members = 0, set()
    for i in range(faces):  # fill photos with 1 or 2 faces of different people
        if len(members) == 2 or who[i] in members or (members and rng.random() < 0.5):
            photo, members = photo + 1, set()
        photos[i] = photo
        members.add(who[i])
    return descriptors.astype(np.float32), who, photos


def write_faces(path: Path, descriptors: np.ndarray, photos: np.ndarray, first: int) -> None:
    """Rows as a scan with the faces analyser writes them (photos, faces, detected_faces)."""
    Catalog(path).close()  # create and migrate
    db = sqlite3.connect(path)
    with db:
        for photo in np.unique(photos[first:]):
            key = f"photo{photo:08d}"
            db.execute("INSERT INTO photos (content_hash, stamp, format, width, height, megapixels, decode_mode) "
                       "VALUES (?, 'bench', 'JPEG', 4000, 3000, 12, 'bench')", (key,))
            db.execute("INSERT INTO faces (content_hash, stamp, face_count) VALUES (?, 'bench', 0)", (key,))
        index: dict[int, int] = {}
        for i in range(first, len(descriptors)):
            key = f"photo{photos[i]:08d}"
            face_index = index[photos[i]] = index.get(photos[i], -1) + 1
            db.execute(
                "INSERT INTO detected_faces VALUES (?, ?, 0.1, 0.1, 0.2, 0.2, 0.9, 1, 0.8, 0.8, 'open', 0.9, 0, "
                "0, 0, 1, 0.5, 0.5, ?)", (key, face_index, to_bytes(descriptors[i])))
    db.close()


def placed(path: Path) -> dict[tuple[str, int], int]:
    with sqlite3.connect(path) as db:
        return {(h, i): p for h, i, p in db.execute("SELECT content_hash, face_index, person_id FROM face_people")}


def pairwise(found: dict[tuple[str, int], int], truth: dict[tuple[str, int], int]) -> tuple[float, float]:
    """Pairwise precision and recall, counted per cluster (no N^2 pair list)."""
    def pairs(counts: np.ndarray) -> float:
        return float((counts * (counts - 1) // 2).sum())

    keys = list(truth)
    a = np.array([found[k] for k in keys])
    b = np.array([truth[k] for k in keys])
    _, both = np.unique(np.stack([a, b], 1), axis=0, return_counts=True)
    tp = pairs(both)
    return tp / pairs(np.unique(a, return_counts=True)[1]), tp / pairs(np.unique(b, return_counts=True)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=600)
    parser.add_argument("--faces", type=int, default=30000, help="faces already in the catalog")
    parser.add_argument("--new", type=int, default=1000, help="faces of the new photos")
    args = parser.parse_args()
    descriptors, who, photos = synthetic_faces(args.people, args.faces + args.new)
    # the new batch starts at a photo boundary
    cut = int(np.searchsorted(photos, photos[args.faces]))
    settings = Settings()
    results: dict = {"people": args.people, "faces": cut, "new_faces": len(descriptors) - cut}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "archive.db"
        write_faces(base, descriptors[:cut], photos[:cut], 0)
        with Catalog(base) as catalog:
            started = time.perf_counter()
            first = update_people(catalog, settings)
            results["first_clustering_s"] = time.perf_counter() - started
        for name, action in (("incremental", update_people), ("recluster", recluster)):
            path = Path(tmp) / f"{name}.db"
            shutil.copy(base, path)
            write_faces(path, descriptors, photos, cut)
            with Catalog(path) as catalog:
                started = time.perf_counter()
                done = action(catalog, settings)
                seconds = time.perf_counter() - started
            truth = {(f"photo{photos[i]:08d}", i - int(np.searchsorted(photos, photos[i]))): int(who[i])
                     for i in range(len(descriptors))}
            precision, recall = pairwise(placed(path), truth)
            results[name] = {"seconds": round(seconds, 3), "faces_read": done.faces_placed,
                             "people": done.people, "precision": round(precision, 4), "recall": round(recall, 4)}
    results["first_clustering_people"] = first.people
    results["speedup"] = round(results["recluster"]["seconds"] / results["incremental"]["seconds"], 1)
    print(f"{results['faces']} faces of {args.people} people in the catalog, {results['new_faces']} new faces")
    print(f"first clustering of the archive: {results['first_clustering_s']:.2f} s "
          f"({results['faces'] / results['first_clustering_s']:.0f} faces/s), {first.people} people")
    print(f"{'':14}{'seconds':>9}{'faces read':>12}{'people':>8}{'precision':>11}{'recall':>8}")
    for name in ("incremental", "recluster"):
        row = results[name]
        print(f"{name:14}{row['seconds']:9.3f}{row['faces_read']:12}{row['people']:8}"
              f"{row['precision']:11.4f}{row['recall']:8.4f}")
    print(f"incremental is {results['speedup']}x faster than re-clustering")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
