#!/usr/bin/env python
"""Grouping benchmark: find_groups on 10,000 and 100,000 photos, against the naive all-pairs matrix.

The photos are made from real EfficientNet-Lite0 embeddings of the corpus
(scanned once into ``bench/data/grouping_corpus.db``): each scene is a mixture
of three corpus photos, re-weighted feature by feature (unrelated scenes then
have cosines like real photos: median ~0.2, 99.9th percentile ~0.6), and each
shot of a scene re-weights its scene again (cosine to the scene ~0.8-0.98).
Scenes have 1 shot (55 %) or a burst of 2-12, shots 0.3-2 s apart, scenes
minutes apart on four cameras; 3 % of files are exact copies of another file.
pHashes are random per scene, a few bits apart per shot.

Runs, each in its own process (peak memory is the process's ru_maxrss):

* ``exact``: find_groups with exact blockwise neighbours (10,000 only);
* ``ann``: find_groups with the PCA + usearch index (10,000 and 100,000);
* ``naive``: the imagededup way, one n x n cosine matrix thresholded at
  near_duplicate_cosine (10,000 only; extrapolated to 100,000 as n^2).

Verification is off (synthetic photos have no pixels): with it on, a real
library also pays ORB (~15-40 ms a photo, once) for photos that have a
neighbour between verify_cosine and near_duplicate_cosine. Reports seconds,
peak RSS, groups, pairwise precision/recall against the made scenes, and the
index's recall against exact search at 10,000 (neighbour lists, and the
candidate pairs above verify_cosine, the ones grouping uses).

Usage::

    python bench/grouping_bench.py [--sizes 10000 100000]

Writes ``bench/results/grouping.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "grouping.json"
DATA = HERE / "data"
CORPUS = HERE.parents[1] / "shared" / "corpus"
CORPUS_FOLDERS = ("scenes", "dedup", "faces", "exif", "orientation")
CAMERAS = 4


def corpus_vectors() -> np.ndarray:
    """The corpus photos' real embeddings (scanned once, kept in bench/data)."""
    cached = DATA / "grouping_corpus_vectors.npy"
    if cached.is_file():
        return np.load(cached)
    from photocull.catalog.store import Catalog
    from photocull.config import Settings
    from photocull.pipeline.scan import scan

    DATA.mkdir(parents=True, exist_ok=True)
    with Catalog(DATA / "grouping_corpus.db") as catalog:
        scan([CORPUS / f for f in CORPUS_FOLDERS], catalog, Settings(scan={"analysers": ("embedding",)}))
        _, vectors = catalog.vectors("embedding", "vector")
    np.save(cached, vectors)
    return vectors


