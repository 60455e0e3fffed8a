"""A small scanned library with people and groups, for the web tests of people, exports and review."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.helpers import run_cli

# Pairs that the cull groups (a moment, two near-duplicates) and one photo on its own.
SCENES = ("basketball1.png", "basketball2.png", "rubberwhale1.png", "rubberwhale2.png",
          "ela_original.jpg", "ela_modified.jpg", "fruits.jpg")


def scan_library(corpus: Path, root: Path) -> Path:
    """Copy the corpus's portraits (5 people, 9 photos) and 7 scenes to ``root``, scan and cull (~3 s)."""
    shutil.copytree(corpus / "faces" / "people", root / "people")
    (root / "scenes").mkdir(parents=True)
    for name in SCENES:
        shutil.copy(corpus / "scenes" / name, root / "scenes" / name)
    run_cli("scan", root, "--analyzers", "technical,fingerprints,faces,embedding")
    return root
