"""Image embedding: EfficientNet-Lite0's 1280-d pooled features, plus its top-5 ImageNet labels.

The vector describes what a photo shows (objects, scene, layout) rather than
its exact pixels, so two frames of the same moment lie close (cosine ~0.9+)
even when a hash would call them different, while unrelated photos stay far
apart (~0.1-0.4). It is L2-normalised, so a dot product is the cosine, and
stored as float16 (2.5 KB per photo). The labels are kept as keywords for
searching and explaining, with their probabilities.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from photocull.analysis.base import NeuralAnalyser
from photocull.config import Settings
from photocull.models import store
from photocull.models.preprocess import photo_input
from photocull.models.runtime import InferenceRuntime
from photocull.vectors import normalise, to_bytes

ANALYSER = "embedding"
VERSION = 1
MODEL = "efficientnet-lite0"
KEYWORDS = 5


@dataclass(frozen=True, slots=True)
class Embedding:
    vector: bytes  # float16 little-endian, L2-normalised
    keywords: str  # JSON list of [label, probability], most likely first


def _infer(inputs: np.ndarray, runtime: InferenceRuntime, settings: Settings) -> list[Embedding]:
    from photocull.models.efficientnet_lite import imagenet_labels

    session = runtime.session(store.model_path(MODEL, settings))
    features, probabilities = session.run(["embedding", "probabilities"], {"image": inputs})
    features = normalise(features)
    labels = imagenet_labels()
    records = []
    for vector, probs in zip(features, probabilities):
        top = np.argsort(probs)[::-1][:KEYWORDS]
        keywords = [[labels[i], round(float(probs[i]), 4)] for i in top]
        records.append(Embedding(to_bytes(vector), json.dumps(keywords)))
    return records


EMBEDDING = NeuralAnalyser(ANALYSER, VERSION, Embedding, photo_input, _infer, models=(MODEL,))
