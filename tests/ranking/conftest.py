"""One scanned library for the ranking tests: real corpus photos plus a synthesised burst.

``library/scenes`` (20 real photos), ``library/variants`` (Obama at several
sizes, crops), ``library/obama`` (two portraits), ``library/raw`` (a NEF),
``library/heic`` (a phone HEIC) and ``library/burst`` (fruits.jpg sharp, and
the same frame blurred: a burst where one frame missed focus). Scanned once per
module with the analysers the composite score needs (no CLIP).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageFilter

ANALYSERS = ("technical", "fingerprints", "aesthetic", "embedding", "faces")


def build_library(corpus: Path, root: Path) -> Path:
    shutil.copytree(corpus / "scenes", root / "scenes")
    shutil.copytree(corpus / "faces" / "variants", root / "variants")
    shutil.copytree(corpus / "faces" / "people" / "obama", root / "obama")
    (root / "raw").mkdir()
    shutil.copy(corpus / "raw" / "good" / "Nikon_uncompressed.nef", root / "raw")
    (root / "heic").mkdir()
    shutil.copy(corpus / "exif" / "heic" / "IMG_5195.HEIC", root / "heic")
    (root / "burst").mkdir()
    with Image.open(corpus / "scenes" / "fruits.jpg") as image:
        image = image.convert("RGB")
        image.save(root / "burst" / "frame_1.jpg", quality=92, exif=_exif("10:00:00"))
        image.filter(ImageFilter.GaussianBlur(3)).save(root / "burst" / "frame_2.jpg", quality=92,
                                                       exif=_exif("10:00:01"))
    (root / "scenes" / "fruits.jpg").unlink()  # the burst's sharp frame is this photo
    return root


def _exif(clock: str) -> Image.Exif:
    """A camera's EXIF: make, model and the capture time (one second apart: a burst)."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Testcam", "Burst 1"
    exif.get_ifd(0x8769)[0x9003] = f"2024:05:01 {clock}"
    return exif


@pytest.fixture(scope="module")
def library(corpus: Path, models_ready: Path, tmp_path_factory) -> Path:
    """The library folder, scanned (no cull yet); its catalog is ``library/.photocull/catalog.db``."""
    from photocull.catalog.store import Catalog
    from photocull.config import Settings
    from photocull.pipeline.scan import scan

    root = build_library(corpus, tmp_path_factory.mktemp("ranking") / "library")
    settings = Settings().model_copy(update={"scan": Settings().scan.model_copy(
        update={"analysers": ANALYSERS, "workers": 2})})
    with Catalog(root / ".photocull" / "catalog.db") as catalog:
        scan([root], catalog, settings)
    return root


def catalog_of(root: Path):
    from photocull.catalog.store import Catalog

    return Catalog(root / ".photocull" / "catalog.db")