def make_library(n: int, seed: int = 0):
    """n photos (GroupingInput) and the scene each belongs to."""
    from photocull.grouping.groups import GroupingInput, PhotoItem

    rng = np.random.default_rng(seed)
    base = corpus_vectors()
    base = base / np.linalg.norm(base, axis=1, keepdims=True)
    sizes = []
    while sum(sizes) < n:
        sizes.append(1 if rng.random() < 0.55 else int(rng.integers(2, 13)))
    scenes = len(sizes)
    scene_of = np.repeat(np.arange(scenes), sizes)[:n]
    vectors = np.empty((n, base.shape[1]), np.float32)
    for start in range(0, scenes, 4096):  # scenes in chunks: memory stays near the output's
        stop = min(start + 4096, scenes)
        idx = rng.integers(0, len(base), (stop - start, 3))
        weights = rng.dirichlet([0.5] * 3, stop - start).astype(np.float32)
        centres = np.einsum("sk,skd->sd", weights, base[idx]) * rng.lognormal(0, 0.8, (stop - start, base.shape[1]))
        rows = np.flatnonzero((scene_of >= start) & (scene_of < stop))
        shots = centres[scene_of[rows] - start] * rng.lognormal(0, rng.uniform(0.15, 0.45, (len(rows), 1)),
                                                               (len(rows), base.shape[1]))
        vectors[rows] = shots / np.linalg.norm(shots, axis=1, keepdims=True)
    scene_hash = rng.integers(0, 2**63, scenes)
    flips = rng.integers(0, 64, (n, 4))
    gaps = np.where(np.r_[True, scene_of[1:] != scene_of[:-1]], rng.exponential(300, n) + 10, rng.uniform(0.3, 2.0, n))
    times = 1.7e9 + np.cumsum(gaps)
    camera_of = rng.integers(0, CAMERAS, scenes)
    copy_of = np.where(rng.random(n) < 0.03, rng.integers(0, n, n), -1)
    items = []
    for i in range(n):
        j = copy_of[i] if copy_of[i] >= 0 else i
        s = scene_of[j]
        phash = int(scene_hash[s])
        for bit in flips[j][: 1 + j % 4]:
            phash ^= 1 << int(bit)
        items.append(PhotoItem(
            key=f"p{i:06d}.jpg", path=f"/lib/p{i:06d}.jpg", content_hash=f"h{j}", size=3_000_000, format="JPEG",
            width=4000, height=3000, capture_time=None, capture_timestamp=float(times[j]),
            camera=f"Cam {camera_of[s]}", burst_id=None, sequence_number=None, exposure_bias=0.0,
            exposure_time=1 / 250, f_number=4.0, iso=200, focal_length=35.0, phash=phash - 2**63, has_vector=True,
        ))
        if j != i:
            vectors[i] = vectors[j]
    scene_of = np.where(copy_of >= 0, scene_of[np.maximum(copy_of, 0)], scene_of)
    return GroupingInput(items, vectors), scene_of


