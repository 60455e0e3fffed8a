"""What the web tests share: the CSRF header, settings for fast scans, an empty library, a real
uvicorn server in a thread, waiting for a job, and reading every photo of the gallery."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import FastAPI

from photocull.catalog.store import Catalog
from photocull.config import Settings, load_settings
from tests.served import free_port

CSRF = {"X-Photocull": "1"}
FAST = ["technical", "fingerprints"]


def settings(analysers: list[str] = FAST, **web) -> Settings:
    return load_settings(scan={"analysers": analysers, "workers": 2}, web=web)


def new_library(root: Path) -> Path:
    """An empty library (a folder and its new catalog), as ``photocull serve`` makes it; the catalog's path."""
    catalog_path = root / ".photocull" / "catalog.db"
    Catalog(catalog_path).close()
    return catalog_path


@contextmanager
def running_server(app: FastAPI) -> Iterator[str]:
    """A real uvicorn server for ``app`` in a thread on a free port; its base URL. Stopped (and the app's
    lifespan ended: the job thread stopped) on the way out."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(30)


def wait_for_job(get, job_id: str, timeout: float = 60) -> dict:
    """Poll ``GET /api/jobs/{id}`` until the job ended."""
    deadline = time.monotonic() + timeout
    while True:
        job = get(f"/api/jobs/{job_id}").json()
        if job["state"] not in ("queued", "running", "culling"):
            return job
        assert time.monotonic() < deadline, f"job still {job['state']}: {job}"
        time.sleep(0.2)


def all_photos(client, **params) -> list[dict]:
    """Every photo ``GET /api/photos`` lists with ``params`` (up to 500)."""
    page = client.get("/api/photos", params={"limit": 500, **params})
    assert page.status_code == 200, page.text
    return page.json()["photos"]
