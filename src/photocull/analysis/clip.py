"""CLIP: an image embedding for text search, and a zero-shot aesthetic score.

Optional, because its weights come from the Hugging Face hub (see
:mod:`photocull.models.clip_hub`). Each photo gets

* ``clip_vector``: the L2-normalised image embedding (512 numbers for
  ViT-B-32), stored as float16 (1 KiB a photo; the rounding moves a cosine
  similarity by about 0.001, far below what separates search results). Text
  search and custom prompt pairs (:mod:`photocull.search`) compare it with a
  text embedding later, without decoding the photo again.
* ``clip_aesthetic``: how much more the photo matches ``clip.good_prompt``
  than ``clip.bad_prompt``, as 0-10 (see :func:`prompt_score`).

The worker side mirrors open_clip's preprocessing as Immich applies it: the
shorter side resized to the model's size (224 px for ViT-B-32) with the
configured filter (bicubic), a centred square cut, scaled to 0-1 and
normalised with the model's mean and standard deviation, channels first.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from photocull.analysis.base import NeuralAnalyser
from photocull.config import Settings
from photocull.errors import ModelUnavailable
from photocull.ingest.decode import DecodedPhoto
from photocull.models.clip_hub import (
    ClipFiles, clip_files, encode_text, fetch_clip, locate_clip, read_config, run_encoder,
)
from photocull.vectors import normalise, to_bytes

if TYPE_CHECKING:
    from photocull.models.runtime import InferenceRuntime

ANALYSER = "clip"
VERSION = 1  # bump when values change meaning
# CLIP's zero-shot classifier is softmax(logit_scale * cosine). The scale is learnt; training
# clamps it at 100 and OpenAI's models end there, so 100 gives CLIP's own probabilities.
LOGIT_SCALE = 100.0


@dataclass(frozen=True, slots=True)
class ClipFeatures:
    clip_aesthetic: float  # 0-10: 10 x P(good prompt | photo) against the bad prompt
    clip_vector: bytes  # L2-normalised image embedding, float16 little-endian


def prompt_score(images: np.ndarray, good: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """AesCLIP-style zero-shot score, 0-10: 10 x softmax(100 x [cos(image, good), cos(image, bad)])[0].

    For two prompts the softmax is the logistic function of the cosine gap,
    computed as 5 (1 + tanh(50 gap)), which cannot overflow. CLIP cosines
    between a photo and a caption lie around 0.2-0.3 and differ by hundredths:
    a gap of 0.01 gives 7.3, 0.03 gives 9.5, no gap 5. ``images`` (N x D),
    ``good`` and ``bad`` (D) must be unit length.
    """
    gap = images @ good - images @ bad
    return (5.0 * (1.0 + np.tanh(LOGIT_SCALE / 2 * gap))).astype(np.float32)


@dataclass(frozen=True, slots=True)
class _Preprocessing:
    size: int
    mean: np.ndarray  # per channel, of pixels scaled to 0-1
    std: np.ndarray
    resample: Image.Resampling
    squash: bool  # resize to a square ignoring the aspect ratio, instead of a centred cut


@lru_cache(maxsize=4)
def _preprocessing(repository: str, revision: str | None) -> _Preprocessing:
    """The model's visual/preprocess_cfg.json (open_clip's), read once per process."""
    path = locate_clip(repository, revision).preprocess_cfg
    cfg = read_config(path)
    filters = {f.name.lower(): f for f in Image.Resampling}
    try:
        size = cfg["size"][0] if isinstance(cfg["size"], list) else cfg["size"]
        resample = filters[cfg.get("interpolation", "bicubic").lower()]
        mode = cfg.get("resize_mode", "shortest")  # open_clip's default for configs without one
        if mode not in ("shortest", "squash"):
            raise ValueError(f"resize_mode {mode!r} is not supported")
        return _Preprocessing(int(size), np.array(cfg["mean"], np.float32), np.array(cfg["std"], np.float32),
                              resample, mode == "squash")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelUnavailable(f"{path}: unusable CLIP preprocessing configuration ({exc!r})") from exc


def prepare_clip(photo: DecodedPhoto, settings: Settings) -> np.ndarray:
    """The model input of one photo: float32 3 x S x S (worker side)."""
    p = _preprocessing(settings.clip.repository, settings.clip.revision)
    image = Image.fromarray(photo.rgb)
    width, height = image.size
    size = p.size
    if p.squash:
        image = image.resize((size, size), p.resample)
    else:
        short = min(width, height)
        scaled = (size * width // short, size * height // short)
        image = image.resize(scaled, p.resample)
        left, top = (scaled[0] - size) // 2, (scaled[1] - size) // 2
        image = image.crop((left, top, left + size, top + size))
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    return np.ascontiguousarray(((pixels - p.mean) / p.std).transpose(2, 0, 1), dtype=np.float32)


# Per runtime (one scan): the files and the two prompts' embeddings, computed once.
_prompts: weakref.WeakKeyDictionary[InferenceRuntime, dict[tuple[str, ...], tuple[ClipFiles, np.ndarray]]] = (
    weakref.WeakKeyDictionary()
)


def _model(runtime: InferenceRuntime, settings: Settings) -> tuple[ClipFiles, np.ndarray]:
    clip = settings.clip
    key = (clip.repository, clip.revision or "", clip.good_prompt, clip.bad_prompt)
    known = _prompts.setdefault(runtime, {})
    if key not in known:
        known[key] = clip_files(settings), encode_text([clip.good_prompt, clip.bad_prompt], runtime, settings)
    return known[key]


def infer_clip(inputs: np.ndarray, runtime: InferenceRuntime, settings: Settings) -> list[ClipFeatures]:
    """Embed a batch (N x 3 x S x S) and score it against the good/bad prompts (scanning process)."""
    files, prompts = _model(runtime, settings)
    vectors = normalise(run_encoder(runtime.session(files.visual), inputs))
    scores = prompt_score(vectors, prompts[0], prompts[1])
    return [ClipFeatures(float(score), to_bytes(vector)) for score, vector in zip(scores, vectors)]


def ensure_clip(settings: Settings) -> None:
    """Make the weights available before a scan: from the cache, else fetched when
    ``models.auto_fetch`` allows; otherwise ModelUnavailable saying how to get them."""
    try:
        clip_files(settings)
    except ModelUnavailable:
        if not settings.models.auto_fetch:
            raise
        fetch_clip(settings)
    _preprocessing(settings.clip.repository, settings.clip.revision)  # a bad config stops here, not per photo


def clip_identity(settings: Settings) -> tuple[str, ...]:
    """The weights (repository at revision; pin a commit as revision to track them exactly) and the prompts."""
    clip = settings.clip
    return f"{clip.repository}@{clip.revision or 'main'}", clip.good_prompt, clip.bad_prompt


CLIP = NeuralAnalyser(
    name=ANALYSER,
    version=VERSION,
    record=ClipFeatures,
    prepare=prepare_clip,
    infer=infer_clip,
    fetch=ensure_clip,
    weights=clip_identity,  # the prompts too: no settings_section needed
)
