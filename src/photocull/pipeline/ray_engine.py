"""The Ray engine: the scan's decoding workers and neural inference as Ray actors.

The scan itself does not change (see :mod:`photocull.pipeline.executor`):

- **decoding**: a pool of worker actors, one per CPU the engine was given;
  each calls the worker's ``init_worker`` once (settings, known contents,
  codecs), then runs ``process_file`` / ``hash_file`` tasks. ``submit`` sends a
  task to the least-loaded actor and returns a concurrent future, so the
  scan's bounded window is the back-pressure. Actors restart when their process
  dies and their queued tasks are retried (``max_task_retries``); a file that
  keeps killing its actor comes back as :class:`BrokenProcessPool`, and the
  scan isolates it as it does with the local pool.
- **inference**: :class:`RayInferenceStage`, the local stage's batching with
  one lane per inference actor; each actor loads its models once (one actor per
  GPU with ``num_gpus=1`` when the cluster has GPUs, else one CPU actor) and
  batches are sized for the actor's device (``models.runtime.batch_size``).
- **writing**: results come back to the driver, which commits them in batches
  (one writer, the catalog never leaves this machine).

``scan.ray_address`` empty starts a private Ray for the scan, bound to
127.0.0.1 with its own temporary folder, and stops it after; ``auto`` or
``HOST:PORT`` joins a running cluster (whose nodes need photocull installed and
the photos at the same paths). Ray is an optional dependency, imported only here.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any

from photocull.analysis.base import NeuralAnalyser
from photocull.config import Settings
from photocull.errors import FatalError
from photocull.pipeline.inference import InferenceStage, run_batch
from photocull.records import FileResult

TASK_RETRIES = 3  # retries of a task whose actor died under it (not of a task that raised)


def import_ray() -> Any:
    """The ``ray`` module, or a :class:`FatalError` that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise FatalError("the Ray engine needs Ray, which is not installed here: "
                         "pip install 'photocull[ray]' (or scan with --engine local)") from exc
    return ray


class _WorkerActor:
    """One decoding worker: ``initializer(*initargs)`` once, then any number of tasks."""

    def __init__(self, initializer: Callable[..., None], initargs: tuple[Any, ...]):
        initializer(*initargs)

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    def pid(self) -> int:
        return os.getpid()


class _InferenceActor:
    """Holds the networks of ``names`` (loaded once) and runs batches of photos through them."""

    def __init__(self, names: Sequence[str], settings: Settings, threads: int):
        from photocull.analysis.registry import BY_NAME
        from photocull.models.runtime import InferenceRuntime

        self.settings = settings
        self.analysers = [BY_NAME[name] for name in names]
        for analyser in self.analysers:
            analyser.ensure(settings)  # on another node, its model cache may still be empty
        self.runtime = InferenceRuntime(settings, threads)

    def batch_size(self) -> int:
        from photocull.models.runtime import batch_size

        return batch_size(self.settings)

    def infer(self, batch: list[FileResult]) -> list[FileResult]:
        return run_batch(self.analysers, self.runtime, self.settings, batch)

    def pid(self) -> int:
        return os.getpid()


