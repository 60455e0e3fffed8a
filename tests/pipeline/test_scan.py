"""The scan end to end: bad input, incremental re-runs, duplicates, crashes and fatal errors."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import run_cli, scan_json, tree_digest


def db_rows(catalog: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(catalog) as db:
        return db.execute(sql).fetchall()


def make_photos(folder: Path, count: int, size=(320, 240), seed=0) -> list[Path]:
    """Distinct small JPEGs (random texture, so every file has different content)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        path = folder / f"img_{i:04d}.jpg"
        Image.fromarray(pixels).save(path, "JPEG", quality=85)
        paths.append(path)
    return paths


@pytest.fixture()
def bad_tree(corpus, tmp_path) -> Path:
    """A writable copy of corpus/bad and corpus/raw."""
    root = tmp_path / "photos"
    shutil.copytree(corpus / "bad", root / "bad")
    shutil.copytree(corpus / "raw", root / "raw")
    return root


def test_bad_input_is_recorded_and_the_run_goes_on(bad_tree):
    before = tree_digest(bad_tree)
    result = run_cli("scan", bad_tree, "--json", "--workers", "2")
    report = json.loads(result.stdout)
    catalog = bad_tree / ".photocull" / "catalog.db"
    statuses = dict(db_rows(catalog, "SELECT path, status FROM files"))
    reasons = dict(db_rows(catalog, "SELECT path, reason FROM files WHERE status = 'unreadable'"))

    assert report["files"] == len(statuses) == len(before)
    assert report["unreadable"] == len(reasons) == sum(s == "unreadable" for s in statuses.values())
    for stub in (bad_tree / "raw" / "stubs").iterdir():
        assert statuses[f"raw/stubs/{stub.name}"] == "unreadable"
    for name in ("empty.jpg", "truncated_jpeg.jpg", "decompression_bomb.gif", "broken.png"):
        assert statuses[f"bad/{name}"] == "unreadable"
    for name in ("raw/good/Blackmagic.dng", "raw/good/Nikon_uncompressed.nef", "bad/pil_sample_cmyk.jpg",
                 "bad/avif/hopper.avif", "bad/frozenpond.mpo", "bad/hopper_bad_exif.jpg"):
        assert statuses[name] == "ok", name
    # One clear line per unreadable file, naming the file and the reason.
    for path, reason in reasons.items():
        assert f"{bad_tree / path}: {reason}" in result.stderr.replace("\n", "")
    # Originals are never modified.
    assert tree_digest(bad_tree) == before


def test_rescan_skips_unchanged_files_and_reanalyses_only_changes(tmp_path):
    photos = make_photos(tmp_path / "p", 6)
    first = scan_json(tmp_path / "p", "--workers", "2")
    assert (first["processed"], first["analysed"], first["skipped"]) == (6, 6, 0)

    again = scan_json(tmp_path / "p", "--workers", "2")
    assert (again["processed"], again["analysed"], again["skipped"]) == (0, 0, 6)

    os.utime(photos[0], (time.time() + 10, time.time() + 10))  # touched: same content
    Image.new("RGB", (100, 80), (10, 200, 30)).save(photos[1], "JPEG")  # changed content
    photos[2].unlink()
    third = scan_json(tmp_path / "p", "--workers", "2")
    assert (third["processed"], third["analysed"], third["skipped"], third["missing"]) == (2, 1, 3, 1)


def test_content_seen_twice_is_analysed_once(tmp_path):
    originals = make_photos(tmp_path / "a", 4)
    (tmp_path / "b").mkdir()
    for path in originals:
        shutil.copy2(path, tmp_path / "b" / path.name)
        shutil.copy2(path, tmp_path / "b" / f"copy_{path.name}")
    report = scan_json(tmp_path, "--workers", "2")
    assert (report["files"], report["analysed"], report["known_content"]) == (12, 4, 8)
    catalog = tmp_path / ".photocull" / "catalog.db"
    assert db_rows(catalog, "SELECT count(*) FROM photos") == [(4,)]
    assert db_rows(catalog, "SELECT count(DISTINCT content_hash) FROM files WHERE status='ok'") == [(4,)]
    # Content already in the catalog is not analysed again when it appears elsewhere.
    shutil.copytree(tmp_path / "a", tmp_path / "c")
    later = scan_json(tmp_path, "--workers", "2")
    assert (later["processed"], later["analysed"], later["known_content"]) == (4, 0, 4)


def test_zip_input_and_unsafe_zip_refused(tmp_path):
    import zipfile

    make_photos(tmp_path / "src", 3)
    good = tmp_path / "in" / "card.zip"
    good.parent.mkdir()
    with zipfile.ZipFile(good, "w") as zf:
        for path in (tmp_path / "src").iterdir():
            zf.write(path, f"DCIM/{path.name}")
    evil = tmp_path / "in" / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escaped.jpg", (tmp_path / "src" / "img_0000.jpg").read_bytes())
    result = run_cli("scan", good, evil, "--json")
    report = json.loads(result.stdout)
    assert report["files"] == report["analysed"] == 3
    assert report["problems"] and "outside the extraction folder" in report["problems"][0][1]
    assert "evil.zip" in result.stderr
    assert not list(tmp_path.rglob("escaped.jpg"))


