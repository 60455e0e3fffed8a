#!/usr/bin/env python
"""Listing benchmark: the driver's memory for planning a scan of 1,000,000 photos (issue #7).

The issue's target: memory bounded (< 2 GB on the driver) for a 1,000,000-photo
listing. Planning a scan means listing the inputs, comparing every file with
the catalog and handing the work over to the engine (``pipeline/scan.py``,
``scan`` up to ``_run``); the engine then keeps a bounded window in flight.
Each case runs in a fresh Python process, twice: once for the peak resident
memory (``ru_maxrss``; the same process's resident memory after its imports is
subtracted) and once under ``tracemalloc`` (Python's own allocations, its peak).

Cases, all on the same N files:

* ``walk`` (the baseline, what any tool pays): an ``os.scandir`` walk of the
  folder collecting ``(path, size, mtime_ns)`` tuples;
* ``first``: ``scan`` of the folder into a fresh catalog: listing, compare,
  the task list handed over to the engine;
* ``rescan``: the same folder with a catalog that already holds the N files,
  unchanged, with current values for every analyser (nothing to do);
* ``rescan-gone``: the same with one more catalog file that is no longer there,
  so the catalog's keys are compared with the listing's (the slower path);
* ``url-first``: ``scan`` of ``file://<folder>``: the object-storage code path
  (``ingest/remote.py``: fsspec listing, change stamps, URL keys) into a fresh
  catalog. S3 is listed in pages of 1,000 keys instead (their info dicts live
  for one page) and its entries are the same: a URL (here ~65 characters), a
  size and a stamp.

The engine is replaced by a stub at the hand-over (``scan._run``), which records
the memory there and then builds what today's ``_run`` builds from the task
list before the engine starts (a size ``Counter`` and two lists of the tasks:
the files that may be copies, the rest); the local engine then keeps at most
``4 x workers`` files in flight (plus two inference batches), whatever N is.
Model checks (``Analyser.ensure``) are skipped: they load no photos.

The data: N empty files named ``*.jpg`` (planning never reads them), 1,000 per
folder, in ``bench/data/listing-N`` (git-ignored, made once, reused; a
manifest beside it), and the catalog of the ``rescan`` case in its
``.photocull/rescan.db`` (made through the catalog's schema, filled with SQL).
Prints a table and writes ``bench/results/listing.json``.

Usage::

    python bench/listing_bench.py [--photos 1000000] [--cases walk,first,rescan,rescan-gone,url-first]
                                  [--no-tracemalloc] [--remove-data]

See docs/scale-out.md ("Driver memory").
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(REPO_ROOT / "src"))
sys.path.insert(0, str(BENCH_DIR))

from web_bench import write_results  # noqa: E402

CASES = ("walk", "first", "rescan", "rescan-gone", "url-first")
GONE = "gone/IMG_gone.jpg"  # the rescan-gone case's catalog file that is no longer there
PER_FOLDER = 1000
MTIME_NS = 1_700_000_000_123_456_789  # every file's mtime, so the catalog rows can be made in SQL
TARGET_BYTES = 2 * 10**9


# -- data -----------------------------------------------------------------------

def tree_for(data_dir: Path, photos: int) -> Path:
    """``data_dir/listing-N``: N empty ``*.jpg`` files, 1,000 per folder (made once)."""
    root = data_dir / f"listing-{photos}"
    manifest = data_dir / f"listing-{photos}.manifest.json"
    wanted = {"photos": photos, "per_folder": PER_FOLDER, "mtime_ns": MTIME_NS}
    if manifest.is_file() and json.loads(manifest.read_text()) == wanted and root.is_dir():
        return root
    print(f"making {photos:,} empty files in {root} ...", flush=True)
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    for i in range(photos):
        folder = root / f"d{i // PER_FOLDER:04d}"
        if i % PER_FOLDER == 0:
            folder.mkdir(parents=True)
        fd = os.open(folder / f"IMG_{i:07d}.jpg", os.O_CREAT | os.O_WRONLY, 0o644)
        os.utime(fd, ns=(MTIME_NS, MTIME_NS))
        os.close(fd)
    manifest.write_text(json.dumps(wanted) + "\n")
    print(f"  {time.perf_counter() - started:.0f} s", flush=True)
    return root


def rescan_catalog(root: Path, photos: int) -> Path:
    """A catalog of ``root`` that knows every file, unchanged, with current values for every analyser."""
    import sqlite3

    from photocull.analysis.registry import stamps
    from photocull.catalog.store import Catalog
    from photocull.config import load_settings
    from photocull.pipeline.worker import ingest_stamp

    settings = load_settings()
    path = root / ".photocull" / "rescan.db"
    marker = path.with_suffix(".json")
    wanted = {"photos": photos, "ingest": ingest_stamp(settings), "stamps": stamps(settings)}
    if path.is_file() and marker.is_file() and json.loads(marker.read_text()) == wanted:
        return path
    print(f"filling a catalog with {photos:,} files ...", flush=True)
    started = time.perf_counter()
    for stale in (path, marker, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    Catalog(path).close()  # the schema, through the catalog's own migrations
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    numbers = ("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
               "SELECT i, printf('%064x', i * 2654435761 + 12345) AS h FROM n")
    db.execute(f"INSERT INTO files (path, size, mtime_ns, content_hash, status, reason, first_seen, last_scanned) "
               f"SELECT printf('d%04d/IMG_%07d.jpg', i / {PER_FOLDER}, i), 0, {MTIME_NS}, h, 'ok', NULL, 0, 0 "
               f"FROM ({numbers})", (photos - 1,))
    for table, stamp in [("photos", wanted["ingest"]), *wanted["stamps"].items()]:
        columns = db.execute(f"PRAGMA table_info({table})").fetchall()  # cid, name, type, notnull, default, pk
        names, values = [], []
        for _cid, name, kind, notnull, default, _pk in columns:
            if name in ("content_hash", "stamp"):
                continue
            if notnull and default is None:
                names.append(name)
                values.append("''" if "TEXT" in (kind or "").upper() else "0")
        db.execute(f"INSERT INTO {table} (content_hash, stamp{''.join(', ' + n for n in names)}) "
                   f"SELECT h, ?{''.join(', ' + v for v in values)} FROM ({numbers})", (stamp, photos - 1))
    db.execute("COMMIT")
    db.close()
    marker.write_text(json.dumps(wanted) + "\n")
    print(f"  {time.perf_counter() - started:.0f} s, {path.stat().st_size / 2**20:.0f} MiB", flush=True)
    return path


# -- one case, in a fresh process ----------------------------------------------------

def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def child(case: str, root: Path, traced: bool) -> dict:
    """Run one case in this (fresh) process; the numbers as a dict."""
    import tracemalloc
    from collections import Counter

    import photocull.pipeline.scan as scan_module
    from photocull.analysis.base import Analyser, NeuralAnalyser
    from photocull.catalog.store import Catalog
    from photocull.config import load_settings
    from photocull.models.runtime import thread_budget

    settings = load_settings(scan={"thumbnails": False})
    Analyser.ensure = NeuralAnalyser.ensure = lambda self, settings: None  # no model files for planning
    out: dict = {"case": case, "traced": traced}
    handover: dict = {}

    def stub_run(tasks, settings, known, neural, record, writer, thumbnails):
        handover.update(tasks=len(tasks), known=len(known), rss=_rss(), peak_rss=_peak_rss())
        if traced:
            handover["traced"], handover["traced_peak"] = tracemalloc.get_traced_memory()
        # What today's _run builds from the task list before the engine starts.
        sizes = Counter(t.size for t in tasks)
        maybe_copies = [t for t in tasks if sizes[t.size] > 1 and not t.needed]
        analyse = [t for t in tasks if sizes[t.size] == 1 or t.needed]
        handover["queued"] = len(maybe_copies) + len(analyse)
        if traced:
            handover["traced_with_queue"] = tracemalloc.get_traced_memory()[0]
        handover["rss_with_queue"] = _rss()
        workers, _threads = thread_budget(settings, bool(neural))
        handover["window"] = workers * 4

    scan_module._run = stub_run
    rescan = case.startswith("rescan")
    catalog_path = root / ".photocull" / ("rescan.db" if rescan else f"first-{os.getpid()}.db")
    catalog = Catalog(catalog_path) if case != "walk" else None
    if case == "rescan-gone":
        catalog._db.execute("INSERT INTO files (path, size, mtime_ns, status, first_seen, last_scanned) "
                            "VALUES (?, 0, 0, 'ok', 0, 0)", [GONE])
    out["rss_start"] = _rss()
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    if case == "walk":
        rows = walk_baseline(root)
        out["files"] = len(rows)
    else:
        target = root.as_uri() if case == "url-first" else root
        report = scan_module.scan([target], catalog, settings)
        out.update(files=report.files, skipped=report.skipped, missing=report.missing,
                   problems=len(report.problems))
    out["seconds"] = round(time.perf_counter() - started, 1)
    if traced:
        out["traced_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    out["peak_rss"] = _peak_rss()
    out["handover"] = handover
    if catalog is not None:
        if case == "rescan-gone":
            catalog._db.execute("DELETE FROM files WHERE path = ?", [GONE])
        catalog.close()
        if not rescan:
            for suffix in ("", "-wal", "-shm"):
                Path(str(catalog_path) + suffix).unlink(missing_ok=True)
    return out


def walk_baseline(root: Path) -> list[tuple[str, int, int]]:
    """The minimum any tool pays: every photo's (path, size, mtime_ns), nothing else."""
    rows, stack = [], [root]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.name.lower().endswith(".jpg"):
                    st = entry.stat()
                    rows.append((entry.path, st.st_size, st.st_mtime_ns))
    return rows


