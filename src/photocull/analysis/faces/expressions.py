"""Per-face measurements from Face Mesh landmarks: eyes open or closed, smile, rough head pose.

Point indices are MediaPipe's canonical mesh (468 points): "right" is the
subject's right, on the left of an unmirrored photo.

Eyes: the classic eye aspect ratio (Soukupová & Čech) does NOT tell closed
eyes from open ones with this mesh: MediaPipe's base Face Mesh keeps drawing
an open eye over a closed lid (a known limitation, google-ai-edge/mediapipe
#965, #1919; Iris or the attention mesh fix it). On the eyes corpus (400
closed, 400 open) the EAR does no better than chance (balanced accuracy
0.50-0.51 at its best threshold, whatever the crop margin). The mesh does
place the eye well, though, so :func:`eye_openness` reads the photo's
pixels there instead: in an open eye the darkest band is the iris under the
upper lid, in a closed eye it is the lash line where the lids meet, at the
lower lid. That reaches a balanced accuracy of 0.93 with 4% "uncertain"
answers counted as wrong, 0.97 without them (bench/calibrate_eyes.py). It fails mostly on laughing faces whose eyes
are narrowed to a crescent, and on glasses whose frame crosses the eye.
"""

from __future__ import annotations

import math
from typing import Literal

import cv2
import numpy as np

# The six points of each eye for the eye aspect ratio, in Soukupová & Čech's
# order p1..p6: p1 and p4 the corners, p2 and p3 on the upper lid, p5 and p6
# on the lower lid (p2 above p6, p3 above p5).
RIGHT_EYE = (33, 160, 158, 133, 153, 144)
LEFT_EYE = (362, 385, 387, 263, 373, 380)
# Per eye: the two corners, the middle of the upper lid and of the lower lid.
_EYE_AXES = ((33, 133, 159, 145), (362, 263, 386, 374))
MOUTH_CORNERS = (61, 291)
UPPER_INNER_LIP = 13  # the middle of the upper lip, inner edge

# Eye openness of the less open eye (contrast units, see eye_openness),
# calibrated on half the eyes corpus (bench/calibrate_eyes.py): the band is
# where moving a single threshold only trades closed misses for open ones;
# 34 of the 800 crops fall in it.
CLOSED_BELOW = -0.45
OPEN_ABOVE = 0.0
# Smile measure (see smile): 28 smiling faces (22 of the eyes corpus, 6 of the
# face photos) measure 1.08 +- 0.10, 31 neutral ones 0.81 +- 0.07 (hand
# labelled). Thresholds 0.91-0.94 do best (3 mild smiles missed, no neutral
# face taken for a smile).
SMILE_ABOVE = 0.93
# Head pose: beyond this yaw or pitch a face is not facing the camera. The
# portraits of faces/ measure |yaw| <= 22 and |pitch| <= 25; a girl in a group
# photo, looking down and away, yaw -34 (the mesh is rough: see head_pose).
FACING_MAX_DEG = 30.0

EyeState = Literal["open", "closed", "uncertain"]


def _xy(points: np.ndarray, index: int) -> np.ndarray:
    return np.asarray(points[index, :2], dtype=np.float64)


def eye_aspect_ratio(points: np.ndarray, eye: tuple[int, int, int, int, int, int]) -> float:
    """(|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|) on the image plane: lid gap over eye width."""
    p1, p2, p3, p4, p5, p6 = (_xy(points, i) for i in eye)
    width = float(np.linalg.norm(p1 - p4))
    if width == 0.0:
        return 0.0
    return float(np.linalg.norm(p2 - p6) + np.linalg.norm(p3 - p5)) / (2.0 * width)


def eye_aspect_ratios(points: np.ndarray) -> tuple[float, float]:
    """(right, left) eye aspect ratios; about 0.25 open or closed with this mesh (see the module doc)."""
    return eye_aspect_ratio(points, RIGHT_EYE), eye_aspect_ratio(points, LEFT_EYE)


# Where eye_openness samples, across the eye (in eye widths, around the middle
# of the lids) and down it (in lid gaps: 0 the upper lid, 1 the lower lid).
_ACROSS = np.linspace(-0.2, 0.2, 9)
_DOWN = np.linspace(-1.5, 2.5, 41)
_UPPER_BAND = (_DOWN >= -1e-9) & (_DOWN <= 0.4 + 1e-9)
_LOWER_BAND = (_DOWN >= 0.8 - 1e-9) & (_DOWN <= 1.2 + 1e-9)