def pair_scores(groups: list[list[int]], scene_of: np.ndarray) -> tuple[float, float]:
    """Pairwise precision and recall of groups against the made scenes."""
    found = sum(len(g) * (len(g) - 1) // 2 for g in groups)
    right = 0
    for g in groups:
        _, counts = np.unique(scene_of[g], return_counts=True)
        right += int((counts * (counts - 1) // 2).sum())
    _, counts = np.unique(scene_of, return_counts=True)
    truth = int((counts * (counts - 1) // 2).sum())
    return (right / found if found else 1.0), (right / truth if truth else 1.0)


def run_one(mode: str, n: int) -> dict:
    """One measurement in this process: seconds, peak memory, and what was found."""
    import psutil

    from photocull.config import GroupingSettings
    from photocull.grouping.build import find_groups

    data, scene_of = make_library(n)
    rss_before = psutil.Process().memory_info().rss
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out: dict = {"mode": mode, "photos": n, "input_mb": round(data.vectors.nbytes / 2**20)}
    started = time.perf_counter()
    if mode == "naive":
        sims = data.vectors @ data.vectors.T  # the whole matrix, as imagededup does
        np.fill_diagonal(sims, 0)
        pairs = np.argwhere(np.triu(sims >= GroupingSettings().near_duplicate_cosine))
        out["pairs"] = len(pairs)
    else:
        settings = GroupingSettings(exact_below=10**9 if mode == "exact" else 0)
        groups = find_groups(data, settings, verify=False)
        members = [g.members for g in groups]
        out["groups"] = len(groups)
        out["grouped_photos"] = sum(map(len, members))
        out["largest_group"] = max(map(len, members), default=0)
        out["pair_precision"], out["pair_recall"] = (round(x, 4) for x in pair_scores(members, scene_of))
        out["membership"] = _membership_digest(members)
    out["seconds"] = round(time.perf_counter() - started, 2)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out["peak_rss_mb"] = round(peak / 2**20)
    out["rss_before_mb"] = round(rss_before / 2**20)
    out["peak_before_mb"] = round(peak_before / 2**20)
    return out


def _membership_digest(members: list[list[int]]) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(sorted(members)).encode()).hexdigest()[:16]


def index_recall(n: int, k: int) -> dict:
    """Recall of the approximate index against exact search: neighbour lists, and candidate pairs."""
    from photocull.config import GroupingSettings
    from photocull.grouping.index import approximate_neighbours, candidate_pairs, exact_neighbours

    data, _ = make_library(n)
    x = data.vectors
    started = time.perf_counter()
    approx = approximate_neighbours(x, k)  # 2k candidates, the photo itself among them
    ann_s = time.perf_counter() - started
    started = time.perf_counter()
    exact, _ = exact_neighbours(x, k)
    exact_s = time.perf_counter() - started
    hits = sum(len(set(a) & set(e)) for a, e in zip(approx, exact))
    s = GroupingSettings()
    floor = min(s.verify_cosine, s.copy_cosine)
    pa = candidate_pairs(x, k, floor, exact_below=0)
    pe = candidate_pairs(x, k, floor, exact_below=10**9)
    found = set(zip(pa[0].tolist(), pa[1].tolist()))
    truth = set(zip(pe[0].tolist(), pe[1].tolist()))
    near = {p for p, c in zip(zip(pe[0].tolist(), pe[1].tolist()), pe[2]) if c >= s.near_duplicate_cosine}
    return {"photos": n, "k": k, "neighbour_recall": round(hits / exact.size, 4),
            "pair_recall": round(len(found & truth) / max(1, len(truth)), 4),
            "near_duplicate_pair_recall": round(len(found & near) / max(1, len(near)), 4),
            "ann_seconds": round(ann_s, 2), "exact_seconds": round(exact_s, 2)}


def child(*args: str) -> dict:
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--one", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--recall", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]))))
        return
    if args.recall:
        from photocull.config import GroupingSettings

        print(json.dumps(index_recall(args.recall, GroupingSettings().neighbours)))
        return

    corpus_vectors()  # scan the corpus once, outside any timing
    runs = []
    small = min(args.sizes)
    for mode, n in [("exact", small), ("ann", small), ("naive", small)] + [("ann", n) for n in args.sizes if n > small]:
        print(f"{mode} {n:,} ...", file=sys.stderr, flush=True)
        runs.append(child("--one", mode, str(n)))
    recall = child("--recall", str(small))
    naive = next(r for r in runs if r["mode"] == "naive")
    largest = max(args.sizes)
    factor = (largest / naive["photos"]) ** 2
    extrapolated = {"photos": largest, "seconds": round(naive["seconds"] * factor),
                    "matrix_gb": round(largest**2 * 4 / 2**30, 1)}
    report = {"machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}, "runs": runs,
              "index_recall": recall, "naive_extrapolated": extrapolated,
              "targets": {"100k_under_60_s": None, "100k_under_2_gb": None}}
    big = next((r for r in runs if r["mode"] == "ann" and r["photos"] == 100_000), None)
    if big:
        report["targets"] = {"100k_under_60_s": big["seconds"] < 60, "100k_under_2_gb": big["peak_rss_mb"] < 2048}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))

    print(f"{'run':<8}{'photos':>9}{'seconds':>9}{'peak RSS MB':>13}{'groups':>8}{'pair P':>8}{'pair R':>8}")
    for r in runs:
        print(f"{r['mode']:<8}{r['photos']:>9,}{r['seconds']:>9}{r['peak_rss_mb']:>13}{r.get('groups', '-'):>8}"
              f"{r.get('pair_precision', '-'):>8}{r.get('pair_recall', '-'):>8}")
    print(f"naive at {largest:,}: ~{extrapolated['seconds']} s, a {extrapolated['matrix_gb']} GB matrix (extrapolated)")
    print(f"index at {small:,}: neighbour recall {recall['neighbour_recall']}, candidate-pair recall "
          f"{recall['pair_recall']}, near-duplicate pairs {recall['near_duplicate_pair_recall']}")
    exact = next(r for r in runs if r["mode"] == "exact")
    ann = next(r for r in runs if r["mode"] == "ann" and r["photos"] == small)
    print(f"groups at {small:,}: exact and approximate neighbours give "
          f"{'the same' if exact['membership'] == ann['membership'] else 'different'} groups")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
