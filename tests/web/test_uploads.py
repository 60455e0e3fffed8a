"""Uploads: the tus 1.0.0 server (with the official Python client), resuming after a dropped
connection, the limits, content sniffing, path traversal, ZIPs, and finishing a batch into a scan."""

from __future__ import annotations

import base64
import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from photocull.web.app import create_app  # noqa: E402
from tests.web.helpers import CSRF, new_library, running_server, settings, wait_for_job  # noqa: E402

TUS = {"Tus-Resumable": "1.0.0", **CSRF}


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create(client, name: str, length: int, **meta: str):
    return client.post("/uploads/", headers={**TUS, "Upload-Length": str(length),
                                             "Upload-Metadata": metadata(filename=name, **meta)})


def patch(client, location: str, offset: int, body: bytes, content_type: str = "application/offset+octet-stream"):
    return client.patch(location, content=body, headers={**TUS, "Upload-Offset": str(offset),
                                                         "Content-Type": content_type})


def upload(client, name: str, body: bytes, **meta: str):
    """Create and send a whole file in one PATCH; the PATCH's response."""
    created = create(client, name, len(body), **meta)
    assert created.status_code == 201, created.text
    return patch(client, created.headers["location"], 0, body)


@pytest.fixture()
def app(tmp_path: Path) -> FastAPI:
    app = create_app(new_library(tmp_path / "library"), settings(max_upload_bytes=10 << 20))
    yield app
    app.state.jobs.shutdown()


@pytest.fixture()
def no_scan(app: FastAPI) -> list[list[str]]:
    """Finishing a batch queues nothing (the tests of files alone need no scan): the inputs it asked for."""
    asked: list[list[str]] = []
    app.state.jobs.submit = lambda inputs: asked.append(inputs) or {"id": "stub", "inputs": inputs}
    return asked


def test_official_tus_client_uploads_and_the_batch_is_scanned(corpus: Path, tmp_path: Path):
    """tuspy (the tus project's Python client) against a real server; finishing the batch scans it and the
    photo appears in the gallery after the rebuild."""
    from tusclient import client as tus

    library = tmp_path / "library"
    app = create_app(new_library(library), settings())
    source = corpus / "scenes" / "graf1.png"
    with running_server(app) as base:
        uploader = tus.TusClient(f"{base}/uploads/", headers=CSRF).uploader(
            str(source), chunk_size=200_000, metadata={"filename": source.name, "batch": "trip",
                                                       "relativePath": "day 1/" + source.name})
        uploader.upload()
        assert uploader.offset == source.stat().st_size
        with httpx.Client(base_url=base) as http:
            finished = http.post("/api/uploads/trip/finish", headers=CSRF).json()
            assert finished["batch"] == "trip" and finished["refused"] == []
            assert finished["accepted"] == ["day 1/graf1.png"]
            job = wait_for_job(http.get, finished["job"]["id"])
            assert job["state"] == "done", job
            assert job["inputs"] == ["uploads/trip"] and job["done"] == job["total"] == 1
            photos = http.get("/api/photos").json()["photos"]
    assert [p["path"] for p in photos] == ["uploads/trip/day 1/graf1.png"]
    assert (library / "uploads" / "trip" / "day 1" / "graf1.png").read_bytes() == source.read_bytes()
    assert not list((library / ".photocull" / "uploads").iterdir())  # nothing left behind