def test_scan_killed_with_sigkill_loses_nothing_and_resumes(tmp_path):
    make_photos(tmp_path / "p", 120, size=(1600, 1200))
    catalog = tmp_path / "catalog.db"
    env = {**os.environ, "PHOTOCULL_SCAN__COMMIT_EVERY": "8"}
    process = subprocess.Popen([sys.executable, "-m", "photocull", "scan", str(tmp_path / "p"), "--catalog",
                                str(catalog), "--workers", "2", "--quiet"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        committed = 0
        while committed < 16 and time.monotonic() < deadline:
            time.sleep(0.05)
            if catalog.exists():
                try:
                    committed = db_rows(catalog, "SELECT count(*) FROM files")[0][0]
                except sqlite3.OperationalError:
                    pass
        assert process.poll() is None, "the scan finished before it could be killed"
        os.killpg(process.pid, signal.SIGKILL)  # the scan and its workers, at once
        process.wait()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert db_rows(catalog, "PRAGMA integrity_check") == [("ok",)]
    kept = db_rows(catalog, "SELECT count(*) FROM files")[0][0]
    assert 16 <= kept < 120
    assert db_rows(catalog, "SELECT count(*) FROM photos")[0][0] >= kept  # every file row has its photo

    resumed = scan_json(tmp_path / "p", "--catalog", catalog, "--workers", "2")
    assert resumed["skipped"] == kept and resumed["processed"] == 120 - kept
    assert db_rows(catalog, "SELECT count(*) FROM files WHERE status='ok'") == [(120,)]


def test_worker_killed_mid_scan_is_replaced_and_no_photo_lost(tmp_path):
    psutil = pytest.importorskip("psutil")
    make_photos(tmp_path / "p", 150, size=(1600, 1200))
    catalog = tmp_path / "catalog.db"
    process = subprocess.Popen([sys.executable, "-m", "photocull", "scan", str(tmp_path / "p"), "--catalog",
                                str(catalog), "--workers", "2", "--quiet", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.monotonic() + 30
    while killed is None and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        # Workers are forked by the forkserver, itself a child of the scan.
        workers = [c for c in psutil.Process(process.pid).children(recursive=True) if c.ppid() != process.pid]
        if workers and catalog.exists():
            killed = workers[0].pid
            workers[0].kill()  # a process this test's scan started
    stdout, stderr = process.communicate(timeout=120)
    assert killed is not None, "no worker found to kill"
    assert process.returncode == 0, stderr
    assert db_rows(catalog, "SELECT status, count(*) FROM files GROUP BY status") == [("ok", 150)]
    assert json.loads(stdout)["analysed"] == 150


def test_catalog_write_failure_stops_the_run_with_a_clear_message(tmp_path):
    make_photos(tmp_path / "p", 60, size=(640, 480))
    catalog = tmp_path / "catalog.db"
    run_cli("scan", tmp_path / "p" / "img_0000.jpg", "--catalog", catalog)  # creates the catalog
    limit = catalog.stat().st_size + 64 * 1024

    def small_disk():  # files may not grow past `limit` bytes: writes fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = run_cli("scan", tmp_path / "p", "--catalog", catalog, "--workers", "2", "--quiet",
                     check=False, preexec_fn=small_disk)
    assert result.returncode == 2, result.stderr
    assert "error:" in result.stderr and "catalog" in result.stderr and "run again" in result.stderr
    assert "Traceback" not in result.stderr
    assert db_rows(catalog, "PRAGMA integrity_check") == [("ok",)]
    rerun = scan_json(tmp_path / "p", "--catalog", catalog)
    assert db_rows(catalog, "SELECT count(*) FROM files WHERE status='ok'") == [(60,)]
    assert rerun["skipped"] >= 1


def test_unusable_catalog_is_a_clear_fatal_error(tmp_path):
    make_photos(tmp_path / "p", 1)
    not_a_db = tmp_path / "catalog.db"
    not_a_db.write_bytes(b"this is not a database" * 100)
    result = run_cli("scan", tmp_path / "p", "--catalog", not_a_db, check=False)
    assert result.returncode == 2
    assert "not a photocull catalog" in result.stderr and "Traceback" not in result.stderr


def test_changed_threshold_recomputes_only_that_analyser(tmp_path):
    make_photos(tmp_path / "p", 5)
    first = scan_json(tmp_path / "p")
    assert first["analyser_runs"] == {"technical": 5, "fingerprints": 5, "aesthetic": 5, "embedding": 5, "faces": 5}
    catalog = tmp_path / "p" / ".photocull" / "catalog.db"
    stamps_before = db_rows(catalog, "SELECT DISTINCT stamp FROM technical")

    stricter = scan_json(tmp_path / "p", env={"PHOTOCULL_TECHNICAL__DARK_BELOW": "0.99"})
    assert stricter["analyser_runs"] == {"technical": 5}
    assert db_rows(catalog, "SELECT DISTINCT stamp FROM technical") != stamps_before
    assert db_rows(catalog, "SELECT count(*) FROM technical WHERE badly_exposed") == [(5,)]
    assert scan_json(tmp_path / "p", env={"PHOTOCULL_TECHNICAL__DARK_BELOW": "0.99"})["skipped"] == 5


def test_file_names_that_are_not_utf8_are_scanned_and_listed(tmp_path):
    make_photos(tmp_path / "p", 2)
    odd = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 name from an old card
    (tmp_path / "p" / "img_0000.jpg").rename(tmp_path / "p" / odd)
    report = scan_json(tmp_path / "p")
    assert (report["files"], report["analysed"], report["unreadable"]) == (2, 2, 0)
    assert scan_json(tmp_path / "p")["skipped"] == 2
    listed = run_cli("top", tmp_path / "p", "--all-frames", "--json").stdout
    assert "caf\\ufffd.jpg" in listed
    run_cli("export", "csv", tmp_path / "p", "-o", tmp_path / "scores.csv")
    assert "caf\ufffd.jpg" in (tmp_path / "scores.csv").read_text(encoding="utf-8")
