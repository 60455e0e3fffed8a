"""Face landmarks: MediaPipe Face Mesh (468 points) on a square crop around a detected face.

The network sees a 192 x 192 RGB crop scaled to [0, 1] (as MediaPipe's own
graph feeds it) and returns a face-presence probability (its last layer is a
sigmoid) and 468 points (x, y in crop pixels; z, depth, on the same scale,
smaller is nearer the camera). Like MediaPipe, the crop is a square around the
face box enlarged by a margin, turned so that the eyes are level; the points
are mapped back to the photo's pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

INPUT_SIZE = 192
N_POINTS = 468

# Crop side = longest side of the face box x (1 + margin). MediaPipe enlarges
# BlazeFace boxes 1.5 x; on the tight face crops of the eyes corpus 0.5 also
# tells open from closed eyes best: balanced accuracy 0.945, 0.968, 0.927 and
# 0.675 at margins 0.25, 0.5, 0.75 and 1 (bench/calibrate_eyes.py).
DEFAULT_MARGIN = 0.5
# Presence below this: no face in the box (the points are then meaningless).
# All 800 face crops of the eyes corpus score above 0.1 (797 above 0.5; closed
# eyes score lowest), 464 of 465 random boxes on photos without faces below 0.02.
MIN_PRESENCE = 0.1

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Landmarks:
    """The mesh of one face, in the coordinates of the photo it was measured on."""

    points: np.ndarray  # 468 x 3 float32: x, y in photo pixels, z (depth) on the same scale
    presence: float  # 0-1, the network's face-presence probability


def crop_transform(box: Box, margin: float, angle_deg: float) -> np.ndarray:
    """The 2 x 3 affine matrix taking crop pixels (0..192) to photo pixels.

    The crop is the square of side ``max(w, h) * (1 + margin)`` centred on the
    box, its x axis along ``angle_deg`` (clockwise on screen, y down).
    """
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * (1.0 + margin)
    scale = side / INPUT_SIZE
    theta = math.radians(angle_deg)
    cos, sin = math.cos(theta) * scale, math.sin(theta) * scale
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = INPUT_SIZE / 2
    return np.array([[cos, -sin, cx - (cos - sin) * half],
                     [sin, cos, cy - (sin + cos) * half]], dtype=np.float64)


def mesh_input(rgb: np.ndarray, box: Box, margin: float = DEFAULT_MARGIN, angle_deg: float = 0.0) -> np.ndarray:
    """The network's input for one face: 3 x 192 x 192 float32 in [0, 1].

    Outside the photo the crop is black (zero padding), as in MediaPipe.
    """
    to_photo = crop_transform(box, margin, angle_deg)
    crop = cv2.warpAffine(rgb, to_photo, (INPUT_SIZE, INPUT_SIZE),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return np.ascontiguousarray(crop.transpose(2, 0, 1), dtype=np.float32) / 255.0


def face_landmarks_batch(rgb: np.ndarray, boxes: Sequence[Box], session, *, margin: float = DEFAULT_MARGIN,
                         angles_deg: Sequence[float] | None = None,
                         min_presence: float = MIN_PRESENCE) -> list[Landmarks | None]:
    """Landmarks of several faces of one photo (H x W x 3 uint8 RGB) in one run of ``session``.

    ``boxes`` are (x0, y0, x1, y1) in photo pixels; ``angles_deg`` the roll of
    each face (the angle of the line from the eye on the photo's left to the
    other, ``atan2(dy, dx)`` in degrees), 0 for all when omitted. A face whose
    presence is below ``min_presence`` gives None.
    """
    if not boxes:
        return []
    angles = list(angles_deg) if angles_deg is not None else [0.0] * len(boxes)
    if len(angles) != len(boxes):
        raise ValueError(f"{len(boxes)} boxes but {len(angles)} angles")
    batch = np.stack([mesh_input(rgb, box, margin, angle) for box, angle in zip(boxes, angles)])
    scores, points = session.run(["scores", "points"], {"input": batch})
    if points.shape[1:] != (N_POINTS, 3):
        raise ValueError(f"the landmark model gave points of shape {points.shape[1:]}, expected ({N_POINTS}, 3): "
                         "is it the face-mesh model?")
    found: list[Landmarks | None] = []
    for box, angle, score, crop_points in zip(boxes, angles, scores, points):
        if score < min_presence:
            found.append(None)
            continue
        to_photo = crop_transform(box, margin, angle)
        xy = crop_points[:, :2] @ to_photo[:, :2].T + to_photo[:, 2]
        z = crop_points[:, 2:] * math.hypot(to_photo[0, 0], to_photo[1, 0])
        found.append(Landmarks(np.hstack([xy, z]).astype(np.float32), float(score)))
    return found


def face_landmarks(rgb: np.ndarray, box: Box, session, *, margin: float = DEFAULT_MARGIN, angle_deg: float = 0.0,
                   min_presence: float = MIN_PRESENCE) -> Landmarks | None:
    """Landmarks of the face in ``box`` of ``rgb``, or None when the network sees no face there."""
    return face_landmarks_batch(rgb, [box], session, margin=margin, angles_deg=[angle_deg],
                                min_presence=min_presence)[0]