def run_case(case: str, root: Path, traced: bool) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", case, "--root", str(root)]
                            + (["--traced"] if traced else []), capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"case {case} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- the table ---------------------------------------------------------------------

def summarise(case: str, rss_run: dict, traced_run: dict | None, photos: int) -> dict:
    row = {"case": case, "files": rss_run["files"], "missing": rss_run.get("missing"), "seconds": rss_run["seconds"],
           "peak_rss_mb": round(rss_run["peak_rss"] / 1e6), "start_rss_mb": round(rss_run["rss_start"] / 1e6),
           "rss_bytes_per_photo": round((rss_run["peak_rss"] - rss_run["rss_start"]) / photos)}
    if traced_run is not None:
        row["traced_peak_mb"] = round(traced_run["traced_peak"] / 1e6)
        row["traced_bytes_per_photo"] = round(traced_run["traced_peak"] / photos)
        handover = traced_run["handover"]
        if "traced" in handover:
            row["handover_traced_mb"] = round(handover["traced"] / 1e6)
            row["handover_with_queue_traced_mb"] = round(handover["traced_with_queue"] / 1e6)
    handover = rss_run["handover"]
    if handover:
        row.update(tasks=handover["tasks"], window=handover["window"],
                   handover_rss_mb=round(handover["rss"] / 1e6),
                   handover_with_queue_rss_mb=round(handover["rss_with_queue"] / 1e6))
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=1_000_000)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--data-dir", type=Path, default=BENCH_DIR / "data")
    parser.add_argument("--no-tracemalloc", action="store_true", help="only the peak RSS runs (faster)")
    parser.add_argument("--remove-data", action="store_true", help="delete the generated folder and catalog after")
    parser.add_argument("--out", default="listing.json", help="file name under bench/results/")
    parser.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.root, args.traced)))
        return 0

    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    root = tree_for(args.data_dir, args.photos)
    if any(case.startswith("rescan") for case in cases):
        rescan_catalog(root, args.photos)
    load_before = os.getloadavg()
    rows, raw = [], []
    try:
        for case in cases:
            rss_run = run_case(case, root, traced=False)
            traced_run = None if args.no_tracemalloc else run_case(case, root, traced=True)
            raw.append({"rss_run": rss_run, "traced_run": traced_run})
            rows.append(summarise(case, rss_run, traced_run, args.photos))
            print(f"  {case}: {rows[-1]}", flush=True)
    finally:
        if args.remove_data:
            shutil.rmtree(root, ignore_errors=True)
            (args.data_dir / f"listing-{args.photos}.manifest.json").unlink(missing_ok=True)

    base = next((r for r in rows if r["case"] == "walk"), None)
    print()
    print(f"{args.photos:,} photos; peak RSS of a fresh process minus its RSS after imports; "
          f"target < {TARGET_BYTES / 1e9:.0f} GB")
    header = (f"{'case':10} {'files':>9} {'s':>6} {'peak RSS':>9} {'B/photo':>8} {'x walk':>7} "
              f"{'traced':>8} {'B/photo':>8} {'x walk':>7} {'hand-over':>10} {'+queue':>8} {'window':>6}")
    print(header)
    for row in rows:
        ratio = (f"{row['rss_bytes_per_photo'] / base['rss_bytes_per_photo']:.1f}"
                 if base and base["rss_bytes_per_photo"] else "-")
        traced = row.get("traced_bytes_per_photo")
        traced_ratio = (f"{traced / base['traced_bytes_per_photo']:.1f}"
                        if traced and base and base.get("traced_bytes_per_photo") else "-")
        row["rss_vs_walk"] = None if ratio == "-" else float(ratio)
        row["traced_vs_walk"] = None if traced_ratio == "-" else float(traced_ratio)
        row["under_target"] = row["peak_rss_mb"] * 1e6 < TARGET_BYTES
        print(f"{row['case']:10} {row['files']:>9,} {row['seconds']:>6.1f} {row['peak_rss_mb']:>6} MB "
              f"{row['rss_bytes_per_photo']:>8} {ratio:>7} "
              f"{(str(row['traced_peak_mb']) + ' MB') if traced else '-':>8} {traced or '-':>8} {traced_ratio:>7} "
              f"{(str(row['handover_rss_mb']) + ' MB') if 'handover_rss_mb' in row else '-':>10} "
              f"{(str(row['handover_with_queue_rss_mb']) + ' MB') if 'handover_rss_mb' in row else '-':>8} "
              f"{row.get('window', '-'):>6}")
    write_results({
        "photos": args.photos, "cases": rows, "raw": raw,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "load_before": load_before, "load_after": os.getloadavg(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
