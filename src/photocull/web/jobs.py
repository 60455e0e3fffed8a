"""Background jobs for the web app (scans and culls), one at a time, with live progress (docs/web.md).

A job scans some folders of the library into the catalog (``pipeline.scan``,
on its own catalog connection, in one background thread: a scan already uses
every core through its process pool, so two at once would only compete), then
culls and reads back XMP sidecars as ``photocull scan`` does, then rebuilds the
in-memory gallery. Cancelling raises :class:`ScanCancelled` from the progress
callback: the scan's batch writer commits what is finished and the process
pool drops queued work, so a resumed job skips every file already saved.

A ``cull`` job runs only the cull and the rebuild, no scan: the people's names
and roles weigh in the picks and their reasons, so every people edit queues one
(:meth:`JobRunner.submit_cull`, coalesced: one queued cull serves every edit
made before it starts). It can be cancelled between the cull's stages, up to
its first write (the groups and decisions then stay those of the last cull).

Jobs are kept in the catalog's state table, so after a restart a job that was
running shows as ``interrupted`` and can be resumed.
"""

from __future__ import annotations

import asyncio
import json
import queue
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from photocull.catalog.store import Catalog
from photocull.config import Settings
from photocull.export.xmp import import_changes as import_xmp
from photocull.pipeline.scan import ScanCancelled, scan
from photocull.ranking.cull import cull as run_cull, summary_line

STATE_KEY = "web.jobs"
KEEP_JOBS = 50  # the newest jobs kept in the catalog
ACTIVE = ("queued", "running", "culling")
FINAL = ("done", "failed", "cancelled", "interrupted")
EVENT_INTERVAL = 0.2  # at most 5 events per second per job
KEEPALIVE_SECONDS = 15.0
SAVE_PROGRESS_SECONDS = 5.0
WRITING_STAGE = "writing decisions"  # the cull's stage after its first write: no cancelling from there on

router = APIRouter()


class CullCancelled(Exception):
    """Raised from the cull's progress callback to stop a cull job before it writes."""


