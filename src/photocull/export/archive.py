"""``photocull export zip``: the keepers in one ZIP, with their sidecars and ``photo_scores.csv``.

Entries are stored, not deflated (JPEG and RAW data do not compress), under
their path relative to the catalog's root; files are streamed into the
archive in chunks, so memory stays small whatever their size. Names are
made safe (no absolute paths, no ``..``, no duplicates); a photo in object
storage (a URL key) is streamed from its bucket under ``BUCKET/KEY``. The archive is
written beside its final name and renamed when complete; :func:`stream_zip`
writes the same archive into any writable stream (the web app's download),
so a large export never has to sit on disk twice.
"""

from __future__ import annotations

import os
import tempfile
import time
import zipfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from photocull.catalog.sidecars import Sidecars
from photocull.catalog.store import Catalog
from photocull.config import RuleSettings
from photocull.export.common import Listing, adobe_owners, existing_sidecars, relative_name, select_files
from photocull.export.scores_csv import write_scores_csv
from photocull.ingest.originals import original_stat, stream_original
from photocull.ingest.remote import is_url

SCORES_NAME = "photo_scores.csv"


@dataclass
class ZipReport:
    path: str
    photos: int = 0
    sidecars: int = 0
    bytes: int = 0  # of the files put in
    problems: list[tuple[str, str]] = field(default_factory=list)


def write_zip(catalog: Catalog, output: Path, rules: RuleSettings, include_undecided: bool = False,
              under: Path | str | None = None, storage_options: Mapping[str, Any] | None = None) -> ZipReport:
    output = output.resolve()
    partial = output.with_name(f".{output.name}.photocull-partial")
    try:
        with open(partial, "wb") as file:
            report = stream_zip(catalog, file, rules, include_undecided, under, skip=(output, partial),
                                storage_options=storage_options)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    report.path = str(output)
    return report


def stream_zip(catalog: Catalog, stream: IO[bytes], rules: RuleSettings, include_undecided: bool = False,
               under: Path | str | None = None, skip: Collection[Path] = (),
               storage_options: Mapping[str, Any] | None = None) -> ZipReport:
    """The keepers' archive written into ``stream``, which need not be seekable (entries then carry
    data descriptors), so it can go straight to a download; ``skip``: files never put in (the archive);
    ``storage_options``: for the filesystem of URL keys."""
    report = ZipReport("")
    keepers = select_files(catalog, include_undecided, under)
    owners = adobe_owners([catalog.resolve(k) for k in Sidecars(catalog).readable_keys()])
    listing = Listing()
    used: set[str] = {SCORES_NAME.lower()}
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for item in keepers:
            name = relative_name(catalog, item.key)
            if item.path in skip:
                continue
            try:
                arcname = _unique(safe_name(name), used)
                if is_url(item.path):
                    report.bytes += _add_object(archive, item.path, arcname, storage_options)
                else:
                    archive.write(item.path, arcname)
                    report.bytes += item.path.stat().st_size
                report.photos += 1
            except OSError as exc:
                report.problems.append((str(item.path), exc.strerror or str(exc)))
                continue
            if is_url(item.path):
                continue  # sidecars are not looked for in a bucket
            for sidecar in existing_sidecars(item.path, item.path in owners, listing):
                side_name = arcname + sidecar.name[len(item.path.name):] if sidecar.name.lower().startswith(
                    item.path.name.lower() + ".") else str(PurePosixPath(arcname).with_suffix("")) + \
                    sidecar.name[len(item.path.stem):]
                try:
                    archive.write(sidecar, _unique(side_name, used))
                    report.sidecars += 1
                    report.bytes += sidecar.stat().st_size
                except OSError as exc:
                    report.problems.append((str(sidecar), exc.strerror or str(exc)))
        with tempfile.TemporaryDirectory() as folder:
            scores = Path(folder) / SCORES_NAME
            write_scores_csv(catalog, scores, rules)
            archive.write(scores, SCORES_NAME)
    return report


def _add_object(archive: zipfile.ZipFile, url: str, arcname: str, storage_options: Mapping[str, Any] | None) -> int:
    """An object streamed into a stored entry dated with its last modification. Its size, known first,
    decides ZIP64 before any data goes in. An error mid-stream leaves the entry short (it is reported)."""
    size, mtime = original_stat(url, storage_options)
    info = zipfile.ZipInfo(arcname, time.localtime(max(mtime, 315532800))[:6])  # ZIP dates start in 1980
    info.file_size, info.external_attr = size, 0o644 << 16  # rw-r--r-- when extracted
    with archive.open(info, "w") as entry:
        return stream_original(url, entry, storage_options)


def safe_name(name: PurePosixPath) -> str:
    """A relative entry name with no ``..``, no empty parts, no drive or control characters."""
    parts = []
    for part in name.parts:
        part = "".join("_" if ord(c) < 32 or c in "\\:" else c for c in part)
        if part in ("", ".", "..", "/"):
            continue
        parts.append(os.fsencode(part).decode("utf-8", "replace"))  # undecodable bytes: U+FFFD
    return "/".join(parts) or "unnamed"


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 0
    while candidate.lower() in used:
        n += 1
        path = PurePosixPath(name)
        candidate = str(path.with_name(f"{path.stem} ({n}){path.suffix}"))
    used.add(candidate.lower())
    return candidate
