"""``photocull export keepers``: the keepers copied, hard-linked or moved into a folder tree.

The tree keeps each file's folders under the catalog's root; sidecars go
along with their photo. A different file already at a destination is never
overwritten: the new one is named ``NAME (1).EXT``; the same file already
there is left as it is. ``move`` goes through the undo log like the trash
(``photocull undo`` puts the files back).

Photos in object storage (URL keys) are streamed from the bucket into the
tree at ``BUCKET/KEY``; ``link`` copies them (counted in ``linked_as_copy``)
and ``move`` leaves them where they are, reported as problems: photocull
never deletes from a bucket. Sidecars are not looked for in a bucket.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photocull.catalog.sidecars import Sidecars
from photocull.catalog.store import Catalog
from photocull.export.common import (
    Listing, adobe_owners, existing_sidecars, relative_name, select_files, sidecar_destination, unique_destination,
)
from photocull.export.trash import move_files
from photocull.ingest.originals import copy_original, original_name
from photocull.ingest.remote import is_url

MODES = ("copy", "link", "move")


@dataclass
class KeepersReport:
    mode: str
    photos: int = 0
    sidecars: int = 0
    bytes: int = 0
    already_there: int = 0  # the same file was already at its destination
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (file, the name it got)
    linked_as_copy: int = 0  # hard link impossible (another file system): copied instead
    problems: list[tuple[str, str]] = field(default_factory=list)
    op: str | None = None  # the undo log's operation, for move


def export_keepers(catalog: Catalog, dest: Path, mode: str = "copy", include_undecided: bool = False,
                   under: Path | str | None = None, storage_options: Mapping[str, Any] | None = None
                   ) -> KeepersReport:
    """Place the keepers (under ``under``, a folder or URL prefix) in ``dest``; ``storage_options``
    reach the filesystem of URL keys (``ingest.storage_options``)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    dest = dest.resolve()
    report = KeepersReport(mode)
    keepers = select_files(catalog, include_undecided, under)
    plan = []
    for item in keepers:
        if mode == "move" and is_url(item.path):
            report.problems.append((item.key, "in object storage: never moved (photocull does not delete from "
                                    "a bucket); use --mode copy"))
            continue
        target, same = unique_destination(dest / relative_name(catalog, item.key), item.path, storage_options)
        if same:
            report.already_there += 1
            continue
        if target.name != original_name(item.path):
            report.renamed.append((str(item.path), target.name))
        plan.append((item.key, item.path, target))
    if mode == "move":
        moved = move_files(catalog, plan, "move", dest)
        report.photos, report.sidecars, report.bytes = moved.photos, moved.sidecars, moved.bytes
        report.problems, report.op = report.problems + moved.problems, moved.op
        return report
    owners = adobe_owners([catalog.resolve(k) for k in Sidecars(catalog).readable_keys()])
    listing = Listing()
    for _, photo, target in plan:
        try:
            report.bytes += _place(photo, target, mode, report, storage_options)
            report.photos += 1
        except OSError as exc:
            report.problems.append((str(photo), exc.strerror or str(exc)))
            continue
        if is_url(photo):
            continue
        for sidecar in existing_sidecars(photo, photo in owners, listing):
            side_target = sidecar_destination(target, photo, sidecar)
            side_target, same = unique_destination(side_target, sidecar)
            if same:
                continue
            try:
                report.bytes += _place(sidecar, side_target, "copy", report)  # sidecars are copied: edits stay apart
                report.sidecars += 1
            except OSError as exc:
                report.problems.append((str(sidecar), exc.strerror or str(exc)))
    return report


def _place(source: Path | str, target: Path, mode: str, report: KeepersReport,
           storage_options: Mapping[str, Any] | None = None) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode == "link" and is_url(source):
        report.linked_as_copy += 1
    elif mode == "link":
        try:
            os.link(source, target)
            return source.stat().st_size
        except OSError as exc:
            if exc.errno not in (18, 1, 95):  # EXDEV, EPERM, EOPNOTSUPP: no hard links there
                raise
            report.linked_as_copy += 1
    return copy_original(source, target, storage_options)