@dataclass(slots=True)
class Job:
    """One job as the API shows it (``inputs``: paths relative to the library root, "." for all; none
    for a cull)."""

    id: str
    inputs: list[str]
    kind: str = "scan"
    state: str = "queued"
    done: int = 0
    total: int = 0
    message: str = ""
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    report: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class JobRunner:
    """The app's job queue and its one worker thread; every change bumps a version the event streams watch."""

    def __init__(self, catalog_path: Path, root: Path, settings: Settings,
                 on_done: Callable[[], None] | None = None):
        self.catalog_path, self.root, self.settings, self.on_done = catalog_path, root, settings, on_done
        self._lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._cancel: dict[str, threading.Event] = {}
        self._thread: threading.Thread | None = None
        self._last_saved = 0.0
        self.jobs: dict[str, Job] = {}
        self.versions: dict[str, int] = {}
        self.reloads = 0  # bumped after each gallery rebuild
        self._load()

    # -- persistence --------------------------------------------------------------------------------
    def _load(self) -> None:
        """The jobs of earlier runs; those that were under way when the server stopped are interrupted."""
        with Catalog(self.catalog_path) as catalog:
            stored = catalog.get_state(STATE_KEY) or []
        changed = False
        for values in stored:
            job = Job(**values)
            if job.state in ACTIVE:
                job.state, job.message, changed = "interrupted", "the server stopped before this job ended", True
                job.finished = job.finished or time.time()
            self.jobs[job.id] = job
            self.versions[job.id] = 0
        if changed:
            self._save()

    def _save(self) -> None:
        with self._lock:
            values = [j.as_dict() for j in self._newest()[:KEEP_JOBS]]
        with Catalog(self.catalog_path) as catalog:
            catalog.put_state(STATE_KEY, values)
        self._last_saved = time.monotonic()

    def _newest(self) -> list[Job]:
        return sorted(self.jobs.values(), key=lambda j: j.created, reverse=True)

    # -- the API's operations -----------------------------------------------------------------------
    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [j.as_dict() for j in self._newest()]

    def get(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise KeyError(job_id)
            return job.as_dict()

    def submit(self, inputs: list[str]) -> dict[str, Any]:
        """Queue a scan of ``inputs`` (library-relative, already checked)."""
        job = Job(id=secrets.token_hex(6), inputs=inputs)
        with self._lock:
            self._add(job)
        self._save()
        self._queue.put(job.id)
        return job.as_dict()

    def submit_cull(self) -> dict[str, Any]:
        """Queue a cull unless one is queued and not started yet (it will read the catalog as it is now);
        a running one is followed by a new one, since it may have read the catalog before the change."""
        with self._lock:
            waiting = next((j for j in self._newest() if j.kind == "cull" and j.state == "queued"), None)
            if waiting is not None:
                return waiting.as_dict()
            job = Job(id=secrets.token_hex(6), inputs=[], kind="cull")
            self._add(job)
        self._save()
        self._queue.put(job.id)
        return job.as_dict()

    def _add(self, job: Job) -> None:
        """Register a new job and make sure the worker thread runs (under the lock)."""
        self.jobs[job.id] = job
        self.versions[job.id] = 1
        self._cancel[job.id] = threading.Event()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name="photocull-jobs", daemon=True)
            self._thread.start()

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Stop a job: a queued one at once, a running scan once it stopped (its finished work kept), a
        cull at its next stage unless it is already writing."""
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise KeyError(job_id)
            if job.state in ACTIVE:
                self._cancel[job_id].set()
                if job.state == "queued":
                    self._set(job, state="cancelled", message="cancelled before it started",
                              finished=time.time())
                else:
                    self._set(job, message="cancelling…")
        self._save()
        return self.get(job_id)

    def resume(self, job_id: str) -> dict[str, Any]:
        """A new job of the same kind on the same inputs (unchanged files are skipped); 409 while the old
        one runs."""
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise KeyError(job_id)
            if job.state in ACTIVE:
                raise ValueError(f"job {job_id} is still {job.state}")
            inputs, kind = list(job.inputs), job.kind
        return self.submit_cull() if kind == "cull" else self.submit(inputs)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel the running job and stop the thread (the app is stopping)."""
        with self._lock:
            for job_id, event in self._cancel.items():
                if self.jobs[job_id].state in ACTIVE:
                    event.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the worker thread ---------------------------------------------------------------------------
    def _set(self, job: Job, **values: Any) -> None:
        """Change a job (under the lock) and bump its version for the event streams."""
        for name, value in values.items():
            setattr(job, name, value)
        self.versions[job.id] = self.versions.get(job.id, 0) + 1

    def _update(self, job: Job, save: bool = True, **values: Any) -> None:
        with self._lock:
            self._set(job, **values)
        if save:
            self._save()

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            job = self.jobs[job_id]
            if job.state != "queued":
                continue
            if job.kind == "cull":
                self._run_cull(job, self._cancel[job_id])
            else:
                self._run(job, self._cancel[job_id])

    def _run_cull(self, job: Job, cancel: threading.Event) -> None:
        """Cull the catalog as it is (no scan) and rebuild the gallery; cancelled between stages until the
        cull starts writing (its groups and decisions are then written whole)."""
        self._update(job, state="culling", started=time.time(), message="grouping and choosing the best photos")
        writing = False

        def progressed(stage: str, done: int, total: int) -> None:
            nonlocal writing
            writing = writing or stage == WRITING_STAGE
            if cancel.is_set() and not writing:
                raise CullCancelled()
            counts = f" {done} of {total}" if total > 1 else ""
            self._update(job, save=False, message=f"{stage}{counts}")

        try:
            if cancel.is_set():
                raise CullCancelled()
            with Catalog(self.catalog_path) as catalog:
                culled = run_cull(catalog, self.settings, on_progress=progressed)
            self._update(job, report={"cull": asdict(culled)}, message=summary_line(culled))
            self._reload()
            self._update(job, state="done", finished=time.time())
        except CullCancelled:
            self._update(job, state="cancelled", finished=time.time(),
                         message="cancelled: the picks stay those of the last cull")
        except Exception as exc:  # the job fails; the cull's writes are whole or not made
            self._update(job, state="failed", message=f"{type(exc).__name__}: {exc}", finished=time.time())

    def _run(self, job: Job, cancel: threading.Event) -> None:
        self._update(job, state="running", started=time.time(), message="looking for photos")

        def planned(total: int) -> None:
            self._update(job, save=False, total=total, message=f"{total} files to read")
            if cancel.is_set():
                raise ScanCancelled()

        def progressed(result, done: int, total: int) -> None:
            self._update(job, save=time.monotonic() - self._last_saved > SAVE_PROGRESS_SECONDS,
                         done=done, total=total, message=f"{done} of {total} files")
            if cancel.is_set():
                raise ScanCancelled()

        inputs = [self.root / p for p in job.inputs]
        try:
            if cancel.is_set():
                raise ScanCancelled()
            with Catalog(self.catalog_path) as catalog:
                report = scan(inputs, catalog, self.settings, on_result=progressed, on_plan=planned)
                values = asdict(report) | {"catalog": str(report.catalog)}
                self._update(job, state="culling", message="grouping and choosing the best photos")
                if report.processed or report.missing:
                    culled = run_cull(catalog, self.settings)
                    values["cull"] = asdict(culled)
                    message = summary_line(culled)
                else:
                    message = "nothing changed"
                import_xmp(catalog)
            self._update(job, report=values, message=f"{report.processed} files read; {message}")
            self._reload()
            self._update(job, state="done", finished=time.time())
        except ScanCancelled:
            self._update(job, message=f"cancelled after {job.done} of {job.total} files; "
                         "the finished ones are saved (resume to go on)")
            self._reload()
            self._update(job, state="cancelled", finished=time.time())
        except Exception as exc:  # the job fails, the server and the catalog's saved work stay
            self._update(job, state="failed", message=f"{type(exc).__name__}: {exc}", finished=time.time())
            self._reload()

    def _reload(self) -> None:
        if self.on_done is not None:
            try:
                self.on_done()
            finally:
                with self._lock:
                    self.reloads += 1

    # -- events ----------------------------------------------------------------------------------------
    def snapshot(self) -> tuple[dict[str, int], int]:
        with self._lock:
            return dict(self.versions), self.reloads


