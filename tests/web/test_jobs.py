"""Background scan jobs: cancel keeps the finished work and resume completes it, the event stream
delivers progress and the reload, a restart shows a running job as interrupted, inputs stay inside
the library, and ``photocull serve`` on an empty folder makes a library to upload into."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from photocull.catalog.store import Catalog  # noqa: E402
from photocull.web.app import create_app  # noqa: E402
from tests.served import free_port  # noqa: E402
from tests.web.helpers import CSRF, new_library, running_server, settings, wait_for_job  # noqa: E402


def test_cancel_keeps_finished_work_and_resume_completes_it(corpus: Path, tmp_path: Path):
    library = tmp_path / "library"
    shutil.copytree(corpus / "eyes", library / "eyes")  # 800 small photos: a few seconds of scanning
    catalog_path = new_library(library)
    app = create_app(catalog_path, settings())
    client = TestClient(app, base_url="http://127.0.0.1")
    try:
        job = client.post("/api/jobs", json={"paths": ["eyes"]}, headers=CSRF).json()
        deadline = time.monotonic() + 60
        while client.get(f"/api/jobs/{job['id']}").json()["done"] < 40:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.post(f"/api/jobs/{job['id']}/cancel", headers=CSRF).status_code == 200
        cancelled = wait_for_job(client.get, job["id"])
        assert cancelled["state"] == "cancelled", cancelled
        with Catalog(catalog_path) as cat:
            saved = len(cat.file_states())
        assert 40 <= saved < 800, saved  # the finished files were committed, the rest dropped
        assert client.get("/api/photos").json()["total"] >= 40  # the gallery was rebuilt with them

        resumed = client.post(f"/api/jobs/{job['id']}/resume", headers=CSRF).json()
        assert resumed["id"] != job["id"] and resumed["inputs"] == ["eyes"]
        done = wait_for_job(client.get, resumed["id"], timeout=120)
        assert done["state"] == "done", done
        assert done["report"]["skipped"] >= saved - 8  # the saved files were not read again
        assert done["report"]["files"] == 800
        listing = client.get("/api/jobs").json()["jobs"]
        assert [j["id"] for j in listing] == [resumed["id"], job["id"]]  # newest first
        assert client.get("/api/photos").json()["total"] == 800
    finally:
        app.state.jobs.shutdown()


def test_job_inputs_stay_inside_the_library(tmp_path: Path):
    library = tmp_path / "library"
    (library / "inside").mkdir(parents=True)
    app = create_app(new_library(library), settings())
    client = TestClient(app, base_url="http://127.0.0.1")
    try:
        for bad in ("../", "/etc", "inside/../../x", ""):
            assert client.post("/api/jobs", json={"paths": [bad]}, headers=CSRF).status_code == 400, bad
        assert client.post("/api/jobs", json={"paths": ["nowhere"]}, headers=CSRF).status_code == 404
        assert client.post("/api/jobs", json={"paths": ["inside"]}).status_code == 403  # CSRF guard
        assert client.get("/api/jobs/nope").status_code == 404
        assert client.post("/api/jobs/nope/cancel", headers=CSRF).status_code == 404
        whole = client.post("/api/jobs", headers=CSRF).json()  # no body: the whole library
        assert whole["inputs"] == ["."] and whole["kind"] == "scan"
        assert wait_for_job(client.get, whole["id"])["state"] == "done"
        assert client.post(f"/api/jobs/{whole['id']}/resume", headers=CSRF).status_code == 200
    finally:
        app.state.jobs.shutdown()


def test_a_job_running_when_the_server_stopped_is_interrupted_and_can_resume(tmp_path: Path):
    library = tmp_path / "library"
    (library / "photos").mkdir(parents=True)
    catalog_path = new_library(library)
    with Catalog(catalog_path) as cat:
        cat.put_state("web.jobs", [{"id": "abc123", "inputs": ["photos"], "state": "running", "done": 3,
                                    "total": 10, "created": time.time() - 60, "started": time.time() - 60}])
    app = create_app(catalog_path, settings())
    client = TestClient(app, base_url="http://127.0.0.1")
    try:
        job = client.get("/api/jobs/abc123").json()
        assert job["state"] == "interrupted" and job["done"] == 3 and job["finished"]
        resumed = client.post("/api/jobs/abc123/resume", headers=CSRF).json()
        assert resumed["inputs"] == ["photos"]
        assert wait_for_job(client.get, resumed["id"])["state"] == "done"
    finally:
        app.state.jobs.shutdown()


def read_events(response, until) -> list[tuple[str, dict | None]]:
    """Server-sent events from a streaming response, until ``until(events)`` says enough."""
    events: list[tuple[str, dict | None]] = []
    name, data = None, None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "" and name:
            events.append((name, data))
            name, data = None, None
            if until(events):
                break
    return events


def test_the_event_stream_delivers_progress_and_the_reload(corpus: Path, tmp_path: Path):
    library = tmp_path / "library"
    shutil.copytree(corpus / "scenes", library / "scenes")
    app = create_app(new_library(library), settings())
    with running_server(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        with http.stream("GET", "/api/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            job = http.post("/api/jobs", json={"paths": ["scenes"]}, headers=CSRF).json()
            events = read_events(stream, lambda seen: any(name == "reload" for name, _ in seen)
                                 and any(d and d.get("state") == "done" for _, d in seen))
        states = [data["state"] for name, data in events if name == "job"]
        assert states[0] in ("queued", "running") and states[-1] == "done", states  # culling may be
        assert set(states) <= {"queued", "running", "culling", "done"}  # shorter than one event interval
        assert all(data["id"] == job["id"] for name, data in events if name == "job")
        done = next(d for n, d in events if n == "job" and d["state"] == "done")
        assert done["done"] == done["total"] == 20 and done["report"]["files"] == 20
        assert len(states) < 40  # throttled, not one event per file and state
        assert http.get("/api/photos").json()["total"] == 20


def test_serve_an_empty_folder_then_upload_into_it(corpus: Path, tmp_path: Path):
    """``photocull serve`` on a folder without a catalog: an empty library; an upload fills it."""
    from tusclient import client as tus

    library = tmp_path / "empty"
    library.mkdir()
    config = tmp_path / "photocull.toml"
    config.write_text('[scan]\nanalysers = ["technical", "fingerprints"]\nworkers = 2\n')
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "photocull", "serve", str(library), "--port", str(port),
                               "--config", str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"{base}/api/photos").json()["total"] == 0
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(server.stderr.read().decode() if server.poll() is not None
                                         else "server did not answer in 60 s") from None
                time.sleep(0.2)
        assert (library / ".photocull" / "catalog.db").is_file()
        source = corpus / "scenes" / "graf1.png"
        tus.TusClient(f"{base}/uploads/", headers=CSRF).uploader(
            str(source), metadata={"filename": source.name, "batch": "first"}).upload()
        finished = httpx.post(f"{base}/api/uploads/first/finish", headers=CSRF).json()
        assert finished["accepted"] == ["graf1.png"]
        job = wait_for_job(lambda url: httpx.get(base + url), finished["job"]["id"])
        assert job["state"] == "done", job
        assert [p["path"] for p in httpx.get(f"{base}/api/photos").json()["photos"]] == ["uploads/first/graf1.png"]
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        server.stdout.close()
        server.stderr.close()
