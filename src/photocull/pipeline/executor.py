"""Where the work runs: an :class:`Engine` streams tasks through the workers and the networks.

The scan hands an engine a list of tasks and reads results back as they
finish (:meth:`Engine.hash`, :meth:`Engine.analyse`), so a cluster engine
(:mod:`photocull.pipeline.ray_engine`, Ray Data) can stand in for this
machine's process pool without the scan knowing. Each engine bounds the work
in flight, survives a dead worker (a file that kills a worker on its own comes
back unreadable, :data:`CRASHED`) and drops queued work when the stream is
closed early. :func:`open_engine` picks the engine from ``scan.engine``.

The local pool's workers are started by ``forkserver`` (never ``fork``: the
parent runs threads, e.g. the progress display) from a server that has already
imported the worker module, so starting a worker costs little.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from typing import Any, Protocol, TypeVar

from photocull.analysis.base import NeuralAnalyser
from photocull.config import Settings
from photocull.pipeline.worker import Task, hash_file, init_worker, process_file
from photocull.records import FileResult

WorkerSetup = tuple[Settings, frozenset[str], bool]  # init_worker's arguments
Hashed = tuple[Task, str | None, str | None]  # (task, content hash, why there is none)
CRASHED = "the decoder crashed on this file (worker process died)"
T = TypeVar("T")


class Engine(Protocol):
    """One scan's engine. Streams yield ``None`` when nothing finished for a while (time to commit)."""

    def hash(self, tasks: Sequence[Task], setup: WorkerSetup) -> Iterator[Hashed | None]:
        """Content hashes of ``tasks`` (files that may duplicate another), in any order."""

    def analyse(self, tasks: Sequence[Task], setup: WorkerSetup, neural: Sequence[NeuralAnalyser],
                threads: int) -> Iterator[FileResult | None]:
        """``process_file`` of each task, its networks run (``threads`` each), in any order."""

    def __enter__(self) -> Engine: ...

    def __exit__(self, exc_type, *rest) -> None: ...


def open_engine(settings: Settings, workers: int) -> Engine:
    """The engine ``scan.engine`` names, with ``workers`` decoders; a context manager (Ray connects on entry)."""
    if settings.scan.engine == "ray":
        from photocull.pipeline.ray_engine import RayEngine

        return RayEngine(settings, workers)
    return LocalEngine(settings, workers)


def unreadable(task: Task, reason: str | None, content_hash: str | None = None) -> FileResult:
    return FileResult(task.path, task.size, task.mtime_ns, content_hash, "unreadable", reason)


def hash_task(task: Task) -> Hashed:
    """``hash_file`` with its task (engines that return rows rather than futures need it)."""
    try:
        return (task, *hash_file(task))
    except Exception as exc:  # an error escaping the worker costs this file only
        return task, None, _worker_error(exc)


def process_task(task: Task) -> FileResult:
    """``process_file``, where an error escaping it costs this file only."""
    try:
        return process_file(task)
    except Exception as exc:
        return unreadable(task, _worker_error(exc))


def hash_failed(task: Task, reason: str) -> Hashed:
    return task, None, reason


def _worker_error(exc: Exception) -> str:
    return f"unexpected worker error: {type(exc).__name__}: {exc}"


class LocalEngine:
    """This machine: a process pool for decoding (``workers * 4`` files in flight), inference in a thread.

    A worker that dies breaks the pool; it is restarted and the files that were
    in flight are retried one at a time, so only a file that kills a worker on
    its own is recorded unreadable.
    """

    def __init__(self, settings: Settings, workers: int):
        self.settings, self.workers = settings, workers
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload([__name__])  # and so the worker module
        self._pool: ProcessPoolExecutor | None = None
        self._setup: WorkerSetup | None = None

    def hash(self, tasks: Sequence[Task], setup: WorkerSetup) -> Iterator[Hashed | None]:
        return self._stream(hash_task, hash_failed, tasks, setup)

    def analyse(self, tasks: Sequence[Task], setup: WorkerSetup, neural: Sequence[NeuralAnalyser],
                threads: int) -> Iterator[FileResult | None]:
        from photocull.pipeline.inference import InferenceStage

        with InferenceStage(neural, self.settings, threads) if neural else nullcontext() as stage:
            yield from self._stream(process_task, unreadable, tasks, setup, stage)

    def _stream(self, fn: Callable[[Task], T], failed: Callable[[Task, str], T], tasks: Sequence[Task],
                setup: WorkerSetup, stage: Any = None) -> Iterator[T | None]:
        """``fn(task)`` per task as it finishes; results with network inputs go through ``stage`` first."""
        queue, isolate = deque(tasks), deque()  # isolate: tasks in flight when a worker died
        in_flight: dict[Future, Task] = {}
        window = self.workers * 4
        backlog_limit = stage.backlog_limit if stage is not None else 1

        def backlog() -> int:
            return stage.backlog() if stage is not None else 0

        def finish(value: T) -> T | None:
            if stage is not None and value.photo is not None and value.photo.pending:
                stage.submit(value)  # comes back through stage.take() once its networks ran
                return None
            return value

        try:
            while queue or isolate or in_flight or backlog():
                pool = self._started(setup)
                source = isolate if isolate else queue
                limit = 1 if isolate else window
                while source and len(in_flight) < limit and backlog() < backlog_limit:
                    task = source.popleft()
                    in_flight[pool.submit(fn, task)] = task
                idle = True
                if stage is not None:
                    if not (queue or isolate or in_flight):
                        stage.no_more_input()
                    for result in stage.take(timeout=0.0 if in_flight else 0.2):
                        idle = False
                        yield result
                timeout = 0.05 if backlog() else self.settings.scan.commit_seconds
                done, _ = wait(in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
                broken = []
                for future in done:
                    task = in_flight.pop(future)
                    try:
                        value = finish(future.result())
                    except BrokenProcessPool:
                        broken.append(task)
                        continue
                    except Exception as exc:  # e.g. a result that cannot be sent back: one file, not the run
                        value = finish(failed(task, _worker_error(exc)))
                    if value is not None:
                        idle = False
                        yield value
                if broken:
                    broken += in_flight.values()
                    in_flight.clear()
                    self._stop(wait=False)
                    if len(broken) == 1 and source is isolate:
                        value = finish(failed(broken[0], CRASHED))
                        if value is not None:
                            yield value
                    else:
                        isolate.extend(broken)
                if idle:
                    yield None
        except BaseException:
            self._stop(wait=False)  # closed early or failed: drop the queued work
            raise

    def _started(self, setup: WorkerSetup) -> ProcessPoolExecutor:
        """The pool, started with ``setup`` (again after a crash; once for both streams otherwise)."""
        if self._pool is None or self._setup is not setup:
            self._stop(wait=True)
            self._pool = ProcessPoolExecutor(self.workers, mp_context=self._context,
                                             initializer=init_worker, initargs=setup)
            self._setup = setup
        return self._pool

    def _stop(self, wait: bool) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=not wait)
            self._pool = None

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, exc_type, *rest) -> None:
        self._stop(wait=exc_type is None)