def _one_eye_openness(rgb: np.ndarray, points: np.ndarray, axes: tuple[int, int, int, int]) -> float:
    corner_a, corner_b, upper, lower = (_xy(points, i) for i in axes)
    width = float(np.linalg.norm(corner_b - corner_a))
    if width < 1.0:
        return 0.0
    along = (corner_b - corner_a) / width
    grid = (upper + _DOWN[:, None, None] * (lower - upper) + _ACROSS[None, :, None] * width * along)
    # Only the eye's surroundings are converted to grey and smoothed, by about the samples' spacing.
    h, w = rgb.shape[:2]
    pad = 3
    x0 = max(int(math.floor(grid[..., 0].min())) - pad, 0)
    y0 = max(int(math.floor(grid[..., 1].min())) - pad, 0)
    x1 = min(int(math.ceil(grid[..., 0].max())) + pad + 1, w)
    y1 = min(int(math.ceil(grid[..., 1].max())) + pad + 1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 0.0
    gray = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    sigma = 0.02 * width
    if sigma > 0.5:
        cv2.GaussianBlur(gray, (0, 0), sigma, dst=gray)
    samples = cv2.remap(gray, (grid[..., 0] - x0).astype(np.float32), (grid[..., 1] - y0).astype(np.float32),
                        cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    profile = samples.mean(axis=1)
    spread = float(samples.std()) + 1.0
    return float(profile[_LOWER_BAND].mean() - profile[_UPPER_BAND].mean()) / spread


def eye_openness(rgb: np.ndarray, points: np.ndarray) -> tuple[float, float]:
    """(right, left) openness: how much darker the upper-lid band is than the lower-lid band.

    Measured on the photo (H x W x 3 RGB) across the middle two fifths of
    each eye, from well above the upper lid to well below the lower one, and
    divided by the spread of brightness there (so in contrast units). Open eyes measure
    about +0.8 (the iris is dark under the upper lid), closed ones about -1.6
    (the lash line is dark at the lower lid): medians on the eyes corpus. An
    eye outside the photo measures 0, which :func:`eye_state` calls uncertain.
    """
    right, left = _EYE_AXES
    return _one_eye_openness(rgb, points, right), _one_eye_openness(rgb, points, left)


def both_eyes(right: float, left: float) -> float:
    """One openness for the face: the less open eye, so that a blink of one eye counts.

    The minimum separates the corpus better than the mean (best balanced
    accuracy on the calibration half 0.968 against 0.938), at the cost of
    judging a face turned so far that one eye is hidden by that eye: check
    :func:`facing_camera` first.
    """
    return min(right, left)


def eye_state(openness: float, closed_below: float = CLOSED_BELOW, open_above: float = OPEN_ABOVE) -> EyeState:
    """"closed" below ``closed_below``, "open" above ``open_above``, "uncertain" in between."""
    if openness < closed_below:
        return "closed"
    if openness > open_above:
        return "open"
    return "uncertain"


def _face_frame(points: np.ndarray) -> np.ndarray:
    """Points (x, y) in a frame with the eyes level, origin between them, unit = inter-ocular distance."""
    right = points[[33, 133], :2].astype(np.float64).mean(axis=0)
    left = points[[362, 263], :2].astype(np.float64).mean(axis=0)
    axis = left - right
    iod = float(np.linalg.norm(axis))
    if iod == 0.0:
        raise ValueError("degenerate landmarks: both eyes at one point")
    ex = axis / iod
    ey = np.array([-ex[1], ex[0]])
    local = (points[:, :2].astype(np.float64) - (right + left) / 2) @ np.stack([ex, ey], axis=1) / iod
    return local


def smile(points: np.ndarray) -> float:
    """Mouth width plus lift of the mouth corners, in inter-ocular distances (eyes level).

    The lift is how far the corners (61, 291) sit above the middle of the
    upper lip's inner edge (13). A smile widens the mouth and raises its
    corners: smiling faces measure ~1.08, neutral ones ~0.81 (the mesh follows
    the mouth well, unlike the eyelids). The lower lip is left out on purpose:
    measured from the middle of both lips, an open mouth (speech) looked like
    a smile (Obama speaking, obama2.jpg: 0.95; with the upper lip 0.78).
    """
    local = _face_frame(points)
    a, b = (local[i] for i in MOUTH_CORNERS)
    width = float(np.linalg.norm(b - a))
    lift = float(local[UPPER_INNER_LIP, 1] - (a[1] + b[1]) / 2)
    return width + lift


def is_smiling(measure: float, threshold: float = SMILE_ABOVE) -> bool:
    return measure > threshold


def head_pose(points: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch) in degrees, rough, from the depth (z) of the mesh points.

    Yaw: the tilt out of the image plane of the line between the eye centres;
    positive when the face turns towards the photo's right. Pitch: the same
    for the line from between the eyes to the mouth; positive when the face
    tilts down. Frontal portraits (UTKFace) measure yaw -1 (IQR -6..4) and
    pitch -4 (-9..2).
    """
    p = points.astype(np.float64)
    eye_r, eye_l = p[[33, 133]].mean(axis=0), p[[362, 263]].mean(axis=0)
    mouth = p[[61, 291, 13, 14]].mean(axis=0)
    across = eye_l - eye_r
    down = mouth - (eye_r + eye_l) / 2
    yaw = math.degrees(math.atan2(across[2], math.hypot(across[0], across[1])))
    pitch = math.degrees(math.atan2(down[2], math.hypot(down[0], down[1])))
    return yaw, pitch


def facing_camera(yaw: float, pitch: float, max_deg: float = FACING_MAX_DEG) -> bool:
    return abs(yaw) <= max_deg and abs(pitch) <= max_deg
