"""``scan``: bring the catalog up to date with the photos under some paths.

1. **Discover** the files (ZIPs extracted safely) and compare each with the
   catalog: a file whose size and mtime are unchanged, and whose content has
   current values for every analyser, is skipped without being read.
2. **Process** the rest in worker processes (read once, hash, decode once,
   measure), on the engine that ``scan.engine`` names (``executor.open_engine``:
   this machine's process pool, or Ray actors). Content already in the
   catalog, or seen earlier in this run, is not analysed again: files that
   share their size with another file are hashed first, and only the first
   file of each new content is analysed.
3. **Commit** results in batches, one transaction each, as they arrive: a run
   killed at any moment keeps everything committed, and the next run goes on
   from there.
4. **People**: with the faces analyser on, faces that have no person yet join
   one (``people.update``), so new photos never re-cluster the old ones.

Neural analysers (aesthetic, embedding, CLIP) run in between: workers prepare
each photo's model inputs and an :class:`InferenceStage` thread runs the
networks in batches before the photo is committed. Their weights are made
ready (fetched if allowed) before any file is read.

A worker that dies (a decoder crash on a hostile file) is replaced; the files
it held are retried one at a time, so only the file that crashes a worker on
its own is marked unreadable.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path

from photocull.analysis.base import Analyser, NeuralAnalyser
from photocull.analysis.registry import selected, stamps
from photocull.catalog.store import Catalog
from photocull.config import Settings
from photocull.errors import FatalError
from photocull.ingest.sources import Discovery, discover
from photocull.models.runtime import thread_budget
from photocull.people.update import PeopleUpdate, update_people
from photocull.pipeline.executor import open_engine, unreadable
from photocull.pipeline.worker import Task, ingest_stamp
from photocull.previews import save_thumbnail
from photocull.records import FileResult, PhotoRecord

ProgressCallback = Callable[[FileResult, int, int], None]  # (result, done, total)
_COMPARE_PAGE = 2_000  # listed files compared with the catalog per round of queries


class ScanCancelled(Exception):
    """Raised by a progress callback to stop a scan early (the web app's cancel button).

    Not a :class:`FatalError`: the batch writer commits every finished result
    on the way out, and the process pool drops the queued work, so the next
    scan of the same inputs starts where this one stopped.
    """


@dataclass(slots=True)
class ScanReport:
    catalog: Path
    files: int = 0  # photo files found
    skipped: int = 0  # unchanged since the last scan
    processed: int = 0  # files read this run
    analysed: int = 0  # distinct contents decoded and measured this run
    analyser_runs: dict[str, int] = field(default_factory=dict)  # how often each analyser ran
    known_content: int = 0  # read, but content already measured (exact copies, touched or moved files)
    unreadable: int = 0  # found files that cannot be used as photos (this run and earlier)
    new_unreadable: int = 0
    missing: int = 0  # catalog files no longer found under the scanned folders
    ignored: dict[str, int] = field(default_factory=dict)  # non-photo files by extension
    problems: list[tuple[str, str]] = field(default_factory=list)  # inputs that could not be used
    people: PeopleUpdate | None = None  # faces placed into people (faces analyser on)
    seconds: float = 0.0


def scan(
    inputs: list[Path | str],
    catalog: Catalog,
    settings: Settings,
    on_result: ProgressCallback | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> ScanReport:
    """Scan ``inputs`` into ``catalog``; see the module docstring."""
    started = time.perf_counter()
    report = ScanReport(catalog.path)
    found = discover(inputs, settings.ingest, catalog.path.parent / "archives")
    report.files, report.ignored, report.problems = len(found.files), dict(found.ignored), found.problems

    wanted = stamps(settings)
    complete, partial = catalog.analysis_progress(ingest_stamp(settings), wanted)
    tasks = []
    listed_live = 0  # listed files that the catalog has, not marked missing
    # The catalog is asked page by page, so the driver never holds its whole files table (docs/scale-out.md).
    for start in range(0, len(found.files), _COMPARE_PAGE):
        page = found.files[start:start + _COMPARE_PAGE]
        keys = [catalog.key(entry.path) for entry in page]
        states = catalog.file_states_of(keys)
        for entry, key in zip(page, keys):
            state = states.get(key)
            if state is not None and state.status != "missing":
                listed_live += 1
            if state is None or (state.size, state.mtime_ns) != (entry.size, entry.mtime_ns):
                tasks.append(Task(entry.path, entry.size, entry.mtime_ns))
            elif state.status == "unreadable" or (state.status == "ok" and state.content_hash in complete):
                report.skipped += 1
                report.unreadable += state.status == "unreadable"
            elif state.status == "ok" and state.content_hash in partial:
                missing = frozenset(wanted) - partial[state.content_hash]
                tasks.append(Task(entry.path, entry.size, entry.mtime_ns, missing))
            else:  # missing earlier, or decoded with other settings
                tasks.append(Task(entry.path, entry.size, entry.mtime_ns))
    report.missing = catalog.mark_missing(_missing_keys(catalog, found, listed_live))
    del found  # the tasks hold what the run needs
    needed = _needed(tasks, settings)
    for analyser in needed:
        analyser.ensure(settings)
    neural = [a for a in needed if isinstance(a, NeuralAnalyser)]
    if on_plan:
        on_plan(len(tasks))

    previews = catalog.path.parent / "previews"  # where the web app and the report look for thumbnails
    with _BatchWriter(catalog, settings.scan.commit_every, settings.scan.commit_seconds) as writer:

        def record(result: FileResult) -> None:
            if result.photo is not None and result.photo.thumbnail is not None:
                _save_thumbnail(previews, result.photo)
            writer.add(result)
            report.processed += 1
            if result.photo is not None:
                report.analysed += 1
                for name in result.photo.analyses:
                    report.analyser_runs[name] = report.analyser_runs.get(name, 0) + 1
            report.known_content += result.status == "ok" and result.photo is None
            if result.status == "unreadable":
                report.unreadable += 1
                report.new_unreadable += 1
            if on_result:
                on_result(result, report.processed, len(tasks))

        if tasks:
            _run(tasks, settings, complete, neural, record, writer, settings.scan.thumbnails)
    if "faces" in settings.scan.analysers:
        report.people = update_people(catalog, settings)
    report.seconds = time.perf_counter() - started
    return report


def _save_thumbnail(previews: Path, photo: PhotoRecord) -> None:
    """Store the thumbnail a worker made (here: workers may run on other nodes) and drop it from the record."""
    try:
        save_thumbnail(previews, photo.content_hash, photo.thumbnail)
    except OSError:  # a cache entry (disk full, read-only folder): the web app makes it on request
        pass
    photo.thumbnail = None


def _needed(tasks: list[Task], settings: Settings) -> list[Analyser | NeuralAnalyser]:
    """The analysers some task will run (whose models must be ready)."""
    return [a for a in selected(settings) if any(t.needed is None or a.name in t.needed for t in tasks)]


def _missing_keys(catalog: Catalog, found: Discovery, listed_live: int) -> list[str]:
    """Catalog files under a scanned folder that are no longer there.

    ``listed_live``: how many listed files the catalog has, not marked missing. When that is all of
    them (a rescan that finds every file, a first scan), nothing can be missing and no set of the
    listed keys is made; otherwise the catalog's keys are streamed past that set.
    """
    if not found.walked_roots or listed_live == catalog.live_file_count():
        return []
    present = {catalog.key(f.path) for f in found.files}
    folders = [root for root in found.walked_roots if isinstance(root, Path)]
    prefixes = tuple(root + "/" for root in found.walked_roots if isinstance(root, str))  # listed URLs
    missing = []
    for key in catalog.live_file_keys():
        if key not in present:
            path = catalog.resolve(key)
            if isinstance(path, str):
                if path.startswith(prefixes):
                    missing.append(key)
            elif any(path.is_relative_to(root) for root in folders):
                missing.append(key)
    return missing


class _BatchWriter:
    """Commits results in batches: every ``every`` results or ``seconds`` seconds."""

    def __init__(self, catalog: Catalog, every: int, seconds: float):
        self.catalog, self.every, self.seconds = catalog, every, seconds
        self.pending: list[FileResult] = []
        self.oldest = 0.0

    def add(self, result: FileResult) -> None:
        if not self.pending:
            self.oldest = time.monotonic()
        self.pending.append(result)
        if len(self.pending) >= self.every:
            self.flush()

    def tick(self) -> None:
        if self.pending and time.monotonic() - self.oldest >= self.seconds:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            batch, self.pending = self.pending, []
            self.catalog.write_results(batch)

    def __enter__(self) -> _BatchWriter:
        return self

    def __exit__(self, exc_type, *rest) -> None:
        # Keep finished work on Ctrl-C too, but never write on a catalog failure.
        if exc_type is None or not issubclass(exc_type, FatalError):
            self.flush()


def _run(tasks: list[Task], settings: Settings, known: frozenset[str], neural: list[NeuralAnalyser],
         record: Callable[[FileResult], None], writer: _BatchWriter, thumbnails: bool) -> None:
    """Hash the files that may be copies, then analyse each new content once, on the configured engine."""
    sizes = Counter(t.size for t in tasks)
    maybe_copies = [t for t in tasks if sizes[t.size] > 1 and not t.needed]
    analyse = [t for t in tasks if sizes[t.size] == 1 or t.needed]
    new: set[str] = set()  # contents found by hashing, analysed once each
    waiting: dict[str, list[Task]] = {}  # their copies, waiting for the content's result
    workers, threads = thread_budget(settings, bool(neural))
    setup = (settings, known, thumbnails)

    def hashed(task: Task, content_hash: str | None, error: str | None) -> None:
        if content_hash is None:
            record(unreadable(task, error))
        elif content_hash in known:
            record(FileResult(task.path, task.size, task.mtime_ns, content_hash, "ok"))
        elif content_hash in new:
            waiting.setdefault(content_hash, []).append(task)
        else:
            new.add(content_hash)
            analyse.append(task)

    def complete(result: FileResult) -> None:
        record(result)
        if result.content_hash in new:
            for copy in waiting.pop(result.content_hash, []):
                record(_duplicate_of(result, copy))

    with open_engine(settings, workers) as engine:
        if maybe_copies:
            with closing(engine.hash(maybe_copies, setup)) as hashes:
                for item in hashes:
                    if item is not None:
                        hashed(*item)
                    writer.tick()
        if analyse:
            with closing(engine.analyse(analyse, setup, neural, threads)) as results:
                for result in results:
                    if result is not None:
                        complete(result)
                    writer.tick()
    for content_hash, copies in waiting.items():  # their content crashed the decoder
        for task in copies:
            record(unreadable(task, "same content as a file that crashed the decoder", content_hash))


def _duplicate_of(first: FileResult, task: Task) -> FileResult:
    return replace(first, path=task.path, size=task.size, mtime_ns=task.mtime_ns, photo=None)
