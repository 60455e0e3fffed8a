"""The driver's memory for planning a scan: bounded per listed photo (issue #7: < 2 GB for 1,000,000).

Planning (listing, comparing with the catalog, the tasks handed to the engine)
runs on 20,000 empty ``*.jpg`` files; the engine is replaced at the hand-over,
so no file is read. ``bench/listing_bench.py`` measures the same at 1,000,000.
"""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path


import photocull.pipeline.scan as scan_module
from photocull.analysis.registry import stamps
from photocull.catalog.store import Catalog
from photocull.config import load_settings
from photocull.ingest.sources import discover
from photocull.pipeline.worker import ingest_stamp

SETTINGS = {"scan": {"analysers": ("technical",), "thumbnails": False}}

PHOTOS = 10_000
# Measured on Python 3.11 (tracemalloc peak per listed photo, 10,000 files): first scan ~790 B, rescan
# ~800 B (pathlib.Path objects are about 450 B of each). bench/listing_bench.py at 1,000,000 photos:
# see docs/scale-out.md ("Driver memory"). The budget leaves ~35 % headroom; before the planning
# streamed, a rescan held the catalog's whole files table, every content's analyser set and a set of
# the listed keys (~2,000 B per photo more: 2.2 GB at 1,000,000), which fails it.
BUDGET = 1_100  # bytes per listed photo


def make_files(folder: Path, count: int) -> None:
    for i in range(count):
        sub = folder / f"d{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True)
        os.close(os.open(sub / f"IMG_{i:06d}.jpg", os.O_CREAT | os.O_WRONLY, 0o644))


def planned_scan(folder: Path, catalog: Catalog, monkeypatch, traced: bool = True) -> tuple[object, list, int]:
    """(report, the tasks handed to the engine, tracemalloc peak) of a scan whose engine is a stub."""
    handed: list = []
    monkeypatch.setattr(scan_module, "_run", lambda tasks, *rest: handed.extend(tasks))
    if not traced:
        return scan_module.scan([folder], catalog, load_settings(**SETTINGS)), handed, 0
    tracemalloc.start()
    try:
        report = scan_module.scan([folder], catalog, load_settings(**SETTINGS))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return report, handed, peak


def know_everything(catalog: Catalog, folder: Path) -> None:
    """Every file in the catalog, unchanged, each its own content with current values for every analyser
    (rows through the catalog's schema, in one transaction)."""
    settings = load_settings(**SETTINGS)
    entries = discover([folder], settings.ingest, folder / "archives").files
    hashes = [f"{i:064x}" for i in range(len(entries))]
    with catalog._transaction() as db:
        db.executemany("INSERT INTO files (path, size, mtime_ns, content_hash, status, first_seen, last_scanned) "
                       "VALUES (?, ?, ?, ?, 'ok', 0, 0)",
                       [(catalog.key(e.path), e.size, e.mtime_ns, h) for e, h in zip(entries, hashes)])
        for table, stamp in [("photos", ingest_stamp(settings)), *stamps(settings).items()]:
            required = [(name, "''" if "TEXT" in (kind or "").upper() else "0")
                        for _cid, name, kind, notnull, default, _pk in db.execute(f"PRAGMA table_info({table})")
                        if notnull and default is None and name not in ("content_hash", "stamp")]
            columns = "".join(f", {name}" for name, _ in required)
            values = "".join(f", {value}" for _, value in required)
            db.executemany(f"INSERT INTO {table} (content_hash, stamp{columns}) VALUES (?, ?{values})",
                           [(h, stamp) for h in hashes])


def test_planning_a_scan_holds_little_per_listed_photo(tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    make_files(folder, PHOTOS)
    elsewhere = tmp_path / "elsewhere" / "IMG_1.jpg"  # a catalog file outside the scanned folder
    with Catalog(folder / ".photocull" / "catalog.db") as catalog:
        report, tasks, peak = planned_scan(folder, catalog, monkeypatch)
        assert (report.files, len(tasks), report.missing) == (PHOTOS, PHOTOS, 0)
        assert peak / PHOTOS < BUDGET, f"first scan: {peak / PHOTOS:.0f} bytes per photo"

        # Every file known, unchanged, with current values: nothing to do.
        know_everything(catalog, folder)
        report, tasks, peak = planned_scan(folder, catalog, monkeypatch)
        assert (report.skipped, report.unreadable, len(tasks), report.missing) == (PHOTOS, 0, 0, 0)
        assert peak / PHOTOS < BUDGET, f"rescan: {peak / PHOTOS:.0f} bytes per photo"

        # Files gone: the catalog's keys are compared with the listing; a file elsewhere is left alone.
        catalog._db.execute("INSERT INTO files (path, size, mtime_ns, status, first_seen, last_scanned) "
                            "VALUES (?, 1, 1, 'unreadable', 0, 0)", [catalog.key(elsewhere)])
        gone = [folder / "d000" / f"IMG_{i:06d}.jpg" for i in range(5)]
        for path in gone:
            path.unlink()
        report, tasks, _peak = planned_scan(folder, catalog, monkeypatch, traced=False)
        assert (report.skipped, len(tasks), report.missing) == (PHOTOS - 5, 0, 5)
        status = dict(catalog._query("SELECT path, status FROM files WHERE status = 'missing' OR path = ?",
                                     [catalog.key(elsewhere)]))
        assert status == {**{catalog.key(p): "missing" for p in gone}, catalog.key(elsewhere): "unreadable"}
