"""End-to-end fixtures: Debian's chromium through Playwright, and a real ``photocull serve`` on 127.0.0.1.

Skipped, saying why, where chromium or Playwright is missing (``.ci/run`` installs both).
Screenshots go to ``test-output/e2e/`` at the repository root.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.web.helpers import free_port

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


class Server:
    """``photocull serve`` in a child process, on 127.0.0.1 and a free port; stopped by its process id."""

    def __init__(self, library: Path, config: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = library.parent / f"serve-{self.port}.log"
        args = [sys.executable, "-m", "photocull", "serve", str(library), "--port", str(self.port)]
        if config is not None:
            args += ["--config", str(config)]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
        deadline = time.monotonic() + 60
        while True:
            try:
                self.get("/api/stats")
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"photocull serve did not start:\n{self.log.read_text()}")
                time.sleep(0.2)

    def get(self, route: str) -> dict:
        with urllib.request.urlopen(self.url + route, timeout=10) as response:
            return json.load(response)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


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
