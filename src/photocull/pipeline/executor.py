"""Where the work runs: a local process pool, behind a small interface.

The scan only submits functions and waits on futures, so another executor (a
cluster engine) can stand in without the scan knowing. Workers are started by
``forkserver`` (never ``fork``: the parent runs threads, e.g. the progress
display) from a server that has already imported the modules named in
``preload``, so starting a worker costs little.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any


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