def check_inputs(root: Path, paths: list[str]) -> list[str]:
    """Paths relative to the library root that stay inside it and exist; ValueError naming one that does not."""
    base = root.resolve()
    checked = []
    for given in paths:
        if not given or "\0" in given or Path(given).is_absolute():
            raise ValueError(f"{given!r}: give a path relative to the library folder")
        resolved = (base / given).resolve()
        if not resolved.is_relative_to(base):
            raise ValueError(f"{given!r} is outside the library folder")
        if not resolved.exists():
            raise FileNotFoundError(f"{given!r} does not exist in the library folder")
        checked.append(resolved.relative_to(base).as_posix())
    return checked


# -- routes ------------------------------------------------------------------------------------------
class JobIn(BaseModel):
    """A scan of folders or files relative to the library root (none: the whole library), or a cull of
    the catalog as it is (``kind: "cull"``, no paths)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["scan", "cull"] = "scan"
    paths: list[str] | None = None


def runner(request: Request) -> JobRunner:
    found = request.app.state.jobs
    if found is None:
        raise HTTPException(409, "this catalog lies outside a library folder (--catalog elsewhere): "
                            "scan it with photocull scan")
    return found


def start_scan(request: Request, paths: list[str] | None) -> dict[str, Any]:
    """Check ``paths`` and queue a scan job on them (the whole library when None)."""
    jobs = runner(request)
    try:
        inputs = check_inputs(jobs.root, paths) if paths else ["."]
    except FileNotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    return jobs.submit(inputs)


@router.post("/api/jobs", tags=["jobs"])
def create_job(request: Request, body: JobIn | None = None) -> dict:
    """Scan folders of the library (relative paths) in the background, then cull and refresh the gallery;
    or, with ``kind: "cull"``, only cull again (after people edits; a cull already queued is answered)."""
    if body is not None and body.kind == "cull":
        if body.paths:
            raise HTTPException(400, "a cull job takes no paths: it culls the whole catalog")
        return runner(request).submit_cull()
    return start_scan(request, body.paths if body else None)


def queue_cull(request: Request) -> dict[str, Any] | None:
    """Queue a cull after a change that weighs in the picks (people's names and roles); None when this app
    has no jobs (a catalog outside its library folder: run photocull cull)."""
    jobs = request.app.state.jobs
    return None if jobs is None else jobs.submit_cull()


@router.get("/api/jobs", tags=["jobs"])
def list_jobs(request: Request) -> dict:
    """Every job kept, newest first."""
    return {"jobs": runner(request).listing()}


def _known(call, job_id: str) -> dict:
    """``call(job_id)`` on the app's runner; an unknown job is a 404, a job still running a 409."""
    try:
        return call(job_id)
    except KeyError:
        raise HTTPException(404, f"no job {job_id}") from None
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from exc


@router.get("/api/jobs/{job_id}", tags=["jobs"])
def get_job(request: Request, job_id: str) -> dict:
    return _known(runner(request).get, job_id)


@router.post("/api/jobs/{job_id}/cancel", tags=["jobs"])
def cancel_job(request: Request, job_id: str) -> dict:
    """Stop a job; what it finished stays in the catalog."""
    return _known(runner(request).cancel, job_id)


@router.post("/api/jobs/{job_id}/resume", tags=["jobs"])
def resume_job(request: Request, job_id: str) -> dict:
    """A new job on the same inputs: the files already saved are skipped."""
    return _known(runner(request).resume, job_id)


@router.get("/api/events", tags=["jobs"], response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def events(request: Request) -> StreamingResponse:
    """Server-sent events: ``job`` (the job's JSON) on changes, at most 5 a second per job, with the final
    state always sent; ``reload`` once the gallery was rebuilt; a comment every 15 s keeps proxies open."""
    jobs = runner(request)
    return StreamingResponse(_event_stream(request, jobs), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _event_stream(request: Request, jobs: JobRunner) -> AsyncIterator[str]:
    seen, reloads = jobs.snapshot()
    seen = {job_id: version for job_id, version in seen.items()
            if jobs.get(job_id)["state"] not in ACTIVE}  # jobs under way are sent at once
    last_sent = time.monotonic()
    yield "retry: 2000\n\n"
    while not request.app.state.stopping.is_set():
        versions, reload_count = jobs.snapshot()
        for job_id, version in versions.items():
            if seen.get(job_id) != version:
                seen[job_id] = version
                yield f"event: job\ndata: {json.dumps(jobs.get(job_id))}\n\n"
                last_sent = time.monotonic()
        if reload_count != reloads:
            reloads = reload_count
            yield f"event: reload\ndata: {json.dumps({'reloads': reload_count})}\n\n"
            last_sent = time.monotonic()
        if time.monotonic() - last_sent >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        if await request.is_disconnected():
            return
        await asyncio.sleep(EVENT_INTERVAL)


def install_jobs(app: FastAPI, reload: Callable[[], object]) -> None:
    """Give ``app`` its job runner (None when the catalog lies outside a library folder) and a lifespan
    that cancels the running scan when the server stops."""
    root = app.state.index.root
    app.state.stopping = threading.Event()
    app.state.jobs = JobRunner(app.state.catalog_path, root, app.state.settings, on_done=reload) if root else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.stopping.set()
        if app.state.jobs is not None:
            await asyncio.to_thread(app.state.jobs.shutdown)

    app.router.lifespan_context = lifespan
