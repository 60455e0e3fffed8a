"""Discovery: turn the paths a user names into the list of photo files to consider.

Folders are walked recursively (skipping hidden entries and photocull's own
``.photocull`` folder), single files are taken as they are, and ZIP archives
are extracted safely first (see :mod:`photocull.ingest.archive`). Only names
with a photo extension are kept from folders; everything else but XMP
sidecars (the photos' companions, read by the export stage) is counted as
ignored, so the summary can say what was left out. URL inputs (``s3://bucket/prefix``
and other fsspec URLs) are listed by :mod:`photocull.ingest.remote`; their
entries' ``path`` is the URL (a ``str``) and ``mtime_ns`` the object's change stamp.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from photocull.config import STATE_DIR_NAME, IngestSettings
from photocull.ingest.archive import ArchiveRefused, extract_zip, is_zip_name
from photocull.ingest.formats import is_photo_name
from photocull.ingest.remote import RemoteError, is_url, list_url

SIDECAR_SUFFIX = ".xmp"


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A candidate photo file as the file system describes it (no bytes read)."""

    path: Path | str  # a str is a URL (object storage)
    size: int
    mtime_ns: int  # for a URL: its change stamp (see photocull.ingest.remote)


@dataclass(slots=True)
class Discovery:
    files: list[FileEntry] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    problems: list[tuple[str, str]] = field(default_factory=list)
    walked_roots: list[Path | str] = field(default_factory=list)  # a str: a listed URL prefix


def discover(inputs: list[Path | str], settings: IngestSettings, archive_dir: Path) -> Discovery:
    """Every photo file under ``inputs``; ZIPs are extracted below ``archive_dir``."""
    found = Discovery()
    seen: set[Path | str] = set()
    for raw_input in inputs:
        if is_url(raw_input):
            _list_remote(str(raw_input), settings, found, seen)
            continue
        path = Path(raw_input).resolve()
        if path.is_dir():
            found.walked_roots.append(path)
            _walk(path, settings.include_hidden, found, seen)
        elif path.is_file() and is_zip_name(path):
            try:
                extracted = extract_zip(path, archive_dir, settings)
            except ArchiveRefused as exc:
                found.problems.append((str(path), str(exc)))
                continue
            found.walked_roots.append(extracted)
            _walk(extracted, True, found, seen)
        elif path.is_file():
            # A file named explicitly is tried whatever its extension.
            _add(path, path.stat(), found, seen)
        else:
            found.problems.append((str(path), "no such file or folder"))
    return found


def _list_remote(url: str, settings: IngestSettings, found: Discovery, seen: set) -> None:
    """A URL input: its photos join ``found``; a listing error is a problem naming the URL."""
    files_before = len(found.files)
    try:
        root, entries = list_url(url, settings.storage_options, settings.include_hidden)
        for name, size, stamp in entries:
            if stamp is None:
                found.ignored[Path(name).suffix.lower() or "(no extension)"] += 1
            elif name not in seen:
                seen.add(name)
                found.files.append(FileEntry(name, size, stamp))
    except RemoteError as exc:
        # Nothing under a URL that cannot be listed in full is marked missing.
        del found.files[files_before:]
        found.problems.append((url, str(exc)))
        return
    found.walked_roots.append(root)


def _walk(root: Path, include_hidden: bool, found: Discovery, seen: set[Path]) -> None:
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            found.problems.append((str(folder), f"cannot list folder: {exc.strerror or exc}"))
            continue
        for entry in sorted(entries, key=lambda e: e.name):
            name = entry.name
            if name == STATE_DIR_NAME or (name.startswith(".") and not include_hidden):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file():
                    if is_photo_name(name):
                        _add(Path(entry.path), entry.stat(), found, seen)
                    elif not name.lower().endswith(SIDECAR_SUFFIX):
                        found.ignored[Path(name).suffix.lower() or "(no extension)"] += 1
            except OSError as exc:
                found.problems.append((entry.path, f"cannot read file information: {exc.strerror or exc}"))


def _add(path: Path, stat: os.stat_result, found: Discovery, seen: set[Path]) -> None:
    if path not in seen:
        seen.add(path)
        found.files.append(FileEntry(path, stat.st_size, stat.st_mtime_ns))
