"""NIMA on real photos: degraded copies must score lower than their sharp originals."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from photocull.catalog.store import Catalog
from photocull.config import Settings
from photocull.pipeline.scan import scan

# Photos the corpus README calls genuinely blurred are not "sharp originals".
BLURRED = {"text_defocus.jpg", "text_motion.jpg", "licenseplate_motion.jpg"}


def _degradations(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Four classic ways a shot goes wrong, each strong enough to see at a glance."""
    long_edge = max(rgb.shape[:2])
    rng = np.random.default_rng(0)
    as_float = rgb.astype(np.float32)
    return {
        "blur": cv2.GaussianBlur(rgb, (0, 0), sigmaX=long_edge / 150),
        "noise": np.clip(as_float + rng.normal(0, 30, rgb.shape), 0, 255).astype(np.uint8),
        "underexposed": np.clip(as_float * 0.25, 0, 255).astype(np.uint8),
        "jpeg": np.asarray(Image.open(io.BytesIO(_jpeg(rgb, quality=4)))),
    }


def _jpeg(rgb: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def degraded_catalog(corpus: Path, models_ready: Path, tmp_path_factory) -> tuple[Catalog, list[str]]:
    folder = tmp_path_factory.mktemp("degraded")
    originals = [p for p in sorted((corpus / "scenes").iterdir()) if p.name not in BLURRED]
    originals += sorted((corpus / "dedup" / "base_images").glob("*.jpg"))
    names = []
    for path in originals:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB"))
        name = f"{path.parent.name}-{path.stem}"
        names.append(name)
        Image.fromarray(rgb).save(folder / f"{name}.png")
        for kind, pixels in _degradations(rgb).items():
            Image.fromarray(pixels).save(folder / f"{name}~{kind}.png")
    catalog = Catalog(folder / "catalog.db")
    scan([folder], catalog, Settings(scan={"analysers": ("aesthetic",)}))
    return catalog, names


def test_nima_prefers_the_original_in_nine_pairs_of_ten(degraded_catalog) -> None:
    catalog, names = degraded_catalog
    score = {Path(r["path"]).stem: r["nima_mean"] for r in catalog.photos(order_by="nima_mean")}
    pairs = [(name, f"{name}~{kind}") for name in names for kind in ("blur", "noise", "underexposed", "jpeg")]
    assert all(a in score and b in score for a, b in pairs)
    wins = [score[original] > score[copy] for original, copy in pairs]
    losses = [copy for (original, copy), won in zip(pairs, wins) if not won]
    assert sum(wins) / len(pairs) >= 0.9, f"original scored lower or equal in {len(losses)} pairs: {losses}"


def test_nima_scores_are_distributions_on_the_1_to_10_scale(degraded_catalog) -> None:
    catalog, _ = degraded_catalog
    rows = catalog.photos(order_by="nima_mean")
    assert rows and all(1 <= r["nima_mean"] <= 10 and 0 < r["nima_std"] < 4.5 for r in rows)
    # Not a constant: the scores spread across photos.
    assert max(r["nima_mean"] for r in rows) - min(r["nima_mean"] for r in rows) > 1.0
