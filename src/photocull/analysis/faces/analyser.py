"""The ``faces`` analyser: every face of a photo, with its eyes, smile, pose and identity descriptor.

It runs in the worker, on the working copy: BlazeFace finds the faces
(``detect``), Face Mesh places 468 landmarks on each (``mesh``; a detection
the mesh does not see as a face is dropped), the landmarks give eye openness,
smile and head pose (``expressions``), and dlib's aligned chip goes through
the descriptor network (``identity``). The models are loaded once per worker
process, on the CPU with one thread each (the workers already use every core).

Boxes are stored as fractions of the upright photo's width and height, so
they do not depend on the working size. Face sharpness and brightness are
measured on the face's region of the full-resolution photo: when a photo has
faces, it is decoded a second time at full size and only the faces' regions
are kept (``DecodedPhoto.full_resolution_crops``; photos without faces cost
nothing more). Sharpness is the technical analyser's measure at the region's
native resolution, so blur that the working copy hides counts; a region over
``_MAX_MEASURE_PX`` on its long edge is halved (2 x 2 averages) until it is
not, which bounds the cost and never measures a face at a coarser scale than
the working copy shows it, and one under ``_MIN_SHARPNESS_PX`` full-resolution
pixels on its short side has no sharpness. When the full-resolution decode fails, the working
copy's region stands in (see docs/faces.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from photocull.analysis.base import Analyser
from photocull.analysis.faces import expressions
from photocull.analysis.faces.detect import detect_faces
from photocull.analysis.faces.identity import FaceDescriber
from photocull.analysis.faces.mesh import face_landmarks_batch
from photocull.analysis.technical import measure_technical
from photocull.config import FaceSettings, Settings, TechnicalSettings
from photocull.ingest.decode import DecodedPhoto
from photocull.vectors import to_bytes

ANALYSER = "faces"
VERSION = 2  # 2: sharpness and brightness on the full-resolution face region
MODELS = ("blazeface-full", "face-mesh", "dlib-landmarks-5", "dlib-face-descriptor")
_MIN_SHARPNESS_PX = 48  # full-resolution px: smaller face regions hold too few edge tiles for a sharpness reading
# Larger face regions are halved until they are not: measured at 1024-2048 px, never coarser than the
# working copy (1024 px), and at most ~40 ms a face. 2 x 2 averages, unlike other reductions, cost ~3 ms.
_MAX_MEASURE_PX = 2048


@dataclass(frozen=True, slots=True)
class Face:
    """One face: one row of the catalog's ``faces`` table."""

    face_index: int  # 0 = the detector's most confident face
    x0: float  # box, as fractions of the upright photo's width and height
    y0: float
    x1: float
    y1: float
    score: float  # detector confidence, 0-1
    presence: float  # face-mesh presence, 0-1
    eye_right: float  # openness of the person's right eye: about +0.8 open, -1.6 closed
    eye_left: float
    eyes: str  # open, closed or uncertain (the less open eye decides)
    smile: float  # mouth-shape measure: about 1.08 smiling, 0.81 neutral
    smiling: bool
    yaw: float  # degrees, 0 = facing the camera
    pitch: float
    facing: bool
    sharpness: float | None  # 0-1 as the technical analyser measures it, on the full-resolution face region
    brightness: float  # mean luminance of the face region, 0-1
    descriptor: bytes  # 128-d identity descriptor, float16


@dataclass(frozen=True, slots=True)
class FaceScan:
    """What the analyser found in one photo; ``faces`` become rows of their own table."""

    face_count: int
    faces: tuple[Face, ...]


class _Models:
    def __init__(self, settings: Settings):
        from photocull.models import store
        from photocull.models.runtime import InferenceRuntime

        runtime = InferenceRuntime(settings, threads=1, cpu_only=True)
        self.detector = runtime.session(store.model_path("blazeface-full", settings))
        self.mesh = runtime.session(store.model_path("face-mesh", settings))
        self.describer = FaceDescriber(store.model_path("dlib-landmarks-5", settings),
                                       runtime.session(store.model_path("dlib-face-descriptor", settings)))


