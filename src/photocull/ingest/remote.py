"""Object storage input: list and read photos behind fsspec URLs (``s3://``, ``gs://``, ``az://``, ...).

A URL input is listed recursively like a local folder: photo names by
extension (:mod:`photocull.ingest.formats`), hidden names (a component
starting with ``.``) left out unless ``ingest.include_hidden``, everything else
counted as ignored. A ZIP named as an input is refused for now (download it
and scan the local file). The catalog key of a remote file is its URL.

Change stamps. Each listed object gets its size and one integer stamp that is
stored in the catalog's ``mtime_ns`` column, so the scan's "unchanged: skip
without reading" test is the same as for local files:

- objects with an ETag (S3, GCS, Azure): the last-modified time floored to the
  second, in nanoseconds, plus a 30-bit digest of (ETag, last-modified) in the
  nanosecond digits. A new ETag within the same second still changes the stamp
  (a collision needs the same size and a 1-in-10^9 digest match), and the
  column still reads as a time to the second (the gallery's fallback date);
- others (``file://``, ``memory://``): the modification time in nanoseconds.

Memory: the listing keeps one small :class:`~photocull.ingest.sources.FileEntry`
per photo (URL string, size, stamp; about 250 bytes with a 60-character URL) and
never holds the filesystem's info dicts beyond one listing page. S3 is listed
flat, page by page (``list_objects_v2`` without delimiter), with nothing cached.

Reading: workers open one filesystem per process (fsspec caches the instance),
with credentials from the usual environment (for S3 as botocore reads them:
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``,
``AWS_ENDPOINT_URL``, instance roles) and ``ingest.storage_options``.

fsspec and its backends (``s3fs``: ``pip install "photocull[s3]"``) are
imported only when a URL is scanned, so local scans never need them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from photocull.ingest.archive import is_zip_name
from photocull.ingest.formats import is_photo_name

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
_SIDECAR_SUFFIX = ".xmp"
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure", "abfss": "azure"}
_PACKAGES = {"s3": "s3fs", "gcs": "gcsfs", "azure": "adlfs"}


def is_url(value: object) -> bool:
    """Whether an input names object storage (``scheme://...``) rather than a local path."""
    return isinstance(value, str) and bool(_URL.match(value))


class RemoteError(Exception):
    """A URL input that cannot be listed; the message names what to do."""


def _install_hint(url: str, exc: BaseException) -> str:
    scheme = url.split("://", 1)[0].lower()
    extra = _EXTRAS.get(scheme)
    if extra == "s3":
        return f'{scheme}:// needs s3fs: pip install "photocull[s3]" ({exc})'
    if extra:
        return f"{scheme}:// needs {_PACKAGES[extra]}: pip install {_PACKAGES[extra]} ({exc})"
    return f"cannot open {scheme}:// URLs: {exc}"


def filesystem(url: str, storage_options: Mapping[str, Any]) -> tuple[Any, str]:
    """(fsspec filesystem, path inside it) for ``url``; instances are cached per process by fsspec."""
    try:
        from fsspec.core import url_to_fs
    except ImportError as exc:
        raise RemoteError(_install_hint(url, exc)) from exc
    try:
        return url_to_fs(url, **dict(storage_options))
    except (ImportError, ValueError) as exc:  # unknown protocol or backend not installed
        raise RemoteError(_install_hint(url, exc)) from exc


def describe_error(exc: BaseException) -> str:
    """A short reason for a listing or reading error (no traceback, no request ids)."""
    if isinstance(exc, FileNotFoundError):
        return "not found"
    if isinstance(exc, PermissionError):
        return f"access denied ({exc})" if str(exc) else "access denied"
    name = type(exc).__name__
    text = str(exc).strip()
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return "no credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE)"
    return f"{name}: {text}" if text else name


# -- listing ----------------------------------------------------------------

def list_url(url: str, storage_options: Mapping[str, Any], include_hidden: bool
             ) -> tuple[str, Iterator[tuple[str, int, int | None]]]:
    """(the listed root as a URL, an iterator of (URL, size, stamp or None: not a photo)).

    Raises :class:`RemoteError` when the URL cannot be listed at all (the
    iterator may raise it too, on the first page).
    """
    if is_zip_name(PurePosixPath(url.rstrip("/"))):
        raise RemoteError("ZIP archives in object storage are not supported yet: download it and scan the local file")
    fs, root = filesystem(url, storage_options)
    root = root.rstrip("/") or root
    root_url = fs.unstrip_protocol(root).rstrip("/")

    def entries() -> Iterator[tuple[str, int, int | None]]:
        listed = 0
        try:
            for name, info in _walk(fs, root):
                listed += 1
                relative = name[len(root):].lstrip("/") if name.startswith(root) else name
                if not include_hidden and any(part.startswith(".") for part in relative.split("/")):
                    continue
                base = name.rsplit("/", 1)[-1]
                if is_photo_name(base) or name == root:
                    yield fs.unstrip_protocol(name), int(info.get("size") or 0), change_stamp(info)
                elif not base.lower().endswith(_SIDECAR_SUFFIX):
                    yield base, 0, None  # counted as ignored by its extension
        except RemoteError:
            raise
        except Exception as exc:
            raise RemoteError(f"cannot list: {describe_error(exc)}") from exc
        if not listed:
            raise RemoteError("no such bucket, prefix or object (nothing listed under it)")

    return root_url, entries()


def _walk(fs: Any, root: str) -> Iterator[tuple[str, dict]]:
    """(path, info) of every file below ``root`` (or ``root`` itself when it is a file)."""
    if type(fs).__name__ == "S3FileSystem":
        yield from _walk_s3(fs, root)
        return
    if fs.isfile(root):
        yield root, fs.info(root)
        return
    if not fs.isdir(root):
        raise FileNotFoundError(root)
    try:
        for folder, _dirs, files in fs.walk(root, detail=True):
            for name, info in files.items():
                yield info.get("name") or f"{folder}/{name}", info
    finally:
        fs.invalidate_cache()  # listings caches would keep every info dict


def _walk_s3(fs: Any, root: str) -> Iterator[tuple[str, dict]]:
    """S3 listed flat, one page of 1,000 keys at a time, nothing cached."""
    from fsspec.asyn import sync

    bucket, key, _ = fs.split_path(root)
    if key and not key.endswith("/"):
        # The key itself may be one object (s3://bucket/photo.jpg).
        try:
            info = fs.info(root)
        except FileNotFoundError:
            info = None
        if info is not None and info.get("type") == "file":
            yield root, info
            return
        key += "/"
    pages = fs._iterdir(bucket, delimiter="", prefix=key)
    sentinel = object()

    async def next_info():
        try:
            return await pages.__anext__()
        except StopAsyncIteration:
            return sentinel

    while (info := sync(fs.loop, next_info)) is not sentinel:
        if info.get("type") == "file" and not info["name"].endswith("/"):
            yield info["name"], info


def change_stamp(info: Mapping[str, Any]) -> int:
    """One integer that changes whenever the object does; see the module docstring."""
    when = _seconds(_first(info, "LastModified", "last_modified", "mtime", "updated", "timeCreated", "created"))
    tag = _first(info, "ETag", "etag", "md5Hash", "md5", "VersionId", "generation")
    if tag is None:
        return round(when * 1e9)
    digest = hashlib.blake2b(f"{tag}|{when!r}".encode(), digest_size=8).digest()
    return int(when) * 1_000_000_000 + int.from_bytes(digest, "big") % 1_000_000_000


def _first(info: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if info.get(key) not in (None, ""):
            return info[key]
    return None


def _seconds(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


# -- reading ------------------------------------------------------------------

def read_url(url: str, storage_options: Mapping[str, Any]) -> bytes:
    """The object's bytes, in one request; an OSError whose message is a short reason when it cannot be read."""
    try:
        fs, path = filesystem(url, storage_options)
    except RemoteError as exc:
        raise OSError(str(exc)) from exc
    try:
        return fs.cat_file(path)
    except Exception as exc:
        raise OSError(describe_error(exc)) from exc


def catalog_tag(url: str) -> str:
    """A folder name for a URL's default catalog: readable, and unique through a digest."""
    url = url.rstrip("/")
    scheme, _, rest = url.partition("://")
    parts = [p for p in rest.split("/") if p]
    readable = "-".join([scheme] + parts[:1] + parts[-1:] if len(parts) > 1 else [scheme] + parts)
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", readable)[:60]
    return f"{readable}-{hashlib.sha256(url.encode()).hexdigest()[:12]}"
