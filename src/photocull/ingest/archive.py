"""Safe extraction of ZIP archives.

An archive is refused whole (nothing extracted) when any entry could escape the
target folder (``..``, absolute paths, drive letters, symbolic links), is
encrypted, or when it looks like a zip bomb: too many entries, too large in
total, or one entry compressed beyond a ratio that real photos never reach.
Sizes are checked against the headers first and against the bytes actually
written while extracting, since headers can lie. Extraction goes to a
temporary folder that is renamed into place when complete, so a crash never
leaves a half-extracted archive that looks finished.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import time
import zipfile
from pathlib import Path, PurePosixPath

from photocull.config import IngestSettings
from photocull.errors import DiskFullError
from photocull.ingest.formats import is_photo_name

_RATIO_MIN_BYTES = 1 << 20  # small entries may compress well without being a bomb
_CHUNK = 1 << 20


class ArchiveRefused(Exception):
    """The archive is unsafe or unreadable; the message says why."""


def is_zip_name(path: Path) -> bool:
    return path.suffix.lower() == ".zip"


def extract_zip(archive: Path, into: Path, settings: IngestSettings) -> Path:
    """Extract the photos of ``archive`` into a folder below ``into``; return that folder.

    The folder's name depends on the archive's path, size and mtime, so an
    unchanged archive is extracted once and later runs reuse it.
    """
    st = archive.stat()
    tag = hashlib.sha256(f"{archive}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:10]
    target = into / f"{archive.stem}-{tag}"
    if target.is_dir():
        return target
    try:
        with zipfile.ZipFile(archive) as zf:
            members = _checked_members(zf, settings)
            _ensure_space(into, sum(info.file_size for info, _ in members))
            staging = into / f".{target.name}.partial-{os.getpid()}"
            shutil.rmtree(staging, ignore_errors=True)
            try:
                for info, relative in members:
                    _extract_member(zf, info, staging / relative)
                staging.rename(target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except zipfile.BadZipFile as exc:
        raise ArchiveRefused(f"not a valid ZIP archive ({exc})") from exc
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(f"disk full while extracting {archive} into {into}") from exc
        raise ArchiveRefused(f"cannot extract: {exc}") from exc
    return target


def _checked_members(zf: zipfile.ZipFile, settings: IngestSettings) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """The photo entries to extract, after every safety check on every entry."""
    infos = zf.infolist()
    if len(infos) > settings.zip_max_entries:
        raise ArchiveRefused(f"{len(infos)} entries, more than the limit of {settings.zip_max_entries}")
    total = 0
    members = []
    for info in infos:
        relative = _safe_relative_path(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveRefused(f"entry {info.filename!r} is a symbolic link")
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            raise ArchiveRefused(f"entry {info.filename!r} is encrypted")
        total += info.file_size
        if total > settings.zip_max_total_bytes:
            raise ArchiveRefused(
                f"uncompressed size exceeds the limit of {settings.zip_max_total_bytes} bytes (zip bomb?)"
            )
        if info.file_size > _RATIO_MIN_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > settings.zip_max_ratio:
                raise ArchiveRefused(
                    f"entry {info.filename!r} is compressed {ratio:.0f}:1, more than the limit of "
                    f"{settings.zip_max_ratio:.0f}:1 (zip bomb?)"
                )
        if is_photo_name(relative.name) and not any(p.startswith(".") for p in relative.parts):
            members.append((info, relative))
    return members


def _safe_relative_path(name: str) -> PurePosixPath:
    """The entry's path if it stays inside the target folder, else refuse the archive."""
    cleaned = name.replace("\\", "/")
    path = PurePosixPath(cleaned)
    if (
        "\0" in cleaned
        or path.is_absolute()
        or (len(cleaned) > 1 and cleaned[1] == ":")
        or ".." in path.parts
        or not path.parts
    ):
        raise ArchiveRefused(f"entry {name!r} would be written outside the extraction folder")
    return path


def _ensure_space(folder: Path, needed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if needed + (64 << 20) > free:
        raise DiskFullError(
            f"extracting needs {needed / 2**20:.0f} MiB but only {free / 2**20:.0f} MiB are free in {folder}"
        )


def _extract_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with zf.open(info) as src, open(dest, "wb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > info.file_size:
                raise ArchiveRefused(f"entry {info.filename!r} holds more data than its header declares")
            out.write(chunk)
    # The entry's own date keeps re-extracted files "unchanged" for incremental scans.
    mtime = time.mktime(info.date_time + (0, 0, -1))
    os.utime(dest, (mtime, mtime))
