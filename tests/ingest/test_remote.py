"""Object storage input against a real S3-compatible server on 127.0.0.1 (moto's standalone server)."""

from __future__ import annotations

import sqlite3
import tracemalloc
from pathlib import Path

import pytest

from photocull.config import IngestSettings
from photocull.ingest.remote import change_stamp, is_url
from photocull.ingest.sources import discover
from tests.helpers import PIXEL_ANALYSERS, run_cli, scan_json

pytest.importorskip("boto3")
pytest.importorskip("s3fs")
pytest.importorskip("moto.server")  # the s3 fixture (tests/conftest.py) runs its server

PHOTOS = ["baboon.jpg", "fruits.jpg", "home.jpg", "graf1.png", "leuvenA.jpg"]
CORRUPT = "truncated_jpeg.jpg"


def rows(catalog: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(catalog) as db:
        return db.execute(sql).fetchall()


def measured(catalog: Path) -> dict[str, tuple]:
    """Per content hash: the stored technical values and the image description."""
    return {r[0]: r[1:] for r in rows(catalog, "SELECT files.content_hash, photos.width, photos.height, technical.* "
                                      "FROM files JOIN photos USING (content_hash) JOIN technical USING (content_hash) "
                                      "WHERE files.status = 'ok'")}


def test_s3_scan_matches_local_and_is_incremental(s3, corpus, tmp_path):
    local = tmp_path / "local"
    local.mkdir()
    s3.create_bucket(Bucket="photos")
    for name in PHOTOS:
        data = (corpus / "scenes" / name).read_bytes()
        (local / name).write_bytes(data)
        s3.put_object(Bucket="photos", Key=f"trip/{name}", Body=data)
    corrupt = (corpus / "bad" / CORRUPT).read_bytes()
    (local / CORRUPT).write_bytes(corrupt)
    s3.put_object(Bucket="photos", Key=f"trip/{CORRUPT}", Body=corrupt)
    s3.put_object(Bucket="photos", Key="trip/notes.txt", Body=b"not a photo")
    s3.put_object(Bucket="photos", Key="trip2/outside.jpg", Body=corrupt)  # a neighbouring prefix: not listed
    remote_db, local_db = tmp_path / "remote.db", tmp_path / "local.db"
    flags = ["--analyzers", PIXEL_ANALYSERS, "--workers", "2", "--no-cull"]

    first = scan_json("s3://photos/trip", "--catalog", remote_db, *flags)
    scan_json(local, "--catalog", local_db, *flags)
    assert (first["files"], first["processed"], first["unreadable"], first["ignored"]) == (6, 6, 1, {".txt": 1})
    assert first["problems"] == []
    # The same values per content as a scan of the same files from a local folder.
    assert measured(remote_db) == measured(local_db) and len(measured(remote_db)) == len(PHOTOS)
    keys = dict(rows(remote_db, "SELECT path, status FROM files"))
    assert keys[f"s3://photos/trip/{CORRUPT}"] == "unreadable"
    assert set(keys) == {f"s3://photos/trip/{n}" for n in PHOTOS + [CORRUPT]}
    reason = rows(remote_db, f"SELECT reason FROM files WHERE path = 's3://photos/trip/{CORRUPT}'")[0][0]
    assert reason == rows(local_db, f"SELECT reason FROM files WHERE path = '{local / CORRUPT}'")[0][0]

    again = scan_json("s3://photos/trip/", "--catalog", remote_db, *flags)
    assert (again["processed"], again["skipped"]) == (0, 6)

    # Other bytes under the same key: a new ETag, read again; a deleted object: missing.
    s3.put_object(Bucket="photos", Key="trip/home.jpg", Body=(corpus / "scenes" / "board.jpg").read_bytes())
    s3.delete_object(Bucket="photos", Key="trip/fruits.jpg")
    third = scan_json("s3://photos/trip", "--catalog", remote_db, *flags)
    assert (third["files"], third["processed"], third["analysed"], third["skipped"], third["missing"]) == (5, 1, 1, 4, 1)
    assert rows(remote_db, "SELECT status FROM files WHERE path = 's3://photos/trip/fruits.jpg'") == [("missing",)]

    # The default catalog of a URL lives in the user's data folder.
    default = scan_json("s3://photos/trip", *flags)
    assert Path(default["catalog"]).is_relative_to(tmp_path / "data" / "photocull" / "catalogs")


def test_missing_bucket_is_a_problem_and_other_inputs_go_on(s3, corpus, tmp_path):
    local = tmp_path / "local"
    local.mkdir()
    (local / "baboon.jpg").write_bytes((corpus / "scenes" / "baboon.jpg").read_bytes())
    result = run_cli("scan", "s3://no-such-bucket/x", local, "--catalog", tmp_path / "c.db", "--analyzers",
                     PIXEL_ANALYSERS, "--no-cull", "--json")
    report = __import__("json").loads(result.stdout)
    assert report["processed"] == 1
    assert [p[0] for p in report["problems"]] == ["s3://no-such-bucket/x"]
    assert "not found" in report["problems"][0][1] or "no such" in report["problems"][0][1]
    missing_local = run_cli("scan", tmp_path / "nowhere", "--catalog", tmp_path / "d.db", "--no-cull", check=False)
    missing_url = run_cli("scan", "s3://no-such-bucket/x", "--catalog", tmp_path / "e.db", "--no-cull", check=False)
    assert missing_url.returncode == missing_local.returncode
    assert "s3://no-such-bucket/x" in missing_url.stderr


def test_memory_listing_and_bytes_per_entry():
    """memory:// stands in for a bucket: listing keeps a small entry per photo."""
    import fsspec

    fs = fsspec.filesystem("memory")
    count = 5_000
    for i in range(count):
        fs.pipe(f"/bench/{i % 5:02d}/IMG_{i:07d}.jpg", b"x")
    fs.pipe("/bench/.hidden/a.jpg", b"x")
    fs.pipe("/bench/readme.md", b"x")
    tracemalloc.start()
    found = discover(["memory://bench"], IngestSettings(), Path("/nonexistent"))
    size, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(found.files) == count and dict(found.ignored) == {".md": 1} and not found.problems
    assert all(is_url(f.path) for f in found.files[:10])
    assert size / count < 400, f"{size / count:.0f} bytes per listed photo"
    fs.rm("/bench", recursive=True)


def test_change_stamp_sees_a_new_etag_within_the_same_second():
    from datetime import datetime, timezone

    when = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    a = change_stamp({"ETag": '"aaa"', "LastModified": when, "size": 1})
    b = change_stamp({"ETag": '"bbb"', "LastModified": when, "size": 1})
    assert a != b and a // 10**9 == b // 10**9 == int(when.timestamp())
    assert change_stamp({"mtime": 1.5}) == 1_500_000_000


def test_s3_scan_on_ray_gives_the_local_pool_values(s3, corpus, tmp_path):
    """Object storage under the Ray engine: the worker actors read the objects themselves (issue #7)."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'photocull[ray]')")
    s3.create_bucket(Bucket="photos")
    for name in PHOTOS + [CORRUPT]:
        folder = "bad" if name == CORRUPT else "scenes"
        s3.put_object(Bucket="photos", Key=f"trip/{name}", Body=(corpus / folder / name).read_bytes())
    pool_db, ray_db = tmp_path / "pool.db", tmp_path / "ray.db"
    flags = ["--analyzers", PIXEL_ANALYSERS, "--workers", "2", "--no-cull"]
    scan_json("s3://photos/trip", "--catalog", pool_db, *flags)
    on_ray = scan_json("s3://photos/trip", "--catalog", ray_db, "--engine", "ray", *flags)
    assert (on_ray["processed"], on_ray["unreadable"], on_ray["problems"]) == (6, 1, [])
    assert measured(ray_db) == measured(pool_db) and len(measured(ray_db)) == len(PHOTOS)
    assert rows(ray_db, "SELECT path, status, reason FROM files ORDER BY path") == \
        rows(pool_db, "SELECT path, status, reason FROM files ORDER BY path")
