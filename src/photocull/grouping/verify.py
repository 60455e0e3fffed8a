"""Geometric verification: do two photos show the same scene, and how do their frames overlap?

Embeddings cannot tell a rotated or cropped copy (cosine 0.66-0.74 in the
corpus) from an unrelated photo of the same kind (up to 0.72). Local features
can: ORB keypoints on a 512 px grey copy, ratio-tested Hamming matches, and a
RANSAC similarity transform (rotation, scale, shift). True pairs in the corpus
keep 18-333 inliers, unrelated ones (objects on the same carpet included) 6
or fewer. The transform also says how the frames overlap, which tells a copy
(one frame inside the other) from a panorama step (shifted by part of a frame).
ORB does not match a mirror image, so when a pair fails, photo b's mirror image
is tried too (a horizontally flipped copy: 0 inliers as it is, hundreds mirrored).

Photos are decoded through the scan's decoder (RAW, HEIC, orientation) and each
photo's features are computed once per run (:class:`Verifier` caches them).
Decoding dominates (~30 ms a 12 MP JPEG, against ~2 ms a match), and the cull
runs after every scan, so the outcome of every pair is kept by content hash
(:data:`MatchCache`, stored in the catalog): a later cull verifies new pairs only.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from photocull.config import IngestSettings
from photocull.ingest.decode import decode

PREFETCH_MIN_PER_WORKER = 8  # photos per worker below which a process pool costs more than it saves
VERSION = 1  # of the matching below: stored outcomes of another version are not reused
EDGE = 512  # long edge of the grey copy features are found on
FEATURES = 500  # ORB keypoints per photo
RATIO = 0.8  # Lowe's ratio test
RANSAC_PX = 5.0  # reprojection error of an inlier, pixels at EDGE
_GRID = np.stack(np.meshgrid(np.linspace(0.02, 0.98, 9), np.linspace(0.02, 0.98, 9)), -1).reshape(-1, 2)


@dataclass(frozen=True, slots=True)
class Features:
    points: np.ndarray  # (m, 2) float32 pixel positions in the grey copy
    descriptors: np.ndarray | None  # (m, 32) uint8, None when the photo has no usable keypoints
    width: int  # the grey copy's size
    height: int


@dataclass(frozen=True, slots=True)
class Match:
    """The outcome of matching photo a to photo b."""

    inliers: int  # matches consistent with one similarity transform
    matches: int  # matches passing the ratio test
    transform: np.ndarray | None = None  # 2x3: a's pixels (grey copy) to b's
    scale: float = 1.0  # b's size of a's content, relative to the frame (1: same framing)
    rotation: float = 0.0  # degrees
    shift: tuple[float, float] = (0.0, 0.0)  # where a's centre lands in b, minus b's centre, in frames
    coverage: float = 0.0  # share of the smaller-covered frame that lies inside the other: 1 for a crop or copy
    mirrored: bool = False  # a matches b's mirror image (a flipped copy)

    def same_frame(self, min_coverage: float = 0.9, max_shift: float = 0.1) -> bool:
        """One frame lies (almost) wholly inside the other (a copy or crop), or both share their centre
        (a rotated or zoomed copy): one photo, not two views of a scene."""
        if self.transform is None:
            return False
        return self.coverage >= min_coverage or max(abs(self.shift[0]), abs(self.shift[1])) <= max_shift

    def panorama_step(self, min_shift: float, max_shift: float) -> bool:
        """The frames are shifted by part of a frame at about the same scale and rotation: a panorama's next frame."""
        if self.transform is None or self.mirrored or not 0.8 <= self.scale <= 1.25 or abs(self.rotation) > 15:
            return False
        return min_shift <= max(abs(self.shift[0]), abs(self.shift[1])) <= max_shift


MatchCache = dict[tuple[str, str], Match]  # (content hash of a, of b) -> how a maps onto b


def stamp(min_matches: int) -> str:
    """What made a stored outcome: outcomes with another stamp are computed again."""
    return f"orb-{VERSION}-{EDGE}-{FEATURES}-{RATIO}-{RANSAC_PX}-{min_matches}"


def match_to_json(match: Match) -> dict:
    values = asdict(match)
    values["transform"] = None if match.transform is None else match.transform.tolist()
    return values


def match_from_json(values: dict) -> Match:
    transform = values.get("transform")
    return Match(**{**values, "transform": None if transform is None else np.array(transform, np.float64),
                    "shift": tuple(values["shift"])})


