#!/usr/bin/env python
"""Web app benchmark: gallery pages and decisions over 100,000 photos, against loading every photo per request.

A catalog is made from the 20 scanned photos of ``corpus/scenes`` (scanned
once, technical and aesthetic analysers) cloned into 100,000 synthetic files
(``synthetic/000000.jpg`` ...: each with its own content hash and capture time,
measurements of one of the 20 templates), with automatic decisions for all and
10,000 groups of three (near-duplicates and moments), written straight into
the catalog in one transaction. Then, through FastAPI's TestClient (so the
times include routing, validation and JSON):

* ``startup``: ``create_app`` (the composite score of every photo, once);
* ``GET /api/photos`` pages of 100: first, middle and last, for each sort,
  and with the filters blurry, rejected and duplicates (the first request of
  a filter builds it; later ones reuse it until a decision changes it);
* ``POST /api/decisions`` (a keep or reject, saved at once), then the next
  ``rejected`` page (the filter is rebuilt after a decision);
* group review: ``GET /api/groups`` pages of 50 (first, middle, last),
  ``GET /api/groups/{id}``, and a review action (a group, then a decision on
  one of its members); the ``best`` filter the slideshow pages through;
* baseline: what a route that reads every photo per request would pay:
  ``Catalog.photos()`` then sort and slice.

Prints a table and writes ``bench/results/web.json``.

Usage::

    python bench/web_bench.py [--photos 100000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpus"
TEMPLATE_TABLES = ("photos", "technical", "aesthetic")


def make_catalog(root: Path, photos: int) -> Path:
    """Scan the 20 scene photos, then clone them into ``photos`` synthetic rows (one transaction)."""
    import sqlite3

    shutil.copytree(CORPUS / "scenes", root / "scenes")
    subprocess.run([sys.executable, "-m", "photocull", "scan", str(root), "--analyzers", "technical,aesthetic",
                    "--no-cull"], check=True, capture_output=True)
    path = root / ".photocull" / "catalog.db"
    db = sqlite3.connect(path, isolation_level=None)
    hashes = [r[0] for r in db.execute("SELECT content_hash FROM files WHERE status = 'ok' ORDER BY path")]
    templates = {}
    for table in TEMPLATE_TABLES:
        columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        rows = {r[columns.index("content_hash")]: list(r) for r in db.execute(f"SELECT * FROM {table}")}
        templates[table] = (columns, rows)
    rng = random.Random(6)
    start = 1_700_000_000.0
    db.execute("BEGIN")
    db.execute("DELETE FROM decisions")
    db.execute("DELETE FROM files")
    for table in TEMPLATE_TABLES[::-1]:
        db.execute(f"DELETE FROM {table}")
    files, decisions, members, groups = [], [], [], []
    for table in TEMPLATE_TABLES:
        columns, rows = templates[table]
        at = columns.index("content_hash")
        batch = []
        for n in range(photos):
            row = list(rows[hashes[n % len(hashes)]])
            row[at] = f"{n:064x}"
            if table == "photos" and "capture_timestamp" in columns:
                row[columns.index("capture_timestamp")] = start + n * 7 + rng.random()
            batch.append(row)
        db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                       batch)
    for n in range(photos):
        key = f"synthetic/{n:06d}.jpg"
        files.append((key, 2_000_000 + n, 0, f"{n:064x}", "ok", None, start, start))
        decisions.append((key, "keep", rng.randint(1, 5), None, start))
    group_count = min(10_000, photos // 10)
    for g in range(group_count):
        kind = "near_duplicates" if g % 2 else "moment"
        first = g * 10
        keys = [f"synthetic/{first + i:06d}.jpg" for i in range(3)]
        groups.append((g + 1, kind, 0, keys[0], "sharper than the other shots"))
        members += [(k, g + 1, r + 1, "near_duplicate", 0.7 - r / 10, "the pick" if r == 0 else "less sharp")
                    for r, k in enumerate(keys)]
        for k in keys[1:]:
            decisions[int(k[10:16])] = (k, "reject", 1, None, start)
    db.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)", files)
    db.executemany("INSERT INTO decisions (path, auto_flag, auto_rating, auto_label, auto_updated) "
                   "VALUES (?, ?, ?, ?, ?)", decisions)
    db.executemany("INSERT INTO groups (id, kind, keep_all, pick, reason) VALUES (?, ?, ?, ?, ?)", groups)
    db.executemany("INSERT INTO group_members (path, group_id, rank, relation, score, reason) "
                   "VALUES (?, ?, ?, ?, ?, ?)", members)
    db.execute("COMMIT")
    db.close()
    return path


def percentiles(values_ms: list[float], digits: int = 2) -> dict[str, float]:
    """The median, p95 and largest of some times in milliseconds, and how many there were."""
    v = sorted(values_ms)
    return {"p50_ms": round(statistics.median(v), digits),
            "p95_ms": round(v[min(len(v) - 1, int(0.95 * len(v)))], digits),
            "max_ms": round(v[-1], digits), "n": len(v)}


def timings(call, repeat: int) -> dict[str, float]:
    """``call`` timed ``repeat`` times."""
    milliseconds = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        milliseconds.append((time.perf_counter() - began) * 1000)
    return percentiles(milliseconds)


def write_results(results: dict, name: str) -> None:
    """``bench/results/NAME`` as indented JSON, and say where."""
    out = HERE / "results" / name
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("PHOTOCULL_MODELS_DIR", str(HERE.parent / ".cache" / "models"))

    from fastapi.testclient import TestClient

    from photocull.catalog.store import Catalog
    from photocull.config import Settings
    from photocull.web.app import create_app

    results: dict[str, object] = {"photos": args.photos, "repeat": args.repeat, "cpus": os.cpu_count()}
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        catalog_path = make_catalog(Path(tmp) / "library", args.photos)
        results["build_catalog_s"] = round(time.perf_counter() - began, 2)
        began = time.perf_counter()
        client = TestClient(create_app(catalog_path, Settings()), base_url="http://127.0.0.1")
        results["startup_s"] = round(time.perf_counter() - began, 2)
        pages = {"first": 0, "middle": args.photos // 2, "last": args.photos - 100}

        def get(**params):
            response = client.get("/api/photos", params={"limit": 100, **params})
            assert response.status_code == 200, response.text
            return response.json()

        for sort in ("score", "time", "name"):
            for where, offset in pages.items():
                rows[f"photos sort={sort} {where}"] = timings(lambda: get(sort=sort, offset=offset), args.repeat)
        for name in ("blurry", "rejected", "duplicates"):
            began = time.perf_counter()
            total = get(filter=name)["total"]
            rows[f"photos filter={name} (first request)"] = {
                "p50_ms": round((time.perf_counter() - began) * 1000, 2),
                "p95_ms": round((time.perf_counter() - began) * 1000, 2), "n": 1, "total": total}
            rows[f"photos filter={name} first"] = timings(lambda: get(filter=name), args.repeat)
        rows["photos min_rating=4 first"] = timings(lambda: get(min_rating=4), args.repeat)
        keys = [f"synthetic/{n:06d}.jpg" for n in range(0, args.photos, max(1, args.photos // args.repeat))]
        flags = iter(["reject", "keep"] * args.repeat)
        paths = iter(keys * 2)

        def decide():
            response = client.post("/api/decisions", json={"path": next(paths), "flag": next(flags)},
                                   headers={"X-Photocull": "1"})
            assert response.status_code == 200, response.text

        rows["POST /api/decisions"] = timings(decide, args.repeat)
        rows["POST /api/decisions + rejected page"] = timings(lambda: (decide(), get(filter="rejected")),
                                                            args.repeat)
        rows["GET /api/stats"] = timings(lambda: client.get("/api/stats"), args.repeat)

        # Group review: a page of groups, one group, and a keyboard action (a decision on a member,
        # then the group again, as the review page does).
        def ok(response):
            assert response.status_code == 200, response.text
            return response.json()

        total_groups = ok(client.get("/api/groups", params={"limit": 1}))["total"]
        for where, offset in {"first": 0, "middle": total_groups // 2, "last": total_groups - 50}.items():
            rows[f"GET /api/groups {where} page of 50"] = timings(
                lambda: ok(client.get("/api/groups", params={"offset": offset, "limit": 50})), args.repeat)
        group_ids = iter([g["id"] for g in ok(client.get("/api/groups", params={"limit": 500}))["groups"]] * 2)
        rows["GET /api/groups/{id}"] = timings(lambda: ok(client.get(f"/api/groups/{next(group_ids)}")), args.repeat)

        def review_action():
            group = ok(client.get(f"/api/groups/{next(group_ids)}"))
            member = group["members"][-1]["path"]
            ok(client.post("/api/decisions", json={"path": member, "flag": "keep", "rating": 3},
                           headers={"X-Photocull": "1"}))

        rows["review action (group + decision)"] = timings(review_action, args.repeat)
        rows["photos filter=best first (slideshow)"] = timings(lambda: get(filter="best"), args.repeat)

        def baseline():
            with Catalog(catalog_path) as catalog:
                photos = catalog.photos(order_by="path")
            photos.sort(key=lambda p: -(p["technical_score"] or 0))
            return photos[:100]

        rows["baseline: Catalog.photos() per request"] = timings(baseline, max(3, args.repeat // 6))
    results["timings"] = rows
    width = max(map(len, rows))
    print(f"{args.photos:,} photos; catalog built in {results['build_catalog_s']} s, "
          f"app started (scores computed) in {results['startup_s']} s")
    print(f"{'request':<{width}}  {'p50 ms':>9}  {'p95 ms':>9}")
    for name, row in rows.items():
        print(f"{name:<{width}}  {row['p50_ms']:>9.2f}  {row['p95_ms']:>9.2f}")
    write_results(results, "web.json")


if __name__ == "__main__":
    main()