def test_an_upload_resumes_after_a_dropped_connection(corpus: Path, tmp_path: Path):
    """The client dies mid-PATCH; HEAD gives the offset on disk and the rest completes the exact bytes."""
    source = (corpus / "scenes" / "graf3.png").read_bytes()
    app = create_app(new_library(tmp_path / "library"), settings())
    with running_server(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        location = create(http, "graf3.png", len(source), batch="b").headers["location"]

        def dying_body() -> Iterator[bytes]:
            for start in range(0, 400_000, 50_000):
                yield source[start:start + 50_000]
                time.sleep(0.02)
            raise ConnectionError("the network went away")

        with pytest.raises(Exception):
            http.patch(location, content=dying_body(),
                       headers={**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
        deadline = time.monotonic() + 10
        while True:  # the server notices the drop and releases the upload
            offset = int(http.head(location, headers=TUS).headers["upload-offset"])
            rest = patch(http, location, offset, source[offset:])
            if rest.status_code == 204 or time.monotonic() > deadline:
                break
            assert rest.status_code in (409, 423), rest.text
            time.sleep(0.1)
        assert 0 < offset < len(source)
        assert rest.status_code == 204, rest.text
        assert rest.headers["upload-offset"] == str(len(source))
        data = next((tmp_path / "library" / ".photocull" / "uploads").glob("*.bin")).read_bytes()
    assert data == source


def test_tus_protocol_answers(client: TestClient):
    options = client.options("/uploads/")
    assert options.headers["tus-version"] == "1.0.0"
    assert options.headers["tus-extension"] == "creation,termination,expiration"
    assert options.headers["tus-max-size"] == str(10 << 20)
    assert client.post("/uploads/", headers={"Upload-Length": "5", "Upload-Metadata": metadata(filename="a.jpg"),
                                             **CSRF}).status_code == 412  # no Tus-Resumable
    assert client.post("/uploads/", headers={"Tus-Resumable": "1.0.0", "Upload-Length": "5",
                                             "Upload-Metadata": metadata(filename="a.jpg")}).status_code == 403
    created = create(client, "a.jpg", 10)
    assert created.status_code == 201 and "upload-expires" in created.headers
    location = created.headers["location"]
    assert patch(client, location, 0, b"\xff\xd8\xff\xe0", "application/octet-stream").status_code == 415
    assert patch(client, location, 0, b"\xff\xd8\xff\xe0").headers["upload-offset"] == "4"
    assert patch(client, location, 0, b"\xff\xd8").status_code == 409  # the offset is 4 now
    assert patch(client, location, 4, b"x" * 7).status_code == 413  # past Upload-Length
    head = client.head(location, headers=TUS)
    assert head.headers["upload-offset"] == "4" and head.headers["upload-length"] == "10"
    assert client.delete(location, headers=TUS).status_code == 204
    assert client.head(location, headers=TUS).status_code == 404


def test_limits_and_names_are_refused_at_creation(client: TestClient):
    assert create(client, "big.jpg", (10 << 20) + 1).status_code == 413
    assert create(client, "notes.txt", 10).status_code == 415
    assert create(client, "movie.mp4", 10).status_code == 415
    assert create(client, "../../evil.jpg", 10).status_code == 400
    assert create(client, "a.jpg", 10, batch="../x").status_code == 400
    assert create(client, "huge.jpg", 1 << 62).status_code == 413
    assert create(client, "a.zip", 10).status_code == 201 and create(client, "a.CR2", 10).status_code == 201


def test_disk_full_is_refused_at_creation(client: TestClient, app: FastAPI, monkeypatch):
    import shutil

    from photocull.web import uploads

    monkeypatch.setattr(uploads.shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(100, 90, 10))
    app.state.uploads.max_bytes = 1 << 40
    assert create(client, "a.jpg", 1 << 20).status_code == 507


def test_content_that_is_not_what_its_name_says_is_refused_and_deleted(client: TestClient, app: FastAPI,
                                                                       corpus: Path):
    text = b"just some notes, not a photo at all\n"
    created = create(client, "photo.jpg", len(text))
    refused = patch(client, created.headers["location"], 0, text)
    assert refused.status_code == 415 and "not what the name says" in refused.json()["detail"]
    assert client.head(created.headers["location"], headers=TUS).status_code == 404
    assert not list(app.state.uploads.folder.iterdir())
    jpeg = (corpus / "scenes").glob("*.jpg").__next__().read_bytes()
    assert upload(client, "fake.zip", jpeg).status_code == 415  # a JPEG is not a ZIP
    assert upload(client, "fake.nef", b"PK\x03\x04" + b"\0" * 60).status_code == 415  # RAW: not a ZIP either
    png = (corpus / "scenes" / "graf1.png").read_bytes()
    assert upload(client, "png named.jpg", png).status_code == 204  # photocull decodes by content


def test_upload_ids_cannot_escape(client: TestClient, app: FastAPI):
    for bad in ("..%2F..%2Fcatalog.db", "..", "0" * 31, "g" * 32, "%2e%2e"):
        response = client.head(f"/uploads/{bad}", headers=TUS)
        assert response.status_code in (404, 405, 422), bad  # 405: ".." normalised to /uploads/
        assert client.delete(f"/uploads/{bad}", headers=TUS).status_code in (404, 405, 422), bad
    assert client.head(f"/uploads/{'0' * 32}", headers=TUS).status_code == 404
    assert (app.state.catalog_path).is_file()


def test_finish_sanitises_paths_and_renames_clashes(client: TestClient, app: FastAPI, no_scan, corpus: Path):
    jpeg = next((corpus / "scenes").glob("*.jpg")).read_bytes()
    for relative in ("../../../outside/x.jpg", "/etc/x.jpg", "a/../../x.jpg", "x.jpg", ".hidden/x.jpg",
                     'we<ird>:|?"/x.jpg', "x.jpg"):
        assert upload(client, "x.jpg", jpeg, batch="b1", relativePath=relative).status_code == 204
    assert create(client, "pending.jpg", 10, batch="b1").status_code == 201
    finished = client.post("/api/uploads/b1/finish", headers=CSRF).json()
    root = app.state.index.root
    folder = root / "uploads" / "b1"
    stored = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert sorted(finished["accepted"]) == stored
    assert stored == ["a/x.jpg", "etc/x.jpg", "hidden/x.jpg", "outside/x.jpg", "we_ird_____/x.jpg",
                      "x (1).jpg", "x.jpg"]
    assert finished["refused"] == [{"name": "pending.jpg",
                                    "reason": "upload not complete (0 of 10 bytes); finish again once it is"}]
    assert no_scan == [["uploads/b1"]] and finished["job"]["id"] == "stub"
    assert sorted(p.name for p in root.iterdir()) == [".photocull", "uploads"]
    assert client.post("/api/uploads/..%2Fx/finish", headers=CSRF).status_code in (404, 422)
    assert client.post("/api/uploads/empty/finish", headers=CSRF).json() == {
        "batch": "empty", "accepted": [], "refused": [], "job": None}


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_zips_are_extracted_safely(client: TestClient, app: FastAPI, no_scan, corpus: Path):
    photos = sorted((corpus / "scenes").glob("*.jpg"))[:2]
    good = zip_bytes({f"card/{p.name}": p.read_bytes() for p in photos} | {"card/notes.txt": b"hi"})
    traversal = zip_bytes({"../../evil.jpg": photos[0].read_bytes()})
    bomb = zip_bytes({"big.jpg": b"\0" * (40 << 20)})
    for name, data in (("good.zip", good), ("evil.zip", traversal), ("bomb.zip", bomb)):
        assert upload(client, name, data, batch="z").status_code == 204
    finished = client.post("/api/uploads/z/finish", headers=CSRF).json()
    assert finished["accepted"] == ["good/"]
    reasons = {r["name"]: r["reason"] for r in finished["refused"]}
    assert "outside the extraction folder" in reasons["evil.zip"]
    assert "zip bomb" in reasons["bomb.zip"]
    folder = app.state.index.root / "uploads" / "z"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        f"good/card/{p.name}" for p in photos]
    assert not (app.state.index.root / "evil.jpg").exists()
    assert no_scan == [["uploads/z"]]
