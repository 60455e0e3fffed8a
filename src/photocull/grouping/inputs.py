"""What grouping reads from and keeps in the catalog: one :class:`PhotoItem` per readable file with its
embedding, and the outcomes of verifying pairs by local features."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from photocull.catalog.store import Catalog, printable
from photocull.config import GroupingSettings
from photocull.grouping.groups import GroupingInput, PhotoItem
from photocull.grouping.verify import MatchCache, match_from_json, match_to_json, stamp
from photocull.vectors import normalise


def load_input(catalog: Catalog) -> GroupingInput:
    """Every readable file of ``catalog`` (ordered by path) with its EfficientNet embedding (zeros if none)."""
    rows = sorted(catalog.photos(order_by="path"), key=lambda r: r["path"])
    # Rows carry printable paths; a name that is not UTF-8 prints with U+FFFD and no longer leads back to
    # its stored key, so keys come from the stored ones.
    keys = {printable(catalog.resolve(key)): key for key in catalog.file_states()}
    paths, vectors = catalog.vectors("embedding", "vector")
    row_of = {path: i for i, path in enumerate(paths)}
    dims = vectors.shape[1] if len(paths) else 0
    out = np.zeros((len(rows), dims), np.float32)
    items = []
    for i, row in enumerate(rows):
        j = row_of.get(row["path"])
        if j is not None:
            out[i] = vectors[j]
        items.append(item_from_row(row, keys.get(row["path"]) or catalog.key(Path(row["path"])), j is not None))
    return GroupingInput(items, normalise(out) if dims else out)


def item_from_row(row: dict[str, Any], key: str, has_vector: bool) -> PhotoItem:
    """A catalog row (:meth:`Catalog.photos`) as grouping sees it."""
    camera = " ".join(str(row[c]) for c in ("make", "model", "serial_number") if row.get(c)) or None
    return PhotoItem(
        key=key, path=row["path"], content_hash=row["content_hash"], size=row["size"] or 0,
        format=row.get("format") or "", width=row.get("width") or 0, height=row.get("height") or 0,
        capture_time=row.get("capture_time"), capture_timestamp=row.get("capture_timestamp"), camera=camera,
        burst_id=row.get("burst_id"), sequence_number=row.get("sequence_number"),
        exposure_bias=row.get("exposure_bias"), exposure_time=row.get("exposure_time"),
        f_number=row.get("f_number"), iso=row.get("iso"), focal_length=row.get("focal_length"),
        phash=row.get("phash"), has_vector=has_vector,
    )


def load_matches(catalog: Catalog, settings: GroupingSettings) -> MatchCache:
    """The verification outcomes earlier culls stored, for :func:`~photocull.grouping.build.find_groups`."""
    stored = catalog.verified_pairs(stamp(settings.min_inliers))
    return {key: match_from_json(value) for key, value in stored.items()}


def save_matches(catalog: Catalog, settings: GroupingSettings, matches: MatchCache, known: set) -> int:
    """Store the outcomes ``find_groups`` added to ``matches`` (those not in ``known``); how many."""
    new = {key: match_to_json(match) for key, match in matches.items() if key not in known}
    catalog.save_verified_pairs(stamp(settings.min_inliers), new)
    return len(new)
