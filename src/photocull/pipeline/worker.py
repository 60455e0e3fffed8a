"""What a worker process does with one file: read it once, hash it, decode it once, measure.

This runs in the worker processes, so it touches no database: it returns a
:class:`FileResult` that the parent process commits.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from photocull.analysis.base import NeuralAnalyser
from photocull.analysis.registry import selected
from photocull.config import Settings
from photocull.errors import UnreadableFile
from photocull.ingest.decode import decode, register_codecs
from photocull.ingest.metadata import read_metadata
from photocull.previews import thumbnail
from photocull.records import FileResult, ImageInfo, PhotoRecord, Status

INGEST_VERSION = 1  # bump when decoding or metadata reading changes stored values


@dataclass(frozen=True, slots=True)
class Task:
    path: Path | str  # a str is a URL (object storage, read through fsspec)
    size: int
    mtime_ns: int  # for a URL: the change stamp its listing gave
    needed: frozenset[str] | None = None  # analysers to run on known content; None: new content


def ingest_stamp(settings: Settings) -> str:
    """Decoding settings change the working copy, so they are part of every stamp."""
    return f"{INGEST_VERSION}+{settings.ingest.working_size}/{settings.ingest.min_decode_edge}"


# Given once per worker process at start-up rather than with every task.
_settings: Settings | None = None
_known: frozenset[str] = frozenset()
_thumbnails = False  # whether new contents get their gallery thumbnail


def init_worker(settings: Settings, known: frozenset[str], thumbnails: bool = False) -> None:
    """Once per worker process: settings, known contents, whether to make thumbnails,
    one thread per library, codecs.

    Ctrl-C reaches the whole process group; only the parent acts on it (it keeps
    finished work and stops the pool), so workers ignore it.
    """
    import signal

    import cv2

    global _settings, _known, _thumbnails
    _settings, _known, _thumbnails = settings, known, thumbnails
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(1)
    register_codecs()


def hash_file(task: Task) -> tuple[str | None, str | None]:
    """(content hash, None) or (None, reason): for files that may duplicate another."""
    digest = hashlib.sha256()
    try:
        if isinstance(task.path, str):
            digest.update(_read_url(task.path))
        else:
            with open(task.path, "rb") as stream:
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
    except OSError as exc:
        return None, f"cannot read file: {exc.strerror or exc}"
    return digest.hexdigest(), None


def _read_url(url: str) -> bytes:
    """An object's bytes through this process's fsspec filesystem (OSError with a reason)."""
    from photocull.ingest.remote import read_url

    return read_url(url, _settings.ingest.storage_options if _settings is not None else {})


def process_file(task: Task) -> FileResult:
    """Scan one file. Content the catalog already has is not analysed again."""
    settings, known = _settings, _known
    assert settings is not None, "process_file runs in workers started with init_worker"
    try:
        if isinstance(task.path, str):
            # An object changed after the listing is stored with the listed stamp: the next scan sees
            # a newer stamp and reads it again, so a change is never missed.
            data, mtime_ns = _read_url(task.path), task.mtime_ns
        else:
            with open(task.path, "rb") as stream:
                mtime_ns = os.fstat(stream.fileno()).st_mtime_ns  # of what is actually read
                data = stream.read()
    except OSError as exc:
        return FileResult(task.path, task.size, task.mtime_ns, None, "unreadable",
                          f"cannot read file: {exc.strerror or exc}")
    content_hash = hashlib.sha256(data).hexdigest()

    def result(status: Status, reason: str | None = None, photo: PhotoRecord | None = None) -> FileResult:
        return FileResult(task.path, len(data), mtime_ns, content_hash, status, reason, photo)

    if content_hash in known and task.needed is None:
        return result("ok")
    try:
        return result("ok", photo=analyse(data, task.path, content_hash, settings, task.needed, _thumbnails))
    except UnreadableFile as exc:
        return result("unreadable", str(exc))
    except MemoryError:
        return result("unreadable", "too large to decode in memory")
    except Exception as exc:  # a decoder bug must cost one photo, never the run
        return result("unreadable", f"unexpected decoder error: {type(exc).__name__}: {exc}")


def analyse(data: bytes, name: Path, content_hash: str, settings: Settings,
            needed: frozenset[str] | None = None, thumbnails: bool = False) -> PhotoRecord:
    """Decode once and run the ``needed`` analysers (all selected when None) on the working copy.

    Neural analysers only prepare their model input here; the scanning process
    runs their networks in batches and completes the record. With ``thumbnails``,
    new content (``needed`` None) also gets its 256 px gallery thumbnail, made
    from the same working copy and saved by the scanning process.
    """
    decoded = decode(data, name, settings.ingest)
    info = ImageInfo(decoded.format, decoded.width, decoded.height, round(decoded.megapixels, 2),
                     decoded.decode_mode)
    photo = PhotoRecord(content_hash, info, read_metadata(decoded.image, data), ingest_stamp(settings))
    if thumbnails and needed is None:
        photo.thumbnail = thumbnail(decoded.rgb)
    prepared = {}  # analysers that share a prepare function (the 224 px thumbnail) share its result
    for analyser in selected(settings):
        if needed is not None and analyser.name not in needed:
            continue
        if isinstance(analyser, NeuralAnalyser):
            if analyser.prepare not in prepared:
                prepared[analyser.prepare] = analyser.prepare(decoded, settings)
            photo.pending[analyser.name] = prepared[analyser.prepare]
        else:
            photo.analyses[analyser.name] = (analyser.stamp(settings), analyser.measure(decoded, settings))
    return photo
