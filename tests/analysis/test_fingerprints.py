"""pHash / dHash: stable under resizing and recompression, far apart for different scenes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from photocull.analysis.fingerprints import hamming, measure_fingerprints, to_hex


def fingerprints_of(path):
    return measure_fingerprints(np.asarray(Image.open(path).convert("RGB")))


def test_transformed_copies_are_near_and_different_scenes_far(corpus):
    base = fingerprints_of(corpus / "dedup" / "base_images" / "ukbench00120.jpg")
    resized = fingerprints_of(corpus / "dedup" / "mixed_images" / "ukbench00120_resize.jpg")
    assert hamming(base.phash, resized.phash) <= 6 and hamming(base.dhash, resized.dhash) <= 10
    others = [fingerprints_of(p) for p in sorted((corpus / "dedup" / "base_images").glob("*.jpg"))]
    for a, b in itertools.combinations(others, 2):
        assert hamming(a.phash, b.phash) > 16


def test_values_match_the_imagehash_library(corpus):
    imagehash = pytest.importorskip("imagehash", reason="imagehash is a benchmark extra")
    for path in sorted((corpus / "dedup" / "base_images").glob("*.jpg"))[:4]:
        image = Image.open(path).convert("RGB")
        ours = measure_fingerprints(np.asarray(image))
        assert to_hex(ours.phash) == str(imagehash.phash(image))
        assert to_hex(ours.dhash) == str(imagehash.dhash(image))


def test_hashes_fit_sqlite_integers():
    white = measure_fingerprints(np.full((64, 64, 3), 255, np.uint8))
    noise = measure_fingerprints(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    for value in (white.phash, white.dhash, noise.phash, noise.dhash):
        assert -(2**63) <= value < 2**63
