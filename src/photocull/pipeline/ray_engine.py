"""The Ray engine: the scan's decoding and neural inference as a Ray Data pipeline.

One dataset per stream (see :mod:`photocull.pipeline.executor`)::

    from_items(tasks, blocks of DECODE_BATCH)
      -> map_batches(_Decoder)   # actor pool, `workers` actors: init_worker once, process_file per row
      -> map_batches(_Inferrer)  # actor pool, one per GPU (num_gpus=1) or one CPU actor: models loaded once
      -> iter_batches on the driver -> the scan's one writer

Rows carry the task's index and a pickled payload (a task, then its
``FileResult``); rows without network inputs pass the inference stage
untouched. Ray Data's streaming executor bounds what is in flight.

Faults: a corrupt file is an unreadable result from ``process_file``, never a
block error. An actor whose process dies is restarted and its batch retried
(3 times, ``RETRIES``, so a file that keeps killing actors cannot
loop forever); a batch that still fails is dropped (``max_errored_blocks``) and the
run goes on. Tasks that did not come back run again one per block, and those
still missing are recorded unreadable (:data:`~photocull.pipeline.executor.CRASHED`).
An inference error stops the scan, as it does locally.

``scan.ray_address`` empty starts a private Ray for the scan, bound to
127.0.0.1 with its own temporary folder, and stops it after; ``auto`` or
``HOST:PORT`` joins a running cluster (whose nodes need photocull installed and
the photos at the same paths). Ray is an optional dependency, imported only here.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import queue
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from functools import partial
from typing import Any

import numpy as np

from photocull.analysis.base import NeuralAnalyser
from photocull.config import Settings
from photocull.errors import FatalError
from photocull.pipeline.executor import (
    CRASHED, Hashed, WorkerSetup, hash_failed, hash_task, process_task, unreadable,
)
from photocull.pipeline.worker import Task, init_worker
from photocull.records import FileResult

DECODE_BATCH = 8  # files per decode call: amortises the call (8: 20-22 photos/s steady on 2 cores, 4: 18.6)
# Actors restart whenever their process dies (Ray Data's default); a batch whose actor died under it is
# retried only so often (Ray Data's default: forever). No named parameter for it yet, hence the warning filter.
RETRIES = {"max_task_retries": 3}
_LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # see start_local_ray
DATASET_TASKS = 50_000  # tasks per dataset: ~25 MB of rows on the driver; a new dataset's start (~3 s) is
# then under 0.5 % of its 50,000 files' work
HEARTBEAT = 1.0  # seconds without a result before the stream yields None (the scan may commit)


def import_ray() -> Any:
    """The ``ray`` module, or a :class:`FatalError` that says how to install it."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise FatalError("the Ray engine needs Ray Data, which is not installed here: "
                         "pip install 'photocull[ray]' (or scan with --engine local)") from exc
    return ray


def start_local_ray(cpus: int) -> str:
    """Start a private single-node Ray on loopback only; returns its temporary folder (remove it after).

    Ray 2.60 swaps 127.0.0.1 for the machine's own address (``resolve_ip_for_localhost``)
    unless clusters are switched off, so its GCS, raylet and workers would listen
    on the network: ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (read by the processes
    it starts; the driver's copy, read at import, is set too) keeps them on
    127.0.0.1. No usage reports; a short temp dir of its own (Ray's socket paths
    must stay < 108 characters, and another Ray's files in /tmp/ray must not be
    mixed up with this one's).
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    before = os.environ.get(_LOOPBACK_ONLY)
    os.environ[_LOOPBACK_ONLY] = "0"
    ray = import_ray()
    from ray._private import ray_constants

    clusters, ray_constants.ENABLE_RAY_CLUSTER = ray_constants.ENABLE_RAY_CLUSTER, False
    short = tempfile.gettempdir() if len(tempfile.gettempdir()) <= 40 else "/tmp"
    temp_dir = tempfile.mkdtemp(prefix="photocull-ray-", dir=short)
    try:
        ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=cpus, _temp_dir=temp_dir,
                 log_to_driver=False, logging_level=logging.WARNING)
    finally:  # a cluster joined later from this process must see the network again
        if before is None:
            os.environ.pop(_LOOPBACK_ONLY)
        else:
            os.environ[_LOOPBACK_ONLY] = before
        ray_constants.ENABLE_RAY_CLUSTER = clusters
    return temp_dir


class _Decoder:
    """A decode actor: ``init_worker`` once, then ``fn`` on each row's task."""

    def __init__(self, setup: WorkerSetup, fn: Callable[[Task], Any]):
        init_worker(*setup)
        self.fn = fn

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        payload = [pickle.dumps(self.fn(pickle.loads(task))) for task in batch["payload"]]
        return {"index": batch["index"], "payload": np.array(payload, dtype=object)}


