"""Aesthetic score: NIMA (MobileNet v1 trained on AVA), as the mean and spread of its 1-10 votes.

NIMA predicts the distribution of the 1-10 scores that AVA's human raters
would give. Its mean is the aesthetic score (most photos land between 4 and 6;
a blurred or badly exposed copy drops by one or more points); its standard
deviation says how much raters would disagree (high for unconventional shots).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from photocull.analysis.base import NeuralAnalyser
from photocull.config import Settings
from photocull.models import store
from photocull.models.preprocess import photo_input
from photocull.models.runtime import InferenceRuntime

ANALYSER = "aesthetic"
VERSION = 1
MODEL = "nima"


@dataclass(frozen=True, slots=True)
class Aesthetic:
    nima_mean: float  # 1-10
    nima_std: float


def _infer(inputs: np.ndarray, runtime: InferenceRuntime, settings: Settings) -> list[Aesthetic]:
    from photocull.models.nima import nima_mean_std

    session = runtime.session(store.model_path(MODEL, settings))
    (scores,) = session.run(["scores"], {"image": inputs})
    means, stds = nima_mean_std(scores)
    return [Aesthetic(round(float(m), 4), round(float(s), 4)) for m, s in zip(means, stds)]


AESTHETIC = NeuralAnalyser(ANALYSER, VERSION, Aesthetic, photo_input, _infer, models=(MODEL,))
