"""Face identity: dlib's 128-d ResNet descriptor of each detected face.

Each face goes through dlib's 5-point landmark model (eye corners, nose base)
and is aligned into a 150 x 150 chip by dlib, as the descriptor network was
trained; the network itself runs on ONNX Runtime, converted from dlib's file
by :mod:`photocull.models.dlib_resnet` (descriptors equal dlib's to 3e-7).
Two faces of one person lie within Euclidean distance :data:`SAME_PERSON`.

Measured on the corpus (``faces/people`` and ``faces/groups``, 18 faces of 5
people), each photo also shrunk so its face box is W px wide:

* Face size. Without enlarging (below), a shrunk face's descriptor drifts from
  its full-size one by 0.06 (150 px box), 0.14 (60), 0.23 (40), 0.31 (30) and
  0.47 (20) on average; the farthest pair of one person is 0.48 at full size,
  0.53 at 40 px, 0.56 at 30 px and 0.69 at 20 px, while pairs of two people
  stay above 0.62. Below :data:`MIN_RELIABLE_FACE_PX` (box width, about 19 px
  between the eye centres) a descriptor is a weak clue only.
* Enlarging helps a little, so faces narrower than ``_UPSAMPLE_TO`` px are cut
  out and enlarged (bicubic) before landmarks and chip: drift falls from 0.39
  to 0.36 at 25 px, 0.23 to 0.21 at 40 px and 0.10 to 0.07 at 80 px; the
  farthest pair of one person at 25 px from 0.65 to 0.60. Cost: under 1 ms.
* ``num_jitters`` (dlib averages N randomly jittered chips; 0 and 1 both mean
  none) widens the gap between the farthest pair of one person and the
  nearest pair of two people from 0.21 to 0.24 with 10 jitters, for 10 times
  the time: not used. Chip padding 0.25 (dlib's, the training setting) beats
  0.1 (gap 0.14) and 0.4 (0.08).
* Boxes. BlazeFace's boxes (``detect.py``) match dlib HOG's within 2% in size,
  6% lower; descriptors from either differ by 0.04 (median; 0.42 for one
  half-turned face). The landmark model needs boxes about that tight: one 15%
  of its width too low spoils the descriptor (up to 0.85 off).
* Time. The network takes 6-8 ms a face on one CPU thread in ONNX Runtime
  (dlib-bin, built without BLAS, took 80-180 ms), the landmarks 2 ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import dlib
import numpy as np

if TYPE_CHECKING:
    import onnxruntime

DIMENSIONS = 128
# dlib's convention: below this, the same person (99.38% on LFW).
SAME_PERSON = 0.6
# Face box width (brows to chin, as dlib's HOG detector and BlazeFace draw it)
# below which descriptors of one person drift past 0.5 apart.
MIN_RELIABLE_FACE_PX = 40

_UPSAMPLE_TO = 150  # px of box width; the network's chip is 150 x 150
_CROP_MARGIN = 0.8  # of the box width, kept around a face enlarged alone
_CHIP = 150  # px, the network's input
_PADDING = 0.25  # around the aligned face in the chip, as dlib trained it

Box = tuple[float, float, float, float]


class FaceDescriber:
    """Loads the landmark and descriptor models once; describes faces of any number of photos."""

    def __init__(self, landmarks_path: Path, descriptor: onnxruntime.InferenceSession):
        self._landmarks = dlib.shape_predictor(str(landmarks_path))
        self._network = descriptor  # the converted dlib-face-descriptor model

    def describe(self, rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """N x 128 float32 descriptors, one per box (x0, y0, x1, y1 in ``rgb`` pixels).

        ``rgb`` is uint8 H x W x 3, upright. Boxes may reach past the image:
        the chip is filled with black there, as dlib does.
        """
        return self.describe_chips(self.chips(rgb, boxes))

    def chips(self, rgb: np.ndarray, boxes: Sequence[Box]) -> list[np.ndarray]:
        """dlib's aligned 150 x 150 chip (uint8 RGB) of each box, as :meth:`describe` feeds the network."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected uint8 H x W x 3 RGB, got {rgb.dtype} {rgb.shape}")
        chips = []
        for box in boxes:
            image, (x0, y0, x1, y1) = _enlarged(rgb, box)
            rect = dlib.rectangle(round(x0), round(y0), round(x1) - 1, round(y1) - 1)
            chips.append(dlib.get_face_chip(image, self._landmarks(image, rect), size=_CHIP, padding=_PADDING))
        return chips

    def describe_chips(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """N x 128 float32 descriptors of aligned chips, all in one run of the network."""
        if not chips:
            return np.empty((0, DIMENSIONS), np.float32)
        (descriptors,) = self._network.run(["descriptor"], {"chip": np.stack(chips)})
        return descriptors.astype(np.float32, copy=False)


def _enlarged(rgb: np.ndarray, box: Box) -> tuple[np.ndarray, Box]:
    """The face's surroundings enlarged so its box is ``_UPSAMPLE_TO`` px wide, and the box in it.

    A face at least that wide is returned as it is, in the whole image.
    """
    x0, y0, x1, y1 = box
    width = x1 - x0
    if width <= 0 or y1 <= y0:
        raise ValueError(f"empty face box {box}")
    scale = _UPSAMPLE_TO / width
    if scale <= 1:
        return np.ascontiguousarray(rgb), box
    height_px, width_px = rgb.shape[:2]
    margin = _CROP_MARGIN * width
    cx0, cy0 = max(0, int(x0 - margin)), max(0, int(y0 - margin))
    cx1, cy1 = min(width_px, int(np.ceil(x1 + margin))), min(height_px, int(np.ceil(y1 + margin)))
    if cx1 <= cx0 or cy1 <= cy0:
        raise ValueError(f"face box {box} lies outside the {width_px} x {height_px} image")
    crop = cv2.resize(rgb[cy0:cy1, cx0:cx1], None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(crop), ((x0 - cx0) * scale, (y0 - cy0) * scale,
                                        (x1 - cx0) * scale, (y1 - cy0) * scale)


def distance(a: np.ndarray, b: np.ndarray) -> float | np.ndarray:
    """Euclidean distance between descriptors (broadcasting over leading axes); same person below 0.6."""
    result = np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=-1)
    return float(result) if result.ndim == 0 else result
