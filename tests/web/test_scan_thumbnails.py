"""The gallery's 256 px thumbnails are made by the scan (one decode per photo) and served as they are."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from photocull.catalog.store import Catalog  # noqa: E402
from photocull.config import Settings  # noqa: E402
from photocull.pipeline.scan import scan  # noqa: E402
from photocull.previews import preview_path  # noqa: E402
from photocull.web import api  # noqa: E402
from photocull.web.app import create_app  # noqa: E402

FAST = {"analysers": ("technical",)}


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A landscape photo stored sideways (EXIF orientation 6), a photo smaller than a thumbnail,
    an exact copy, and a text file named .jpg."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(6)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view: stored 1200 x 900, upright 900 x 1200
    Image.fromarray(rng.integers(0, 255, (900, 1200, 3), dtype=np.uint8)).save(
        folder / "sideways.jpg", "JPEG", quality=85, exif=exif)
    Image.fromarray(rng.integers(0, 255, (80, 120, 3), dtype=np.uint8)).save(folder / "small.jpg", "JPEG", quality=85)
    shutil.copy(folder / "small.jpg", folder / "small copy.jpg")
    (folder / "broken.jpg").write_text("not a photo")
    return folder


def files(catalog: Path) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(catalog) as db:
        return {Path(p).name: (h, s) for p, h, s in db.execute("SELECT path, content_hash, status FROM files")}


def test_scan_writes_thumbnails_that_the_web_app_serves_without_decoding(photos: Path, monkeypatch) -> None:
    catalog_path = photos / ".photocull" / "catalog.db"
    with Catalog(catalog_path) as catalog:
        report = scan([photos], catalog, Settings(scan=FAST))
    assert report.unreadable == 1
    previews = catalog_path.parent / "previews"
    found = files(catalog_path)
    assert found["broken.jpg"][1] == "unreadable"
    readable = {h for h, status in found.values() if status == "ok"}
    assert len(readable) == 2
    written = sorted(previews.rglob("*.webp"))
    assert written == sorted(preview_path(previews, h, 256) for h in readable)  # none for the broken file
    assert not list(previews.rglob("*.partial"))
    with Image.open(preview_path(previews, found["sideways.jpg"][0], 256)) as image:
        assert image.format == "WEBP" and image.size == (192, 256)  # upright, long edge 256
    with Image.open(preview_path(previews, found["small.jpg"][0], 256)) as image:
        assert image.size == (120, 80)  # never enlarged

    # The route serves those bytes as they are: no decode (preview() is never called), file untouched.
    def no_decode(*args, **kwargs):
        raise AssertionError("the thumbnail was made again")

    monkeypatch.setattr(api, "preview", no_decode)
    client = TestClient(create_app(catalog_path, Settings()), base_url="http://127.0.0.1")
    for content_hash in readable:
        path = preview_path(previews, content_hash, 256)
        before = path.stat().st_mtime_ns
        response = client.get(f"/previews/{content_hash}/256")
        assert response.status_code == 200 and response.headers["content-type"] == "image/webp"
        assert response.content == path.read_bytes()
        assert path.stat().st_mtime_ns == before

    # A second scan of unchanged files reads nothing and writes nothing.
    with Catalog(catalog_path) as catalog:
        again = scan([photos], catalog, Settings(scan=FAST))
    assert again.processed == 0 and sorted(previews.rglob("*.webp")) == written


def test_no_thumbnails_when_the_setting_is_off(photos: Path) -> None:
    catalog_path = photos / ".photocull" / "catalog.db"
    with Catalog(catalog_path) as catalog:
        report = scan([photos], catalog, Settings(scan={**FAST, "thumbnails": False}))
    assert report.analysed == 2
    assert not list((catalog_path.parent / "previews").rglob("*"))
