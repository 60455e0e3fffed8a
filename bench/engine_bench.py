#!/usr/bin/env python
"""Engine benchmark: the local process pool against Ray on this machine (issue #7).

Scans the same photos (``bench/data/set-300``: 300 generated 12 MP JPEGs; make
them with ``python bench/scan_bench.py --photos 300``, which writes
``bench/data/set-300``) with the same analysers into a fresh catalog per run,
once with ``scan.engine = "local"`` and once with ``"ray"``, in this process.
Ray is started here first (``start_local_ray``: 127.0.0.1 only, its own
temporary folder) and one tiny Ray Data pipeline creates Ray Data's detached
helper actors, which a running cluster keeps for every later job; both are
printed apart and not in the scan time. The actor pools' start and model
loading are.

Also measured: how many results a second the scan's one writer commits (the
first local run's results written again under new names), the ceiling of any
cluster feeding one driver (docs/scale-out.md, projection).

Reported per run: wall seconds of the scan, photos/s over the wall time,
steady photos/s (first to last result) and the seconds to the first result
(start-up: the local pool's workers, or Ray Data's actor pools). The overhead is
``1 - ray photos/s / local photos/s`` (the issue's target: at most 15 %). The
load average is recorded: other work on the machine skews the numbers.

Usage::

    python bench/engine_bench.py [--data DIR] [--analysers technical,fingerprints,aesthetic,embedding]
                                 [--analysers technical,fingerprints] [--repeat 1] [--out FILE]

See docs/scale-out.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(REPO_ROOT / "src"))

TARGET_OVERHEAD = 0.15
DEFAULT_ANALYSERS = ["technical,fingerprints,aesthetic,embedding", "technical,fingerprints"]


def run_once(photos: Path, engine: str, analysers: str, work: Path, keep: list | None = None) -> dict:
    """One scan into a fresh catalog; ``keep`` collects its results (for :func:`writer_rate`)."""
    from photocull.catalog.store import Catalog
    from photocull.config import Settings
    from photocull.pipeline.scan import scan

    times: list[float] = []
    settings = Settings(scan={"engine": engine, "analysers": tuple(analysers.split(",")), "thumbnails": False})
    catalog_path = work / f"{engine}-{time.monotonic_ns()}.db"
    started = time.perf_counter()
    with Catalog(catalog_path) as catalog:
        def on_result(result, *_) -> None:
            times.append(time.perf_counter())
            if keep is not None:
                keep.append(result)

        report = scan([photos], catalog, settings, on_result=on_result)
    wall = time.perf_counter() - started
    catalog_path.unlink()
    steady = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else None
    return {"engine": engine, "analysers": analysers, "photos": report.processed, "wall_s": round(wall, 2),
            "photos_per_s": round(report.processed / wall, 2),
            "steady_photos_per_s": None if steady is None else round(steady, 2),
            "first_result_s": round(times[0] - started, 2) if times else None,  # start-up: workers, models
            "unreadable": report.unreadable}


def writer_rate(results: list, work: Path, copies: int = 10) -> float:
    """Results a second the scan's one writer commits (``catalog.write_results`` in batches of
    ``scan.commit_every``), with every analysis: the ceiling of any cluster feeding one driver.

    ``results`` are written ``copies`` times under new paths and content hashes, so every row is new.
    """
    from dataclasses import replace

    from photocull.catalog.store import Catalog
    from photocull.config import Settings

    rows = []
    for n in range(copies):
        for result in results:
            if result.photo is not None:
                content_hash = f"{n:04x}{result.content_hash[4:]}"
                rows.append(replace(result, path=work / f"copy{n}" / Path(result.path).name, content_hash=content_hash,
                                    photo=replace(result.photo, content_hash=content_hash)))
    every = Settings().scan.commit_every
    with Catalog(work / "writer.db") as catalog:
        started = time.perf_counter()
        for start in range(0, len(rows), every):
            catalog.write_results(rows[start:start + every])
        return len(rows) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=BENCH_DIR / "data" / "set-300")
    parser.add_argument("--analysers", action="append", help="comma-separated; repeat for several sets")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "engine.json")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no photos at {args.data}: generate them with  python bench/scan_bench.py --photos 300", file=sys.stderr)
        return 2
    try:
        import ray
        import ray.data

        from photocull.pipeline.ray_engine import start_local_ray
    except ImportError:
        print("Ray is not installed: pip install 'photocull[ray]'", file=sys.stderr)
        return 2

    load_before = os.getloadavg()
    temp = None
    work = Path(tempfile.mkdtemp(prefix="photocull-engine-bench-"))
    runs = []
    kept: list = []  # the first local run's results, for the writer's ceiling
    try:
        started = time.perf_counter()
        temp = start_local_ray(os.cpu_count() or 1)
        ray_start = time.perf_counter() - started
        started = time.perf_counter()
        ray.data.range(2).map_batches(lambda batch: batch).take_all()  # Ray Data's detached helper actors
        data_start = time.perf_counter() - started
        print(f"Ray started in {ray_start:.1f} s, Ray Data's helper actors in {data_start:.1f} s (neither counted below)")
        for analysers in args.analysers or DEFAULT_ANALYSERS:
            for _ in range(args.repeat):
                for engine in ("local", "ray"):
                    run = run_once(args.data, engine, analysers, work, None if kept else kept)
                    runs.append(run)
                    print(f"  {engine:5} {analysers:45} {run['wall_s']:7.1f} s  {run['photos_per_s']:6.1f} photos/s "
                          f"(steady {run['steady_photos_per_s']}, first result after {run['first_result_s']} s)", flush=True)
        writes = writer_rate(kept, work)
        print(f"the one writer commits {writes:.0f} results/s with analyses {sorted(kept[0].photo.analyses)}")
    finally:
        ray.shutdown()
        if temp:
            shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()

    summary = []
    for analysers in args.analysers or DEFAULT_ANALYSERS:
        best = {e: max(r["photos_per_s"] for r in runs if r["engine"] == e and r["analysers"] == analysers)
                for e in ("local", "ray")}
        steady = {e: max(r["steady_photos_per_s"] or 0 for r in runs if r["engine"] == e and r["analysers"] == analysers)
                  for e in ("local", "ray")}
        overhead = 1 - best["ray"] / best["local"]
        summary.append({"analysers": analysers, "local_photos_per_s": best["local"],
                        "ray_photos_per_s": best["ray"], "overhead": round(overhead, 3),
                        "target_met": overhead <= TARGET_OVERHEAD,
                        "steady_overhead": round(1 - steady["ray"] / steady["local"], 3)})

    print()
    print(f"{'analysers':45} {'local/s':>8} {'ray/s':>8} {'overhead':>9} {'steady':>7}  target <= {TARGET_OVERHEAD:.0%}")
    for row in summary:
        print(f"{row['analysers']:45} {row['local_photos_per_s']:8.1f} {row['ray_photos_per_s']:8.1f} "
              f"{row['overhead']:9.1%} {row['steady_overhead']:7.1%}  {'met' if row['target_met'] else 'MISSED'}")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")

    result = {
        "when": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "ray": ray.__version__,
                    "load_average_before": load_before, "load_average_after": load_after},
        "photos": str(args.data), "ray_start_s": round(ray_start, 2), "ray_data_start_s": round(data_start, 2),
        "writer_results_per_s": round(writes),
        "target_overhead": TARGET_OVERHEAD, "runs": runs, "summary": summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
