"""End-to-end fixtures: Debian's chromium through Playwright, and a real ``photocull serve`` on 127.0.0.1.

The server is :class:`tests.served.Server`. Skipped, saying why, where chromium or Playwright is missing (``.ci/run`` installs both).
Screenshots go to ``test-output/e2e/`` at the repository root.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.served import Server

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "e2e"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does it)")
    return path


@pytest.fixture(scope="session")
def browser(chromium: str):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install '.[test]')")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture(scope="module")
def serve() -> Iterator[Callable[..., Server]]:
    """A factory of servers; every server it started is stopped after the module."""
    started: list[Server] = []

    def start(library: Path, config: Path | None = None) -> Server:
        server = Server(library, config)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
