"""Frames that belong together and are all kept: exposure brackets and panorama sequences.

A bracket is consecutive frames of one camera, at most ``bracket_seconds``
apart, of one scene (embedding cosine >= ``verify_cosine``, or verified by
local features, since a 2 EV change moves the embedding), each exposed
differently from the others: a distinct exposure bias, or at least
``bracket_min_ev`` apart in exposure (time, aperture and ISO). Three frames
or more make a bracket; two only when they are 2 EV or more apart.

A panorama is three or more consecutive frames, at most ``panorama_seconds``
apart, with the same exposure settings and focal length, each overlapping the
next shifted by ``panorama_min_shift``-``panorama_max_shift`` of a frame in one
direction at about the same scale (local-feature verification: only with
``verify``). A burst of a still scene moves far less than 15 % a frame; a
copy or crop lies inside the other frame.
"""

from __future__ import annotations

import math
import numpy as np

from photocull.config import GroupingSettings
from photocull.grouping.groups import PhotoItem
from photocull.grouping.moments import timelines
from photocull.grouping.verify import Verifier

TWO_FRAME_EV = 2.0  # two frames are a bracket only this far apart
_SAME_BIAS = 0.25  # exposure biases closer than this (EV) count as equal


def bracket_sets(items: list[PhotoItem], vectors: np.ndarray, settings: GroupingSettings,
                 verifier: Verifier | None) -> list[list[int]]:
    """Runs of frames forming an exposure bracket (see the module docstring), in time order."""
    def joins(run: list[int], cur: int) -> bool:
        prev = run[-1]
        if items[cur].capture_timestamp - items[prev].capture_timestamp > settings.bracket_seconds:
            return False
        if not all(_distinct(items[other], items[cur], settings.bracket_min_ev) for other in run):
            return False
        return _same_scene(prev, cur, vectors, settings, verifier)

    sets = []
    for line in timelines(items):
        run = [line[0]]
        for cur in line[1:] + [-1]:
            if cur >= 0 and joins(run, cur):
                run.append(cur)
                continue
            spread = max(_exposure_step(items[run[0]], items[i]) for i in run)
            if len(run) >= 3 or (len(run) == 2 and spread >= TWO_FRAME_EV):
                sets.append(run)
            run = [cur]
    return sets


def panorama_sets(items: list[PhotoItem], settings: GroupingSettings, verifier: Verifier,
                  taken: set[int] = frozenset()) -> list[list[int]]:
    """Runs of frames forming a panorama (see the module docstring), in time order; ``taken`` frames are skipped."""
    def step(prev: int, cur: int) -> tuple[int, int] | None:
        """The direction (axis, sign) of a panorama step from prev to cur, or None."""
        a, b = items[prev], items[cur]
        if b.capture_timestamp - a.capture_timestamp > settings.panorama_seconds or _settings(a) != _settings(b):
            return None
        match = verifier.match(prev, cur)
        if match.inliers < settings.min_inliers or not match.panorama_step(
                settings.panorama_min_shift, settings.panorama_max_shift):
            return None
        axis = int(abs(match.shift[1]) > abs(match.shift[0]))
        return axis, int(math.copysign(1, match.shift[axis]))

    sets = []
    for line in timelines(items):
        line = [i for i in line if i not in taken]
        run, direction = line[:1], None
        for prev, cur in zip(line, line[1:] + [-1]):
            found = step(prev, cur) if cur >= 0 else None
            if found is not None and direction in (None, found):
                run.append(cur)
                direction = found
                continue
            if len(run) >= 3:
                sets.append(run)
            run, direction = [cur], None
            if found is not None:  # a turn: cur starts a new run that already has its first step
                run, direction = [prev, cur], found
    return sets


def _distinct(a: PhotoItem, b: PhotoItem, min_ev: float) -> bool:
    """Two frames of a bracket: different exposure biases, or exposures at least ``min_ev`` apart."""
    return (_bias_step(a, b) or 0.0) >= _SAME_BIAS or _exposure_step(a, b) >= min_ev


def _exposure_step(a: PhotoItem, b: PhotoItem) -> float:
    """How differently two frames are exposed, in EV: the bias difference when both have one and it differs,
    otherwise the difference in exposure (time, aperture, ISO); 0 when unknown."""
    bias = _bias_step(a, b)
    if bias is not None and bias >= _SAME_BIAS:
        return bias
    ea, eb = _exposure(a), _exposure(b)
    return abs(ea - eb) if ea is not None and eb is not None else 0.0


def _bias_step(a: PhotoItem, b: PhotoItem) -> float | None:
    if a.exposure_bias is None or b.exposure_bias is None:
        return None
    return abs(a.exposure_bias - b.exposure_bias)


def _exposure(item: PhotoItem) -> float | None:
    """log2 of the light a frame gathered (relative): time x ISO / aperture^2."""
    if not item.exposure_time or not item.f_number or not item.iso:
        return None
    return math.log2(item.exposure_time * item.iso / 100 / item.f_number ** 2)


def _settings(item: PhotoItem) -> tuple:
    return item.exposure_time, item.f_number, item.iso, item.focal_length


def _same_scene(a: int, b: int, vectors: np.ndarray, settings: GroupingSettings, verifier: Verifier | None) -> bool:
    known = vectors.size and vectors[a].any() and vectors[b].any()
    if known and float(vectors[a] @ vectors[b]) >= settings.verify_cosine:
        return True
    return verifier is not None and verifier.match(min(a, b), max(a, b)).inliers >= settings.min_inliers

