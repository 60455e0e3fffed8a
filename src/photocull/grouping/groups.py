"""What grouping produces and ranking consumes: photos, the links found between them, and groups.

A group is the connected set of photos that links join: a link says how two
photos relate (the same bytes, the same photo in another size, the same
scene, consecutive frames of a burst) and why we think so, in words. The
group's kind is named after the loosest link needed to join it, so "duplicates" are always
safe to thin out, while a "moment" holds different frames of which one is
best. Brackets and panoramas are kept whole: every frame is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

GroupKind = Literal["duplicates", "near_duplicates", "moment", "bracket", "panorama"]
Relation = Literal["exact", "copy", "raw_jpeg", "near_duplicate", "same_scene", "burst", "bracket", "panorama"]

# From the closest relation to the loosest; a group's kind follows the loosest link that joined it.
RELATIONS: tuple[str, ...] = ("exact", "copy", "raw_jpeg", "near_duplicate", "same_scene", "burst",
                              "bracket", "panorama")
KEEP_ALL_KINDS: tuple[str, ...] = ("bracket", "panorama")


@dataclass(frozen=True, slots=True)
class PhotoItem:
    """One readable file as grouping sees it (one row of the catalog)."""

    key: str  # the catalog's key (files.path)
    path: str  # absolute, printable
    content_hash: str
    size: int
    format: str
    width: int
    height: int
    capture_time: str | None
    capture_timestamp: float | None
    camera: str | None  # make, model and serial number: one clock
    burst_id: str | None
    sequence_number: int | None
    exposure_bias: float | None
    exposure_time: float | None
    f_number: float | None
    iso: int | None
    focal_length: float | None
    phash: int | None
    has_vector: bool


@dataclass(slots=True)
class GroupingInput:
    """Every readable file, and its embedding in row order (zeros where a file has none)."""

    items: list[PhotoItem]
    vectors: np.ndarray  # (n, d) float32, unit length


@dataclass(frozen=True, slots=True)
class Link:
    """Two photos (indexes into ``GroupingInput.items``) and how they relate."""

    a: int
    b: int
    relation: Relation
    detail: str  # the evidence, in words: "pHash 2 of 64 bits apart", "0.8 s apart, cosine 0.93"


@dataclass(slots=True)
class Group:
    """Two or more photos of one moment."""

    kind: GroupKind
    members: list[int]  # indexes into GroupingInput.items, in capture order
    links: list[Link] = field(default_factory=list)

    @property
    def keep_all(self) -> bool:
        return self.kind in KEEP_ALL_KINDS

    def relation_of(self, member: int) -> Relation | None:
        """The closest relation that ties ``member`` to another photo of the group."""
        found = [link.relation for link in self.links if member in (link.a, link.b)]
        return min(found, key=RELATIONS.index) if found else None
