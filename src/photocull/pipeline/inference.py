"""The inference stage: neural analysers run here, in batches, in one thread of the scanning process.

Workers decode and hand over small prepared inputs (a 224 x 224 thumbnail per
model); this stage stacks them into batches (``models.batch_size``) and runs
each network once per batch on ONNX Runtime, which releases the GIL, so the
scanning loop keeps feeding workers and committing results meanwhile. A
partial batch runs when its oldest photo has waited ``max_wait`` seconds or
when no more input is coming. An inference failure is not one photo's fault
(every input has the same shape): it stops the scan like a catalog error.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence

import numpy as np

from photocull.analysis.base import NeuralAnalyser
from photocull.config import Settings
from photocull.errors import FatalError
from photocull.models.runtime import InferenceRuntime, batch_size
from photocull.records import FileResult


def run_batch(analysers: Sequence[NeuralAnalyser], runtime: InferenceRuntime, settings: Settings,
              batch: list[FileResult]) -> list[FileResult]:
    """Run each network once on ``batch`` and complete its photos' records (in place); returns ``batch``.

    The same function runs in the scanning process (:class:`InferenceStage`) and
    in the Ray engine's inference actors (:mod:`photocull.pipeline.ray_engine`).
    """
    for analyser in analysers:
        photos = [r.photo for r in batch if r.photo is not None and analyser.name in r.photo.pending]
        if not photos:
            continue
        inputs = np.stack([p.pending.pop(analyser.name) for p in photos])
        records = analyser.infer(inputs, runtime, settings)
        stamp = analyser.stamp(settings)
        for photo, record in zip(photos, records, strict=True):
            photo.analyses[analyser.name] = (stamp, record)
    return batch


class InferenceStage:
    """Batches photos and runs them through the networks in one thread of this process."""

    def __init__(self, analysers: Sequence[NeuralAnalyser], settings: Settings, threads: int,
                 max_wait: float = 1.0):
        self.analysers, self.settings, self.max_wait = tuple(analysers), settings, max_wait
        self.runtime = InferenceRuntime(settings, threads)
        self.batch_size = batch_size(settings)
        self.backlog_limit = 2 * self.batch_size  # photos handed over before the scan stops feeding workers
        self._waiting: deque[tuple[float, FileResult]] = deque()
        self._done: deque[FileResult] = deque()
        self._in_batch = 0
        self._no_more_input = False
        self._closed = False
        self._error: BaseException | None = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="photocull-inference", daemon=True)
        self._thread.start()

    # -- the scanning loop's side ---------------------------------------------
    def submit(self, result: FileResult) -> None:
        with self._changed:
            self._waiting.append((time.monotonic(), result))
            self._changed.notify_all()

    def backlog(self) -> int:
        """Photos handed over and not yet taken back with :meth:`take`."""
        with self._changed:
            return len(self._waiting) + self._in_batch + len(self._done)

    def take(self, timeout: float = 0.0) -> list[FileResult]:
        """Finished results (waiting up to ``timeout`` for the first); re-raises an inference failure."""
        with self._changed:
            if not self._done and self._error is None and timeout > 0:
                self._changed.wait(timeout)
            if self._error is not None:
                raise FatalError(f"inference failed: {type(self._error).__name__}: {self._error}") from self._error
            done = list(self._done)
            self._done.clear()
            return done

    def no_more_input(self) -> None:
        """Run what is waiting now, without waiting for full batches."""
        with self._changed:
            self._no_more_input = True
            self._changed.notify_all()

    def __enter__(self) -> InferenceStage:
        return self

    def __exit__(self, exc_type, *rest) -> None:
        """Stop the thread; on an interruption or error, photos not yet inferred are dropped."""
        with self._changed:
            if exc_type is not None:
                self._waiting.clear()
            self._no_more_input = self._closed = True
            self._changed.notify_all()
        self._thread.join()

    # -- the inference thread ---------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._changed:
                batch = self._next_batch()
                if batch is None:
                    return
                self._in_batch = len(batch)
            try:
                run_batch(self.analysers, self.runtime, self.settings, batch)
            except BaseException as exc:  # handed to the scanning loop, which stops the scan
                with self._changed:
                    self._error = exc
                    self._in_batch = 0
                    self._changed.notify_all()
                return
            with self._changed:
                self._done.extend(batch)
                self._in_batch = 0
                self._changed.notify_all()

    def _next_batch(self) -> list[FileResult] | None:
        """Wait (holding the condition) until a batch is due; None when closed and empty."""
        while True:
            if len(self._waiting) >= self.batch_size or (self._waiting and self._no_more_input):
                break
            if self._waiting and time.monotonic() - self._waiting[0][0] >= self.max_wait:
                break
            if not self._waiting and self._closed:
                return None
            timeout = self.max_wait - (time.monotonic() - self._waiting[0][0]) if self._waiting else None
            self._changed.wait(timeout)
        count = min(self.batch_size, len(self._waiting))
        return [self._waiting.popleft()[1] for _ in range(count)]
