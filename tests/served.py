"""A real ``photocull serve`` in a child process on 127.0.0.1 and a free port, stopped by its process id:
for the end-to-end tests and the web benchmarks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``photocull serve LIBRARY`` until :meth:`stop`; ``startup_s``: seconds until it answered."""

    def __init__(self, library: Path, log: Path | None = None, config: Path | None = None,
                 start_timeout: float = 60):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or library.parent / f"serve-{self.port}.log"
        args = [sys.executable, "-m", "photocull", "serve", str(library), "--port", str(self.port)]
        if config is not None:
            args += ["--config", str(config)]
        began = time.perf_counter()
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy())
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/api/stats", timeout=30):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"photocull serve did not start:\n{self.log.read_text()}") from None
                time.sleep(0.2)
        self.startup_s = round(time.perf_counter() - began, 1)

    def get(self, route: str) -> dict:
        with urllib.request.urlopen(self.url + route, timeout=30) as response:
            return json.load(response)

    def stop(self) -> None:
        """Ctrl+C, as a user stops it; killed if it has not ended 20 s later."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
