"""The app and its client for a module's ``catalog_path``; modules that need other settings or another
host name define their own ``app`` or ``client``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("httpx")
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from photocull.config import Settings  # noqa: E402
from photocull.web.app import create_app  # noqa: E402


@pytest.fixture()
def app(catalog_path: Path) -> Iterator[FastAPI]:
    app = create_app(catalog_path, Settings())
    yield app
    if app.state.jobs is not None:
        app.state.jobs.shutdown()


@pytest.fixture()
def client(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1")