class Verifier:
    """Matches photos by local features; features are computed once per photo and kept for the run."""

    def __init__(self, paths: list[str], min_matches: int = 6, hashes: list[str] | None = None,
                 known: MatchCache | None = None):
        """``known``: outcomes of earlier runs by content hashes (``hashes``, one per path); the pairs
        matched now are added to it, and their keys listed in :attr:`computed`."""
        self.paths = paths
        self.hashes = hashes
        self.known: MatchCache = known if known is not None else {}
        self.computed: list[tuple[str, str]] = []
        self.min_matches = min_matches
        self._features: dict[int, Features | None] = {}
        self._mirrored: dict[int, Features | None] = {}
        self._results: dict[tuple[int, int], Match] = {}
        self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING)

    def features(self, i: int) -> Features | None:
        if i not in self._features:
            self._features[i] = compute_features(self.paths[i])
        return self._features[i]

    def needs(self, a: int, b: int) -> bool:
        """Whether matching a with b would compute anything (neither done in this run nor stored)."""
        key = (self.hashes[a], self.hashes[b]) if self.hashes is not None else None
        return (a, b) not in self._results and (key is None or key not in self.known)

    def prefetch(self, indexes: Iterable[int], workers: int | None = None) -> None:
        """Compute the features of these photos in parallel, one process per core: decoding them again is
        nearly all the cost of verification."""
        todo = sorted({i for i in indexes if i not in self._features})
        workers = min(workers or os.cpu_count() or 1, len(todo) // PREFETCH_MIN_PER_WORKER)
        if workers < 2:
            return
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
            for i, found in zip(todo, pool.map(compute_features, [self.paths[i] for i in todo], chunksize=4)):
                self._features[i] = found

    def match(self, a: int, b: int) -> Match:
        """How photo ``a``'s frame maps onto photo ``b``'s, or onto b's mirror image when only that matches
        (cached, in both orders)."""
        if (a, b) in self._results:
            return self._results[a, b]
        key = (self.hashes[a], self.hashes[b]) if self.hashes is not None else None
        if key is not None and key in self.known:
            self._results[a, b] = self.known[key]
        else:
            found = self._match(self.features(a), self.features(b))
            if found.inliers < self.min_matches:
                if b not in self._mirrored:
                    self._mirrored[b] = compute_features(self.paths[b], mirror=True)
                mirrored = self._match(self.features(a), self._mirrored[b])
                if mirrored.inliers >= self.min_matches:
                    found = replace(mirrored, mirrored=True)
            self._results[a, b] = found
            if key is not None:
                self.known[key] = found
                self.computed.append(key)
        return self._results[a, b]

    def _match(self, fa: Features | None, fb: Features | None) -> Match:
        if fa is None or fb is None or fa.descriptors is None or fb.descriptors is None or len(fb.points) < 2:
            return Match(0, 0)
        pairs = self._matcher.knnMatch(fa.descriptors, fb.descriptors, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
        if len(good) < self.min_matches:
            return Match(0, len(good))
        src = fa.points[[g.queryIdx for g in good]]
        dst = fb.points[[g.trainIdx for g in good]]
        transform, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX)
        if transform is None or inliers is None:
            return Match(0, len(good))
        return _describe(int(inliers.sum()), len(good), transform, fa, fb)


def compute_features(path: str, mirror: bool = False) -> Features | None:
    """ORB keypoints of the photo (or its mirror image) on a grey copy with long edge :data:`EDGE`; None when
    the photo cannot be read again (it is then simply not verified)."""
    try:
        rgb = decode(Path(path).read_bytes(), path, IngestSettings(working_size=EDGE, min_decode_edge=EDGE)).rgb
    except Exception:  # noqa: BLE001 - a photo that cannot be read again is just not verified
        return None
    grey = cv2.cvtColor(_fit(rgb[:, ::-1] if mirror else rgb, EDGE), cv2.COLOR_RGB2GRAY)
    keypoints, descriptors = cv2.ORB_create(nfeatures=FEATURES).detectAndCompute(grey, None)
    points = np.float32([k.pt for k in keypoints]).reshape(-1, 2)
    return Features(points, descriptors, grey.shape[1], grey.shape[0])


def _describe(inliers: int, matches: int, m: np.ndarray, fa: Features, fb: Features) -> Match:
    """The transform in words: scale relative to the frames, rotation, shift of the centre, coverage."""
    size_a, size_b = np.array([fa.width, fa.height], float), np.array([fb.width, fb.height], float)
    linear = m[:, :2]
    scale_px = math.sqrt(abs(np.linalg.det(linear)))
    rotation = math.degrees(math.atan2(linear[1, 0], linear[0, 0]))
    centre = linear @ (size_a / 2) + m[:, 2]
    shift = tuple((centre - size_b / 2) / size_b)
    a_in_b = _inside(_GRID * size_a @ linear.T + m[:, 2], size_b)
    try:
        inverse = cv2.invertAffineTransform(m)
        b_in_a = _inside(_GRID * size_b @ inverse[:, :2].T + inverse[:, 2], size_a)
    except cv2.error:
        b_in_a = 0.0
    # Relative scale: how much of b's frame a's frame spans (geometric mean of the two axes).
    scale = scale_px * math.sqrt((size_a[0] * size_a[1]) / (size_b[0] * size_b[1]))
    return Match(inliers, matches, m, scale, rotation, (float(shift[0]), float(shift[1])), max(a_in_b, b_in_a))


def _inside(points: np.ndarray, size: np.ndarray) -> float:
    return float(np.mean(np.all((points >= 0) & (points <= size), axis=1)))


def _fit(rgb: np.ndarray, edge: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) <= edge:
        return rgb
    f = edge / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