@lru_cache(maxsize=1)
def _models(settings: Settings) -> _Models:
    return _Models(settings)


def measure_faces(photo: DecodedPhoto, settings: Settings) -> FaceScan:
    config = settings.faces
    rgb = photo.rgb
    models = _models(settings)
    found = detect_faces(rgb, models.detector, min_score=config.min_score, min_face_px=config.min_face_px,
                         nms_iou=config.nms_iou)
    boxes = [(f.x0, f.y0, f.x1, f.y1) for f in found]
    # Roll of each face: the line from the eye on the photo's left (the person's right) to the other.
    angles = [math.degrees(math.atan2(f.keypoints[1][1] - f.keypoints[0][1], f.keypoints[1][0] - f.keypoints[0][0]))
              for f in found]
    landmarks = face_landmarks_batch(rgb, boxes, models.mesh, angles_deg=angles, min_presence=config.min_presence)
    kept = [(f, marks) for f, marks in zip(found, landmarks) if marks is not None]
    descriptors = models.describer.describe(rgb, [(f.x0, f.y0, f.x1, f.y1) for f, _ in kept])
    height, width = rgb.shape[:2]
    # Only photos with faces pay for the full-resolution decode.
    regions = photo.full_resolution_crops([(f.x0 / width, f.y0 / height, f.x1 / width, f.y1 / height)
                                           for f, _ in kept], settings.ingest)
    faces = tuple(
        _face(index, face, marks.points, marks.presence, descriptor, rgb, region, width, height, config)
        for index, ((face, marks), descriptor, region) in enumerate(zip(kept, descriptors, regions.crops))
    )
    return FaceScan(len(faces), faces)


def region_quality(region: np.ndarray) -> tuple[float | None, float]:
    """(sharpness or None, brightness) of a face region (upright RGB, ideally at full resolution).

    Sharpness is measured at the region's own resolution, halved (2 x 2
    averages) while its long edge is over ``_MAX_MEASURE_PX``; regions under
    ``_MIN_SHARPNESS_PX`` on their short side have none. Brightness is the mean
    luminance (Y' of the 8-bit RGB), 0-1.
    """
    red, green, blue = cv2.mean(region)[:3]  # numpy's mean of a uint8 image is ~50 times slower
    brightness = round((0.299 * red + 0.587 * green + 0.114 * blue) / 255, 4)
    while max(region.shape[:2]) > _MAX_MEASURE_PX and min(region.shape[:2]) >= 2:
        height, width = region.shape[:2]
        region = cv2.resize(region[:height - height % 2, :width - width % 2], (width // 2, height // 2),
                            interpolation=cv2.INTER_AREA)
    sharpness = None
    if min(region.shape[:2]) >= _MIN_SHARPNESS_PX:
        sharpness = round(measure_technical(region, TechnicalSettings()).sharpness, 4)
    return sharpness, brightness


def _face(index: int, face, points: np.ndarray, presence: float, descriptor: np.ndarray, rgb: np.ndarray,
          region: np.ndarray, width: int, height: int, config: FaceSettings) -> Face:
    right, left = expressions.eye_openness(rgb, points)
    smile = expressions.smile(points)
    yaw, pitch = expressions.head_pose(points)
    sharpness, brightness = region_quality(region)
    return Face(
        face_index=index,
        x0=round(face.x0 / width, 5), y0=round(face.y0 / height, 5),
        x1=round(face.x1 / width, 5), y1=round(face.y1 / height, 5),
        score=round(face.score, 4), presence=round(presence, 4),
        eye_right=round(right, 4), eye_left=round(left, 4),
        eyes=expressions.eye_state(expressions.both_eyes(right, left), config.eyes_closed_below,
                                   config.eyes_open_above),
        smile=round(smile, 4), smiling=expressions.is_smiling(smile, config.smile_above),
        yaw=round(yaw, 2), pitch=round(pitch, 2), facing=expressions.facing_camera(yaw, pitch, config.facing_max_deg),
        sharpness=sharpness, brightness=brightness,
        descriptor=to_bytes(descriptor),
    )


FACES = Analyser(ANALYSER, VERSION, FaceScan, measure_faces, "faces", MODELS)
