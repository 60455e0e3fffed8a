"""Exports from the web app on a real scanned catalog: the keepers' ZIP download and XMP sidecars."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from photocull.export.xmp import read_sidecar  # noqa: E402
from photocull.web.export_api import _Pipe  # noqa: E402
from tests.web.faces_library import scan_library  # noqa: E402
from tests.web.helpers import CSRF, all_photos  # noqa: E402


@pytest.fixture(scope="module")
def catalog_path(library: Path) -> Path:
    return library / ".photocull" / "catalog.db"


@pytest.fixture(scope="module")
def library(corpus: Path, models_ready: Path, tmp_path_factory) -> Path:
    """A private copy: sidecars are written beside the photos (never into the read-only corpus)."""
    return scan_library(corpus, tmp_path_factory.mktemp("export") / "library")


def test_zip_holds_exactly_the_keepers(client: TestClient, library: Path):
    photos = all_photos(client)
    rejected = next(p for p in photos if p["decision"]["flag"] == "keep")["path"]  # the user changes two
    kept = next(p for p in photos if p["decision"]["flag"] == "reject")["path"]
    client.post("/api/decisions", json={"path": rejected, "flag": "reject"}, headers=CSRF)
    client.post("/api/decisions", json={"path": kept, "flag": "keep"}, headers=CSRF)
    keepers = {p["path"] for p in all_photos(client) if p["decision"]["flag"] == "keep"}
    assert kept in keepers and rejected not in keepers and len(keepers) < len(photos)
    with client.stream("GET", "/api/export/zip") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/zip"
        assert response.headers["content-disposition"] == 'attachment; filename="photocull-keepers.zip"'
        data = response.read()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
        assert names == keepers | {"photo_scores.csv"}
        assert archive.read(kept) == (library / kept).read_bytes()
    for path in (rejected, kept):
        client.delete("/api/decisions", params={"path": path}, headers=CSRF)


def test_a_closed_download_stops_the_writer():
    pipe = _Pipe(chunks=1)
    reader = pipe.chunks()
    pipe.write(b"x" * _Pipe.CHUNK)
    assert next(reader) == b"x" * _Pipe.CHUNK
    reader.close()  # the client went away
    with pytest.raises(BrokenPipeError):
        for _ in range(3):
            pipe.write(b"y" * _Pipe.CHUNK)


def test_xmp_sidecars_beside_the_photos(client: TestClient, library: Path):
    photos = all_photos(client)
    assert client.post("/api/export/xmp", json={"style": "full"}).status_code == 403
    assert client.post("/api/export/xmp", json={"style": "odd"}, headers=CSRF).status_code == 422
    response = client.post("/api/export/xmp", json={"style": "full"}, headers=CSRF)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["errors"] == [] and report["written"] == len(photos) == len(report["files"])
    for photo in photos:
        sidecar = library / (photo["path"] + ".xmp")
        assert sidecar.is_file(), sidecar
        assert read_sidecar(sidecar).flag == photo["decision"]["flag"]
    again = client.post("/api/export/xmp", headers=CSRF).json()  # default style: both
    assert again["unchanged"] >= len(photos) and again["errors"] == []
