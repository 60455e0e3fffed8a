"""Reading a library's originals wherever they live: a local file or an object storage URL.

Exports, face crops and the web app's previews read originals through these
functions, so a bucket library (catalog keys that are URLs) works wherever a
folder does. A URL is read through the per-process fsspec filesystem of
:func:`photocull.ingest.remote.filesystem`, the one the scan's workers use
(same credentials, same ``ingest.storage_options``); copies are streamed in
blocks, so no object is ever held whole in memory unless a decoder needs
its bytes. Errors are ``OSError`` whose message is a short reason.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from photocull.ingest.remote import RemoteError, change_stamp, describe_error, filesystem, is_url, read_url

CHUNK = 1 << 20  # 1 MiB: the block size of remote reads and copies


def as_original(text: str) -> Path | str:
    """A photo's path as the catalog's rows give it (absolute text, or a URL) as the functions here
    and ``Catalog.key`` take it: a URL stays a str (``Path`` would fold its ``//``)."""
    return text if is_url(text) else Path(text)


def is_under(path: Path | str, under: Path | str) -> bool:
    """Whether a file (a Path, or a URL key) is ``under`` or inside it: a folder, or a URL prefix
    (``s3://b/trip`` holds ``s3://b/trip/x.jpg``, never ``s3://b/trip2/x.jpg``)."""
    if is_url(under) or is_url(path):
        text, prefix = str(path), str(under).rstrip("/")
        return is_url(path) and is_url(under) and (text == prefix or text.startswith(prefix + "/"))
    return Path(path).is_relative_to(under)


def _remote(url: str, storage_options: Mapping[str, Any]) -> tuple[Any, str]:
    try:
        return filesystem(url, storage_options)
    except RemoteError as exc:
        raise OSError(str(exc)) from exc


def open_original(original: Path | str, storage_options: Mapping[str, Any] | None = None) -> BinaryIO:
    """A binary stream of the original, read in blocks (a URL: ranged requests)."""
    if not is_url(original):
        return open(original, "rb")
    fs, path = _remote(str(original), storage_options or {})
    try:
        return fs.open(path, "rb", block_size=CHUNK)
    except Exception as exc:
        raise OSError(describe_error(exc)) from exc


def read_original(original: Path | str, storage_options: Mapping[str, Any] | None = None) -> bytes:
    """The original's bytes (for a decoder, which needs them whole anyway)."""
    if not is_url(original):
        return Path(original).read_bytes()
    return read_url(str(original), storage_options or {})


def original_stat(original: Path | str, storage_options: Mapping[str, Any] | None = None) -> tuple[int, int]:
    """(size in bytes, modification time in whole seconds) of the original."""
    if not is_url(original):
        stat = os.stat(original)
        return stat.st_size, int(stat.st_mtime)
    fs, path = _remote(str(original), storage_options or {})
    try:
        info = fs.info(path)
    except Exception as exc:
        raise OSError(describe_error(exc)) from exc
    return int(info.get("size") or 0), change_stamp(info) // 1_000_000_000


def original_name(original: Path | str) -> str:
    """The original's file name: a local file's name, a URL's last part."""
    return str(original).rstrip("/").rsplit("/", 1)[-1] if is_url(original) else Path(original).name


def _blocks(original: Path | str, storage_options: Mapping[str, Any] | None) -> Iterator[bytes]:
    """The original's bytes in blocks of :data:`CHUNK`; a backend's own error mid-stream (botocore,
    aiohttp) comes out as an OSError, like every other."""
    with open_original(original, storage_options) as source:
        try:
            while chunk := source.read(CHUNK):
                yield chunk
        except OSError:
            raise
        except Exception as exc:
            raise OSError(describe_error(exc)) from exc


def stream_original(original: Path | str, dest: BinaryIO, storage_options: Mapping[str, Any] | None = None) -> int:
    """Write the original into ``dest`` block by block; the bytes written."""
    written = 0
    for chunk in _blocks(original, storage_options):
        dest.write(chunk)
        written += len(chunk)
    return written


def sha256_original(original: Path | str, storage_options: Mapping[str, Any] | None = None) -> str:
    """The original's SHA-256 (the catalog's content hash of its bytes), read in blocks."""
    digest = hashlib.sha256()
    for chunk in _blocks(original, storage_options):
        digest.update(chunk)
    return digest.hexdigest()


def copy_original(original: Path | str, target: Path, storage_options: Mapping[str, Any] | None = None) -> int:
    """Copy the original to ``target`` (a local file keeps its times and mode), through a partial file
    renamed when complete, so an interrupted copy never leaves a truncated photo; the bytes copied."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.photocull-partial")
    try:
        if is_url(original):
            with open(partial, "wb") as dest:
                stream_original(original, dest, storage_options)
        else:
            shutil.copy2(original, partial)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target.stat().st_size
