"""What every analyser is: a name, a version, the record it produces, and how it measures.

The catalog stores, next to each record, the *stamp* of the analyser that made
it: its version plus a digest of the settings that shape its values. A new
version or a changed threshold makes the stored record stale, and the next
scan recomputes exactly that, for the photos concerned.

Two kinds exist. A pixel :class:`Analyser` measures one decoded photo in a
worker process. A :class:`NeuralAnalyser` is split in two: ``prepare`` runs in
the worker and turns the decoded photo into a small model input (e.g. a
224 x 224 thumbnail); ``infer`` runs in the scanning process on a batch of
those inputs, where the ONNX sessions live once instead of once per worker.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from photocull.config import Settings
from photocull.ingest.decode import DecodedPhoto

if TYPE_CHECKING:
    from photocull.models.runtime import InferenceRuntime


def _stamp(version: int, settings: Settings, section: str | None, extra: Sequence[str] = ()) -> str:
    parts: list[Any] = list(extra)
    if section is not None:
        parts.append(getattr(settings, section).model_dump(mode="json"))
    if not parts:
        return str(version)
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:8]
    return f"{version}+{digest}"


def _checksums(models: Sequence[str]) -> list[str]:
    """The pinned weights of ``models``: other weights make stored values stale."""
    from photocull.models.known import MODELS

    return [MODELS[m].sha256 for m in models]


def _ensure_models(models: Sequence[str], settings: Settings) -> None:
    if models:
        from photocull.models import store

        store.ensure(models, settings)


@dataclass(frozen=True, slots=True)
class Analyser:
    name: str  # also the catalog table that holds its records
    version: int
    record: type  # a frozen dataclass of scalar fields
    measure: Callable[[DecodedPhoto, Settings], Any]
    settings_section: str | None = None  # the config section its values depend on
    models: tuple[str, ...] = ()  # models it runs itself, in the worker (photocull.models.known)

    def stamp(self, settings: Settings) -> str:
        return _stamp(self.version, settings, self.settings_section, _checksums(self.models))

    def ensure(self, settings: Settings) -> None:
        """Make its models ready before a scan (see :meth:`NeuralAnalyser.ensure`)."""
        _ensure_models(self.models, settings)


@dataclass(frozen=True, slots=True)
class NeuralAnalyser:
    """An analyser whose network runs batched in the scanning process.

    ``prepare(decoded, settings)`` (worker) returns the model input of one photo;
    ``infer(inputs, runtime, settings)`` (scanning process) gets those inputs
    stacked on a first batch axis and returns one record per photo, in order.
    ``models`` are the pinned models of :mod:`photocull.models.known` it uses.
    Weights from elsewhere (CLIP, from the hub) bring their own ``fetch``
    (make them available, or raise :class:`photocull.errors.ModelUnavailable`
    with the command that fixes it) and ``weights`` (names for them, cheap).
    """

    name: str
    version: int
    record: type
    prepare: Callable[[DecodedPhoto, Settings], np.ndarray]
    infer: Callable[[np.ndarray, InferenceRuntime, Settings], list[Any]]
    models: tuple[str, ...] = ()
    settings_section: str | None = None
    fetch: Callable[[Settings], None] | None = None
    weights: Callable[[Settings], Sequence[str]] | None = None

    def ensure(self, settings: Settings) -> None:
        """Runs once before a scan: the weights are made available (fetched if allowed) or it raises."""
        _ensure_models(self.models, settings)
        if self.fetch is not None:
            self.fetch(settings)

    def identity(self, settings: Settings) -> list[str]:
        """What names the weights in use, so that other weights make stored values stale."""
        return _checksums(self.models) + (list(self.weights(settings)) if self.weights else [])

    def stamp(self, settings: Settings) -> str:
        return _stamp(self.version, settings, self.settings_section, self.identity(settings))
