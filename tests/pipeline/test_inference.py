"""The inference stage on its own: batching, partial batches, failures; and the thread budget."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from photocull.analysis.base import NeuralAnalyser
from photocull.config import Settings
from photocull.errors import FatalError
from photocull.models.runtime import (
    InferenceRuntime, batch_size, choose_providers, thread_budget, uses_accelerator,
)
from photocull.pipeline.inference import InferenceStage
from photocull.records import FileResult, ImageInfo, PhotoRecord
from photocull.ingest.metadata import PhotoMetadata


@dataclass(frozen=True)
class Mean:
    value: float


def _analyser(batches: list[int], fail: bool = False) -> NeuralAnalyser:
    """A network-free analyser that records its batch sizes (the stage is what is tested)."""

    def infer(inputs: np.ndarray, runtime: InferenceRuntime, settings: Settings) -> list[Mean]:
        batches.append(len(inputs))
        if fail:
            raise RuntimeError("the accelerator ran out of memory")
        return [Mean(float(x.mean())) for x in inputs]

    return NeuralAnalyser("mean", 1, Mean, lambda photo, s: np.zeros(1), infer)


def _result(i: int) -> FileResult:
    photo = PhotoRecord(f"{i:064x}", ImageInfo("PNG", 1, 1, 0.0, "full"), PhotoMetadata(), "1")
    photo.pending["mean"] = np.full(4, float(i), np.float32)
    return FileResult(Path(f"/p/{i}.png"), 1, 1, photo.content_hash, "ok", photo=photo)


def _drain(stage: InferenceStage, count: int) -> list[FileResult]:
    done: list[FileResult] = []
    deadline = time.monotonic() + 10
    while len(done) < count and time.monotonic() < deadline:
        done += stage.take(timeout=0.1)
    return done


def test_full_batches_then_the_rest_when_no_more_input() -> None:
    batches: list[int] = []
    settings = Settings(models={"batch_size": 2})
    with InferenceStage([_analyser(batches)], settings, threads=1, max_wait=60) as stage:
        for i in range(5):
            stage.submit(_result(i))
        first = _drain(stage, 4)
        assert len(first) == 4 and stage.backlog() == 1  # the fifth waits for a full batch
        stage.no_more_input()
        done = first + _drain(stage, 1)
    assert batches == [2, 2, 1]
    assert sorted(r.photo.analyses["mean"][1].value for r in done) == [0, 1, 2, 3, 4]
    assert all(not r.photo.pending for r in done)  # inputs are freed once used


def test_a_partial_batch_runs_after_max_wait() -> None:
    batches: list[int] = []
    with InferenceStage([_analyser(batches)], Settings(models={"batch_size": 16}), threads=1,
                        max_wait=0.2) as stage:
        stage.submit(_result(1))
        assert len(_drain(stage, 1)) == 1
    assert batches == [1]


def test_an_inference_failure_stops_the_scan() -> None:
    with pytest.raises(FatalError, match="inference failed: RuntimeError: the accelerator ran out of memory"):
        with InferenceStage([_analyser([], fail=True)], Settings(models={"batch_size": 1}), threads=1) as stage:
            stage.submit(_result(1))
            _drain(stage, 1)


def test_batch_size_suits_the_provider() -> None:
    assert batch_size(Settings(models={"batch_size": 7})) == 7
    assert batch_size(Settings()) == (32 if uses_accelerator(Settings()) else 4)


def test_unavailable_providers_fall_back_to_the_cpu() -> None:
    settings = Settings(models={"providers": ("NoSuchExecutionProvider",)})
    assert choose_providers(settings) == ["CPUExecutionProvider"]
    assert choose_providers(Settings())[-1] == "CPUExecutionProvider"


@pytest.mark.parametrize("cores", [1, 2, 4, 8, 16, 64])
def test_thread_budget_fits_the_cores(monkeypatch, cores: int) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert thread_budget(Settings(), neural=False) == (cores, 0)
    workers, threads = thread_budget(Settings(), neural=True)
    assert workers >= 1 and threads >= 1
    assert workers + threads <= cores + 1  # one core shared between a worker and bursty inference
    if cores >= 8:
        assert threads >= 2 and workers > threads  # decoding is the bigger share of the work
    explicit = Settings(scan={"workers": 3}, models={"inference_threads": 5})
    assert thread_budget(explicit, neural=True) == (3, 5)


def test_sessions_use_the_thread_budget(models_ready: Path) -> None:
    from photocull.models import store

    settings = Settings()
    runtime = InferenceRuntime(settings, threads=1)
    session = runtime.session(store.model_path("nima", settings))
    assert runtime.session(store.model_path("nima", settings)) is session  # created once
    assert session.get_session_options().intra_op_num_threads == 1
    assert session.get_providers()[-1] == "CPUExecutionProvider"
