"""ONNX Runtime sessions: one per model, in the scanning process, with the best provider.

The default is the CPU. A GPU or NPU provider (CUDA, CoreML, OpenVINO, DirectML)
is used when the installed onnxruntime build offers it, always with the CPU as
fallback for operators it lacks. CPU inference shares the cores with the
decoding workers, so its thread count comes from :func:`thread_budget`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from photocull.config import Settings

if TYPE_CHECKING:
    import onnxruntime

# Accelerators in order of preference; the CPU always comes last.
PREFERRED_PROVIDERS = (
    "CUDAExecutionProvider",
    "CoreMLExecutionProvider",
    "OpenVINOExecutionProvider",
    "DmlExecutionProvider",
)
CPU = "CPUExecutionProvider"


def choose_providers(settings: Settings) -> list[str]:
    """The providers sessions use: the configured ones that are installed, else the best installed."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    wanted = settings.models.providers or PREFERRED_PROVIDERS
    chosen = [p for p in wanted if p in available and p != CPU]
    return chosen + [CPU]


def uses_accelerator(settings: Settings) -> bool:
    return choose_providers(settings)[0] != CPU


# Share of a default scan's CPU time that inference takes: NIMA + EfficientNet-Lite0
# cost about 30 ms of one core per photo, decoding and measuring a 12 MP JPEG ~55 ms.
INFERENCE_SHARE = 0.35


CPU_BATCH, ACCELERATOR_BATCH = 4, 32


def batch_size(settings: Settings) -> int:
    """``models.batch_size``, or the size that suits the provider in use.

    On the CPU, NIMA + EfficientNet-Lite0 run as fast at batch 4 as at 16
    (19.5 photos/s in a full scan either way), and batch 16 holds ~370 MB more
    in ONNX Runtime's memory arena; accelerators want large batches.
    """
    if settings.models.batch_size:
        return settings.models.batch_size
    return ACCELERATOR_BATCH if uses_accelerator(settings) else CPU_BATCH


def thread_budget(settings: Settings, neural: bool) -> tuple[int, int]:
    """(decoding worker processes, inference threads) for this machine; explicit settings win.

    Without neural analysers every core decodes. With CPU inference the cores
    are split in proportion to the work (``INFERENCE_SHARE``), and one core is
    shared by a worker and the inference thread(s): inference runs in bursts,
    one batch at a time, and its threads sleep rather than spin in between, so
    the shared core is not oversubscribed in practice. On 2 cores that is 2
    workers and 1 thread: 19-21 photos/s, against 14-18 for 1 + 1 (docs/benchmarks.md).
    With an accelerator one thread feeds it and every core decodes.
    """
    cores = os.cpu_count() or 1
    workers, threads = settings.scan.workers, settings.models.inference_threads
    if not neural:
        return workers or cores, 0
    if uses_accelerator(settings):
        return workers or cores, threads or 1
    threads = threads or max(1, round(cores * INFERENCE_SHARE))
    return workers or max(1, cores - threads + 1), threads


class InferenceRuntime:
    """Creates each ONNX session once, on first use, and keeps it for the scan."""

    def __init__(self, settings: Settings, threads: int = 1, cpu_only: bool = False):
        self.settings = settings
        self.threads = max(1, threads)
        self.providers = [CPU] if cpu_only else choose_providers(settings)
        self._sessions: dict[Path, onnxruntime.InferenceSession] = {}

    def session(self, path: Path) -> onnxruntime.InferenceSession:
        """A session for the ONNX file at ``path`` (a verified cache file or a hub download)."""
        path = Path(path)
        if path not in self._sessions:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # Idle inference threads must yield the core to the decoding workers, not spin.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            self._sessions[path] = ort.InferenceSession(str(path), options, providers=self.providers)
        return self._sessions[path]
