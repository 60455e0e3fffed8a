"""The review app on a bucket library: previews made from the objects (moto's S3 server on 127.0.0.1)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from photocull.catalog.store import default_catalog_path
from photocull.config import Settings
from photocull.previews import preview
from tests.web.helpers import CSRF

URL = "s3://photos/trip"


@pytest.fixture()
def catalog_path(bucket_library) -> Path:
    return default_catalog_path(URL)


def test_large_view_and_downloads_read_the_objects(client: TestClient, bucket_library, s3, tmp_path):
    photos = client.get("/api/photos", params={"sort": "name"}).json()["photos"]
    assert [p["path"] for p in photos] == sorted(bucket_library)
    by_path = {p["path"]: p for p in photos}

    # The large view (1024 px) is made on request from the object: the bytes a local copy gives.
    home = by_path[f"{URL}/home.jpg"]
    large = client.get(f"/previews/{home['content_hash']}/1024")
    assert large.status_code == 200 and large.headers["content-type"] == "image/webp"
    local = tmp_path / "home.jpg"
    local.write_bytes(bucket_library[f"{URL}/home.jpg"])
    assert large.content == preview(local, home["content_hash"], 1024, tmp_path / "cache", Settings().ingest)
    assert max(Image.open(io.BytesIO(large.content)).size) == min(1024, max(Image.open(local).size))

    # Decisions by the shown path (the URL), then the keepers' ZIP streamed from the bucket.
    keep = [f"{URL}/home.jpg", f"{URL}/day2/graf1.png"]
    assert client.post("/api/decisions", json={"paths": keep, "flag": "keep"}, headers=CSRF).status_code == 200
    with client.stream("GET", "/api/export/zip") as response:
        assert response.status_code == 200
        data = response.read()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = {name: archive.read(name) for name in archive.namelist() if name != "photo_scores.csv"}
    kept = {p["path"] for p in client.get("/api/photos", params={"filter": "kept", "limit": 500}).json()["photos"]}
    assert set(keep) <= kept
    assert entries == {url.removeprefix("s3://"): bucket_library[url] for url in kept}

    # An object gone from the bucket: its large view is a 404 naming why, not a server error.
    s3.delete_object(Bucket="photos", Key="trip/fruits.jpg")
    gone = client.get(f"/previews/{by_path[f'{URL}/fruits.jpg']['content_hash']}/1024")
    assert gone.status_code == 404 and "not found" in gone.json()["detail"]
