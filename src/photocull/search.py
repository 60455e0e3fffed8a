"""Find photos by what they show, with the CLIP vectors a scan stored.

Nothing is decoded again: the text (a query, or a good/bad prompt pair) is
embedded once by the CLIP text encoder and compared with every stored image
embedding, which takes milliseconds for 100,000 photos.
"""

from __future__ import annotations

import numpy as np

from photocull.analysis.clip import ANALYSER, CLIP, prompt_score
from photocull.catalog.store import Catalog
from photocull.config import Settings
from photocull.models.clip_hub import encode_text
from photocull.models.runtime import InferenceRuntime
from photocull.vectors import normalise

VECTOR_COLUMN = "clip_vector"


def search_text(catalog: Catalog, text: str, settings: Settings, limit: int = 20,
                runtime: InferenceRuntime | None = None) -> list[tuple[str, float]]:
    """(file path, cosine similarity with ``text``), most similar first, at most ``limit``.

    CLIP similarities are small and only meaningful relative to each other: a
    photo that matches a caption well scores about 0.3, an unrelated one below 0.2.
    """
    paths, vectors = _vectors(catalog, settings)
    if not paths:
        return []
    query = encode_text([text], runtime or InferenceRuntime(settings), settings)[0]
    return _best(paths, normalise(vectors) @ query, limit)


def score_prompts(catalog: Catalog, good: str, bad: str, settings: Settings, limit: int = 20,
                  runtime: InferenceRuntime | None = None) -> list[tuple[str, float]]:
    """(file path, 0-10 score), best first: the zero-shot aesthetic score for a custom prompt pair.

    The same score a scan stores for ``clip.good_prompt`` / ``clip.bad_prompt``
    (see :func:`photocull.analysis.clip.prompt_score`), for any pair, without
    scanning again: e.g. "a sharp photo" / "a blurry photo".
    """
    paths, vectors = _vectors(catalog, settings)
    if not paths:
        return []
    prompts = encode_text([good, bad], runtime or InferenceRuntime(settings), settings)
    return _best(paths, prompt_score(normalise(vectors), prompts[0], prompts[1]), limit)


def _vectors(catalog: Catalog, settings: Settings) -> tuple[list[str], np.ndarray]:
    """The vectors of the CLIP model configured now (others are in another space)."""
    return catalog.vectors(ANALYSER, VECTOR_COLUMN, stamp=CLIP.stamp(settings))


def _best(paths: list[str], values: np.ndarray, limit: int) -> list[tuple[str, float]]:
    order = np.argsort(-values, kind="stable")[:limit]
    return [(paths[i], float(values[i])) for i in order]
