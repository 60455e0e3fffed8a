"""What the file exports share: which files are keepers, where a file goes, its sidecars, safe writes.

Keepers are the readable files whose effective flag (the user's, else the
program's) is ``keep``; with ``include_undecided``, also those with no flag
at all. Rejects are never keepers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from photocull.catalog.sidecars import Sidecars
from photocull.catalog.store import Catalog
from photocull.files import sha256_file
from photocull.ingest.originals import is_under, original_stat, sha256_original
from photocull.ingest.remote import is_url

# Rendered formats: beside a RAW of the same name, the RAW owns the Adobe-style sidecar.
RENDERED = {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".heic", ".heif", ".hif", ".webp", ".avif",
            ".gif", ".bmp", ".mpo", ".jxl"}


@dataclass(frozen=True, slots=True)
class Selected:
    """A file chosen for an export: its catalog key, where it is (a URL key: the URL), and its decision."""

    key: str
    path: Path | str
    flag: str | None
    rating: int | None
    label: str | None


def select_files(catalog: Catalog, include_undecided: bool = False, under: Path | str | None = None,
                 flag: str = "keep") -> list[Selected]:
    """Readable files whose effective flag is ``flag`` (and, with ``include_undecided``, unflagged ones)."""
    decided = catalog.decisions.effective_by_key()
    chosen = []
    for key in Sidecars(catalog).readable_keys():
        f, rating, label, _ = decided.get(key, (None, None, None, False))
        if f == flag or (include_undecided and f is None):
            path = catalog.resolve(key)
            if under is None or is_under(path, under):
                chosen.append(Selected(key, path, f, rating, label))
    return chosen


def relative_name(catalog: Catalog, key: str) -> PurePosixPath:
    """Where a file goes inside an export tree: its path under the catalog's root folder
    (a file outside it: its absolute path without the leading ``/`` or drive; a URL: the bucket and key,
    ``s3://photos/trip/a.jpg`` -> ``photos/trip/a.jpg``)."""
    if is_url(key):
        return PurePosixPath(*[p for p in key.split("://", 1)[1].split("/") if p not in ("", ".", "..")])
    path = catalog.resolve(key)
    if catalog.root is not None and path.is_relative_to(catalog.root):
        return PurePosixPath(path.relative_to(catalog.root).as_posix())
    return PurePosixPath(*[p for p in path.parts[1:]] or [path.name])


def adobe_owners(paths: list[Path]) -> set[Path]:
    """The photos that may use the Adobe-style sidecar ``NAME.xmp``.

    ``IMG_1.CR2`` and ``IMG_1.JPG`` would share ``IMG_1.xmp``: the RAW owns it
    (Lightroom's convention for RAW+JPEG pairs). Two rendered files or two RAWs
    of one name both lose it and use only ``NAME.EXT.xmp``.
    """
    texts = {os.fspath(p): p for p in paths}
    return {texts[t] for t in adobe_owner_texts(texts)}


def adobe_owner_texts(paths: Iterable[str]) -> set[str]:
    """:func:`adobe_owners` on paths as text (no ``Path`` objects: it runs at the end of every scan)."""
    by_stem: dict[tuple[str, str], list[str]] = {}
    for path in paths:
        folder, name = os.path.split(path)
        by_stem.setdefault((folder, os.path.splitext(name)[0].lower()), []).append(path)
    owners = set()
    for group in by_stem.values():
        if len(group) == 1:
            owners.add(group[0])
            continue
        raws = [p for p in group if os.path.splitext(p)[1].lower() not in RENDERED]
        if len(raws) == 1:
            owners.add(raws[0])
    return owners


def sidecar_names(photo: Path, adobe: bool) -> list[Path]:
    """The sidecar paths a photo may have: ``NAME.EXT.xmp`` (darktable, digiKam), then ``NAME.xmp`` (Adobe)."""
    names = [photo.with_name(photo.name + ".xmp")]
    if adobe:
        names.append(photo.with_name(photo.stem + ".xmp"))
    return names


class Listing:
    """Each folder's entries, listed once (a stat per photo would be slower on a big archive)."""

    def __init__(self) -> None:
        self._names: dict[str, dict[str, str]] = {}

    def find(self, wanted: Path) -> Path | None:
        """The existing file named ``wanted``, its ``.xmp`` suffix matched in any case."""
        found = self.find_text(os.fspath(wanted.parent), wanted.name)
        return wanted.parent / found if found is not None else None

    def find_text(self, folder: str, name: str) -> str | None:
        """The name of the existing file ``name`` in ``folder`` (``.xmp`` in any case), or None."""
        names = self._names.get(folder)
        if names is None:
            try:
                entries = os.listdir(folder)
            except OSError:
                entries = []
            names = {}
            for entry in entries:
                names.setdefault(_fold(entry), entry)
            self._names[folder] = names
        return names.get(_fold(name))


def _fold(name: str) -> str:
    return name[:-4] + ".xmp" if name.lower().endswith(".xmp") else name


def existing_sidecars(photo: Path, adobe: bool, listing: Listing | None = None) -> list[Path]:
    listing = listing or Listing()
    return [found for name in sidecar_names(photo, adobe) if (found := listing.find(name)) is not None]


def unique_destination(dest: Path, source: Path | str,
                       storage_options: Mapping[str, Any] | None = None) -> tuple[Path, bool]:
    """Where to put ``source`` at ``dest`` without overwriting a different file: (path, already there).

    A file already at ``dest`` with the same bytes is reused; a different one
    gets ``NAME (1).EXT``, ``NAME (2).EXT``…
    """
    candidate, n = dest, 0
    while candidate.exists() or candidate.is_symlink():
        if candidate.is_file() and same_bytes(candidate, source, storage_options):
            return candidate, True
        n += 1
        candidate = dest.with_name(f"{dest.stem} ({n}){dest.suffix}")
    return candidate, False


def same_bytes(a: Path, b: Path | str, storage_options: Mapping[str, Any] | None = None) -> bool:
    """Whether local file ``a`` holds the bytes of ``b`` (a local file, or an original behind a URL)."""
    try:
        if a.stat().st_size != original_stat(b, storage_options)[0]:
            return False
        if not is_url(b) and os.path.samefile(a, b):
            return True
        return sha256_file(a) == sha256_original(b, storage_options)
    except OSError:
        return False


def sidecar_destination(photo_dest: Path, photo: Path, sidecar: Path) -> Path:
    """A sidecar's new path beside ``photo_dest`` (the photo may have been renamed ``NAME (1).EXT``)."""
    if sidecar.name.lower().startswith(photo.name.lower() + "."):
        return photo_dest.with_name(photo_dest.name + sidecar.name[len(photo.name):])
    return photo_dest.with_name(photo_dest.stem + sidecar.name[len(photo.stem):])
