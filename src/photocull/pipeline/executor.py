"""Where the work runs: an :class:`Executor` (decoding workers) and an inference stage.

The scan only submits functions and waits on futures, so another executor (a
cluster engine) can stand in without the scan knowing. :func:`open_engine`
picks the engine from ``scan.engine``: ``local`` (this module's process pool
and the in-process :class:`~photocull.pipeline.inference.InferenceStage`) or
``ray`` (:mod:`photocull.pipeline.ray_engine`, imported only then).

The local pool's workers are started by ``forkserver`` (never ``fork``: the
parent runs threads, e.g. the progress display) from a server that has already imported the modules named in
``preload``, so starting a worker costs little.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from photocull.analysis.base import NeuralAnalyser
    from photocull.config import Settings
    from photocull.pipeline.inference import InferenceStage


class Executor(Protocol):
    """Runs module-level functions somewhere else and hands back concurrent futures.

    A future whose worker died raises
    :class:`concurrent.futures.process.BrokenProcessPool` (whatever the
    engine), after which the scan calls :meth:`restart` and retries the files
    that were in flight one at a time. Workers are set up once with
    ``initializer(*initargs)`` before their first task.
    """

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future: ...

    def restart(self) -> None: ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, exc_type, *rest) -> None: ...


class Engine(Protocol):
    """One scan's engine: where decoding workers and neural inference run."""

    def executor(self, workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...],
                 preload: Sequence[str] = ()) -> Executor: ...

    def inference(self, analysers: Sequence[NeuralAnalyser], threads: int) -> InferenceStage: ...

    def __enter__(self) -> Engine: ...

    def __exit__(self, exc_type, *rest) -> None: ...


def open_engine(settings: Settings) -> AbstractContextManager[Engine]:
    """The engine ``scan.engine`` names; use it as a context manager (Ray connects on entry)."""
    if settings.scan.engine == "ray":
        from photocull.pipeline.ray_engine import RayEngine

        return RayEngine(settings)
    return LocalEngine(settings)


class LocalEngine:
    """This machine: a process pool for decoding, inference in a thread of this process."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def executor(self, workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...],
                 preload: Sequence[str] = ()) -> LocalExecutor:
        return LocalExecutor(workers, initializer, initargs, preload)

    def inference(self, analysers: Sequence[NeuralAnalyser], threads: int) -> InferenceStage:
        from photocull.pipeline.inference import InferenceStage

        return InferenceStage(analysers, self.settings, threads)

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, exc_type, *rest) -> None:
        pass


class LocalExecutor:
    """A pool of ``workers`` processes that can be restarted after a worker crash."""

    def __init__(self, workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...],
                 preload: Sequence[str] = ()):
        self._workers, self._initializer, self._initargs = workers, initializer, initargs
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(preload))
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self._workers, mp_context=self._context,
                                   initializer=self._initializer, initargs=self._initargs)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self._pool.submit(fn, *args)

    def restart(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._start()

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, exc_type, *rest) -> None:
        # On an interruption, drop queued work instead of finishing it.
        self._pool.shutdown(wait=exc_type is None, cancel_futures=exc_type is not None)