class RayEngine:
    """Connects to Ray on entry (or starts a private one), disconnects on exit."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.address = settings.scan.ray_address or None
        self._connected = False
        self._temp_dir: str | None = None

    def __enter__(self) -> RayEngine:
        ray = import_ray()
        if not ray.is_initialized():  # else: the caller's Ray (a test, a notebook) is used and kept
            if self.address:
                ray.init(address=self.address, log_to_driver=False, logging_level=logging.WARNING)
            else:
                # No usage reports; a short temp dir of its own (Ray's socket paths must stay < 108 chars,
                # and another Ray's files in /tmp/ray must not be mixed up with this one's).
                os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
                short = tempfile.gettempdir() if len(tempfile.gettempdir()) <= 40 else "/tmp"
                self._temp_dir = tempfile.mkdtemp(prefix="photocull-ray-", dir=short)
                ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=os.cpu_count() or 1,
                         _temp_dir=self._temp_dir, log_to_driver=False, logging_level=logging.WARNING)
            self._connected = True
        self.ray = ray
        return self

    def __exit__(self, exc_type, *rest) -> None:
        if self._connected:
            self.ray.shutdown()
            self._connected = False
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def cpus(self) -> float:
        return float(self.ray.cluster_resources().get("CPU", 1.0))

    def gpus(self) -> int:
        return int(self.ray.cluster_resources().get("GPU", 0))

    def _cpu_share(self, workers: int) -> float:
        """CPUs each actor asks for: all decoding actors plus one inference actor must fit."""
        return min(1.0, self.cpus() / (workers + 1))

    def executor(self, workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...],
                 preload: Sequence[str] = ()) -> RayExecutor:
        if self.address and not self.settings.scan.workers:
            workers = max(1, int(self.cpus()))  # a cluster: one worker per CPU it has
        return RayExecutor(workers, initializer, initargs, num_cpus=self._cpu_share(workers))

    def inference(self, analysers: Sequence[NeuralAnalyser], threads: int) -> RayInferenceStage:
        gpus = self.gpus()
        if gpus:
            options = {"num_gpus": 1, "num_cpus": 0}
        else:
            options = {"num_cpus": self._cpu_share(int(self.cpus()))}
        return RayInferenceStage(analysers, self.settings, threads, max(1, gpus), options)


class RayExecutor:
    """A pool of ``workers`` Ray actors behind the :class:`~photocull.pipeline.executor.Executor` interface."""

    def __init__(self, workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...],
                 num_cpus: float = 1.0):
        self.ray = import_ray()
        actor = self.ray.remote(_WorkerActor).options(
            num_cpus=num_cpus, max_restarts=-1, max_task_retries=TASK_RETRIES, scheduling_strategy="SPREAD")
        self.actors = [actor.remote(initializer, initargs) for _ in range(max(1, workers))]
        self._load = [0] * len(self.actors)
        self._lock = threading.Lock()

    def pids(self) -> list[int]:
        """The actors' process ids (for tests that kill one)."""
        return self.ray.get([a.pid.remote() for a in self.actors])

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        with self._lock:
            index = min(range(len(self.actors)), key=self._load.__getitem__)
            self._load[index] += 1
        inner = self.actors[index].run.remote(fn, *args).future()
        outer: Future = Future()
        outer.set_running_or_notify_cancel()
        inner.add_done_callback(partial(self._settle, index, outer))
        return outer

    def _settle(self, index: int, outer: Future, inner: Future) -> None:
        with self._lock:
            self._load[index] -= 1
        if inner.cancelled():
            outer.set_exception(BrokenProcessPool("the task was cancelled"))
            return
        exc = inner.exception()
        if exc is None:
            outer.set_result(inner.result())
        elif isinstance(exc, self.ray.exceptions.RayActorError):  # its process died, retries used up
            outer.set_exception(BrokenProcessPool(f"a Ray worker died: {exc}"))
        else:
            outer.set_exception(exc)

    def restart(self) -> None:
        """Nothing to do: Ray restarts a dead actor by itself (``max_restarts=-1``)."""

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, exc_type, *rest) -> None:
        for actor in self.actors:
            self.ray.kill(actor)


class RayInferenceStage(InferenceStage):
    """The inference stage with one lane per inference actor (``lanes`` of them, ``options`` each)."""

    def __init__(self, analysers: Sequence[NeuralAnalyser], settings: Settings, threads: int, lanes: int,
                 options: dict[str, Any], max_wait: float = 1.0):
        self.ray = import_ray()
        actor = self.ray.remote(_InferenceActor).options(
            max_restarts=-1, max_task_retries=TASK_RETRIES, **options)
        names = [a.name for a in analysers]
        self.actors = [actor.remote(names, settings, threads) for _ in range(lanes)]
        size = self.ray.get(self.actors[0].batch_size.remote())  # for the actors' device, not this machine's
        self._start(analysers, settings, max_wait, size, [partial(self._remote, a) for a in self.actors])

    def _remote(self, actor: Any, batch: list[FileResult]) -> list[FileResult]:
        return self.ray.get(actor.infer.remote(batch))

    def __exit__(self, exc_type, *rest) -> None:
        super().__exit__(exc_type, *rest)
        for actor in self.actors:
            self.ray.kill(actor)