class _Inferrer:
    """An inference actor: the networks of ``names`` loaded once, run on each batch's pending inputs."""

    def __init__(self, names: Sequence[str], settings: Settings, threads: int):
        from photocull.analysis.registry import BY_NAME
        from photocull.models.runtime import InferenceRuntime

        self.settings = settings
        self.analysers = [BY_NAME[name] for name in names]
        for analyser in self.analysers:
            analyser.ensure(settings)  # on another node, its model cache may still be empty
        self.runtime = InferenceRuntime(settings, threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from photocull.pipeline.inference import run_batch

        results = [pickle.loads(p) for p in batch["payload"]]
        try:
            payload = [pickle.dumps(r) for r in run_batch(self.analysers, self.runtime, self.settings, results)]
        except Exception as exc:  # not one photo's fault (every input has the same shape): stops the scan
            payload = [pickle.dumps(FatalError(f"inference failed: {type(exc).__name__}: {exc}"))] * len(results)
        return {"index": batch["index"], "payload": np.array(payload, dtype=object)}


class RayEngine:
    """Connects to Ray on entry (or starts a private one), disconnects on exit."""

    def __init__(self, settings: Settings, workers: int):
        self.settings = settings
        self.address = settings.scan.ray_address or None
        self.workers = workers
        self._connected = False
        self._temp_dir: str | None = None

    def __enter__(self) -> RayEngine:
        ray = import_ray()
        if not ray.is_initialized():  # else: the caller's Ray (a test, a notebook) is used and kept
            if self.address:
                ray.init(address=self.address, log_to_driver=False, logging_level=logging.WARNING)
            else:
                self._temp_dir = start_local_ray(os.cpu_count() or 1)
            self._connected = True
            self._restore_printing = _errors_to_stderr()
        self.ray = ray
        # Warnings only; batches dropped after their retries are expected (their files run again, alone).
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        for name in ("ray.data._internal.execution.streaming_executor_state", "ray.data._internal.progress"):
            logging.getLogger(name).setLevel(logging.ERROR if name.endswith("progress") else logging.CRITICAL)
        if self.address and not self.settings.scan.workers:
            self.workers = max(1, int(self._resource("CPU")))  # a cluster: one decoder per CPU it has
        return self

    def __exit__(self, exc_type, *rest) -> None:
        if self._connected:
            self.ray.shutdown()
            self._connected = False
            self._restore_printing()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def hash(self, tasks: Sequence[Task], setup: WorkerSetup) -> Iterator[Hashed | None]:
        return self._stream(hash_task, hash_failed, tasks, setup, ())

    def analyse(self, tasks: Sequence[Task], setup: WorkerSetup, neural: Sequence[NeuralAnalyser],
                threads: int) -> Iterator[FileResult | None]:
        return self._stream(process_task, unreadable, tasks, setup, neural, threads)

    def _stream(self, fn: Callable[[Task], Any], failed: Callable[[Task, str], Any], tasks: Sequence[Task],
                setup: WorkerSetup, neural: Sequence[NeuralAnalyser], threads: int = 1) -> Iterator[Any]:
        """Every task's result once: passes in batches (``DATASET_TASKS`` tasks per dataset, so the
        driver and the object store hold one part of a million-file listing at a time), then what did
        not come back, one file per block."""
        returned = bytearray(len(tasks))
        for start in range(0, len(tasks), DATASET_TASKS):
            part = list(range(start, min(start + DATASET_TASKS, len(tasks))))
            yield from self._pass(fn, tasks, part, DECODE_BATCH, setup, neural, threads, returned)
        todo = [i for i in range(len(tasks)) if not returned[i]]
        if todo:
            yield from self._pass(fn, tasks, todo, 1, setup, neural, threads, returned)
        for index in todo:
            if not returned[index]:  # killed its actor on every try, on its own
                yield failed(tasks[index], CRASHED)

    def _pass(self, fn: Callable[[Task], Any], tasks: Sequence[Task], indices: list[int], per_block: int,
              setup: WorkerSetup, neural: Sequence[NeuralAnalyser], threads: int, returned: bytearray) -> Iterator[Any]:
        """One dataset over ``indices``: each result the first time it comes back (None: a heartbeat)."""
        for item in _iterate(self._dataset(fn, tasks, indices, per_block, setup, neural, threads)):
            if item is None:
                yield None
                continue
            for index, payload in zip(item["index"], item["payload"]):
                value = pickle.loads(payload)
                if isinstance(value, FatalError):
                    raise value
                if not returned[index]:  # a retried batch may have come back after all
                    returned[index] = 1
                    yield value

    def _dataset(self, fn: Callable[[Task], Any], tasks: Sequence[Task], indices: list[int], per_block: int,
                 setup: WorkerSetup, neural: Sequence[NeuralAnalyser], threads: int) -> Any:
        from ray.data import ActorPoolStrategy, DataContext

        blocks = math.ceil(len(indices) / per_block)
        workers = min(self.workers, blocks)  # an actor more than there are blocks would start for nothing
        # Files run alone (per_block 1) one per actor at a time: an actor its file kills takes no other's retries.
        in_flight = 1 if per_block == 1 else None
        cpus, gpus = self._resource("CPU"), int(self._resource("GPU"))
        share = min(1.0, cpus / (workers + bool(neural)))  # the decoders and one CPU inference actor fit
        with warnings.catch_warnings():  # Ray Data's own: copying its context, our retry limit (see RETRIES)
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray\.data")
            warnings.filterwarnings("ignore", "`ray_remote_args` is deprecated")
            context = DataContext.get_current().copy()
            context.enable_progress_bars = False
            context.print_on_execution_start = False
            context.max_errored_blocks = -1  # a batch that kept killing its actor: its tasks run again, alone
            with DataContext.current(context):
                items = [{"index": i, "payload": pickle.dumps(tasks[i])} for i in indices]
                dataset = self.ray.data.from_items(items, override_num_blocks=blocks)
                dataset = dataset.map_batches(_Decoder, fn_constructor_args=(setup, fn), batch_size=per_block,
                                              batch_format="numpy", compute=ActorPoolStrategy(
                                                  size=workers, max_tasks_in_flight_per_actor=in_flight),
                                              num_cpus=share, **RETRIES)
                if neural:
                    from photocull.models.runtime import ACCELERATOR_BATCH, batch_size

                    device = {"num_gpus": 1, "num_cpus": 0} if gpus else {"num_cpus": share}
                    size = self.settings.models.batch_size or (ACCELERATOR_BATCH if gpus else batch_size(self.settings))
                    dataset = dataset.map_batches(
                        _Inferrer, fn_constructor_args=([a.name for a in neural], self.settings, threads),
                        batch_size=size, batch_format="numpy", compute=ActorPoolStrategy(size=max(1, gpus)),
                        **RETRIES, **device)
        return dataset

    def _resource(self, name: str) -> float:
        return float(self.ray.cluster_resources().get(name, 1.0 if name == "CPU" else 0.0))


def _errors_to_stderr() -> Callable[[], None]:
    """Ray prints the errors its nodes report (a worker died, ...) on the driver's stdout, where
    ``photocull scan --json`` writes its report: send them to stderr. Returns the undo."""
    from ray._private import worker

    original = worker.print_to_stdstream
    worker.print_to_stdstream = lambda data, ignore_prefix: original({**data, "is_err": True}, ignore_prefix)
    return partial(setattr, worker, "print_to_stdstream", original)


def _iterate(dataset: Any) -> Iterator[dict[str, np.ndarray] | None]:
    """The dataset's blocks as they finish, and None after each ``HEARTBEAT`` without one.

    A thread reads Ray's iterator (which blocks) into a small queue; closing
    this generator stops the thread, which closes Ray's iterator and so stops
    the execution (queued work is dropped).
    """
    blocks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    end = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                blocks.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def read() -> None:
        try:
            with closing(iter(dataset.iter_batches(batch_size=None, batch_format="numpy"))) as batches:
                for batch in batches:
                    if not put(batch):
                        return
            put(end)
        except BaseException as exc:  # handed to the consumer
            put(exc)

    reader = threading.Thread(target=read, name="photocull-ray-results", daemon=True)
    reader.start()
    try:
        while True:
            try:
                item = blocks.get(timeout=HEARTBEAT)
            except queue.Empty:
                yield None
                continue
            if item is end:
                return
            if isinstance(item, BaseException):
                raise FatalError(f"the Ray pipeline failed: {type(item).__name__}: {item}") from item
            yield item
    finally:
        stop.set()
        reader.join(timeout=30)
