"""Helpers for tests: where the corpus is, and running the CLI as a user would."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
# Models fetched by the tests, kept between runs on one machine (git-ignored).
MODELS_DIR = Path(os.environ.get("PHOTOCULL_TEST_MODELS_DIR") or Path(__file__).resolve().parents[1] / ".cache" / "models")
# Scans in tests that are not about the neural analysers leave them out, for speed.
PIXEL_ANALYSERS = "technical,fingerprints"


def run_cli(*args: str | os.PathLike, check: bool = True, env: dict | None = None,
            **kwargs) -> subprocess.CompletedProcess:
    """Run ``python -m photocull ARGS`` as a user would; stdout and stderr captured as text."""
    result = subprocess.run([sys.executable, "-m", "photocull", *map(str, args)], capture_output=True,
                            text=True, env={**os.environ, "COLUMNS": "200", **(env or {})}, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"photocull {args} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def scan_json(*args: str | os.PathLike, **kwargs) -> dict:
    """``photocull scan ... --json`` and its report."""
    result = run_cli("scan", *args, "--json", **kwargs)
    return json.loads(result.stdout)


def tree_digest(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (excluding photocull's own state folder)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".photocull" not in p.parts
    }
