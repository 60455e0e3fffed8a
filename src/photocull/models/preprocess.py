"""The network input made from a photo: the whole frame squashed to a square.

No centre crop: near-duplicate comparison and aesthetics both depend on the
whole composition, and a crop would hide exactly the edges where two frames of
a burst differ. NIMA was also trained on whole photos squashed to 224 x 224.
INTER_AREA averages the pixels it drops, so downsizing does not alias.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from photocull.config import Settings
    from photocull.ingest.decode import DecodedPhoto


def model_input(rgb: np.ndarray, size: int = 224) -> np.ndarray:
    """uint8 H x W x 3 RGB -> uint8 ``size`` x ``size`` x 3 RGB (aspect ratio not kept)."""
    return cv2.resize(np.ascontiguousarray(rgb), (size, size), interpolation=cv2.INTER_AREA)


def photo_input(photo: DecodedPhoto, settings: Settings) -> np.ndarray:
    """The 224 x 224 input of NIMA and EfficientNet-Lite0: one function, so a worker makes it once."""
    return model_input(photo.rgb)
