"""A small real catalog for the export tests: corpus photos copied into tmp and scanned once (pixel analysers)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from photocull.catalog.store import Catalog
from photocull.config import Settings
from photocull.pipeline.scan import scan

PIXELS = Settings(scan={"analysers": ("technical", "fingerprints")})
# root/leuvenA.jpg, root/baboon.jpg, root/fruits.jpg, root/sub/board.jpg and root/sub/board.png
# (two photos of one name: neither may use the Adobe-style board.xmp)
LAYOUT = {"leuvenA.jpg": "leuvenA.jpg", "baboon.jpg": "baboon.jpg", "fruits.jpg": "fruits.jpg",
          "sub/board.jpg": "board.jpg", "sub/board.png": "basketball1.png"}


@pytest.fixture(scope="session")
def scanned_template(corpus: Path, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("export-template") / "shoot"
    for name, source in LAYOUT.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(corpus / "scenes" / source, folder / name)
    with Catalog(folder / ".photocull" / "catalog.db") as catalog:
        report = scan([folder], catalog, PIXELS)
        assert report.analysed == len(LAYOUT) and report.unreadable == 0
        catalog._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return folder


@pytest.fixture
def shoot(scanned_template: Path, tmp_path: Path) -> Path:
    """A private copy of the scanned folder, catalog included (its paths are relative to the folder)."""
    folder = tmp_path / "shoot"
    shutil.copytree(scanned_template, folder)
    return folder


@pytest.fixture
def catalog(shoot: Path):
    with Catalog(shoot / ".photocull" / "catalog.db") as opened:
        yield opened


@pytest.fixture(scope="session")
def exiftool() -> str:
    path = shutil.which("exiftool")
    if path is None:
        pytest.skip("exiftool is not installed (Debian: apt-get install libimage-exiftool-perl)")
    return path


def run_exiftool(exiftool: str, *args: str | Path) -> str:
    return subprocess.run([exiftool, *map(str, args)], capture_output=True, text=True, check=True).stdout
