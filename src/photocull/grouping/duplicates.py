"""One photo, several files: the same bytes, a RAW with its JPEG, a resized or recompressed copy.

These links never depend on when the photos were taken, and a group of them
alone is safe to thin out: every file shows the same picture.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator

import numpy as np

from photocull.grouping.groups import Link, PhotoItem

RAW_JPEG_SECONDS = 1.0  # a RAW and the JPEG the camera wrote with it carry the same time, to the second


def exact_links(items: list[PhotoItem]) -> Iterator[Link]:
    """Files with the same content hash, each linked to the first of them (by path)."""
    by_hash: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_hash[item.content_hash].append(i)
    for members in by_hash.values():
        first, *rest = sorted(members, key=lambda i: items[i].path)
        for other in rest:
            yield Link(first, other, "exact", "identical content (SHA-256)")


def raw_jpeg_links(items: list[PhotoItem]) -> Iterator[Link]:
    """A RAW file and the other files of its folder with the same name stem (IMG_0001.CR2 + IMG_0001.JPG),
    taken within a second of each other (or without a time to compare)."""
    def stem(item: PhotoItem) -> tuple[str, str]:
        folder, name = os.path.split(item.path)
        return folder, os.path.splitext(name)[0].lower()

    raw_stems = {stem(item) for item in items if is_raw(item)}
    by_stem: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        if raw_stems and stem(item) in raw_stems:
            by_stem[stem(item)].append(i)
    for members in by_stem.values():
        raws = [i for i in members if is_raw(items[i])]
        for raw in raws:
            for other in members:
                if other in raws or items[other].content_hash == items[raw].content_hash:
                    continue
                ta, tb = items[raw].capture_timestamp, items[other].capture_timestamp
                if ta is not None and tb is not None and abs(ta - tb) > RAW_JPEG_SECONDS:
                    continue
                when = "no time to compare" if ta is None or tb is None else f"{abs(ta - tb):.1f} s apart"
                yield Link(min(raw, other), max(raw, other), "raw_jpeg",
                           f"RAW and {items[other].format or 'other'} file of one name ({when})")


def is_raw(item: PhotoItem) -> bool:
    return item.format.upper().startswith("RAW")


def phash_bits(items: list[PhotoItem], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """pHash distances of many pairs at once (64 where either photo has none)."""
    hashes = np.array([(it.phash if it.phash is not None else 0) & 0xFFFFFFFFFFFFFFFF for it in items], np.uint64)
    known = np.array([it.phash is not None for it in items], bool)
    x = np.bitwise_xor(hashes[a], hashes[b])
    bits = np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
    return np.where(known[a] & known[b], bits, 64)
