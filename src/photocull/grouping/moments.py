"""Different frames of one moment: bursts along each camera's timeline, and look-alikes found by the index.

Bursts. Each camera (make, model, serial: one clock) has a timeline sorted by
capture time. Consecutive frames within ``burst_seconds`` whose embeddings
agree (``moment_cosine``) are linked, and so are frames the camera itself
marked with one burst id. A time written without seconds (XMP dates of the
form ``2024-05-01T10:15``, stored as ``...:00``; a camera all of whose times
end in :00) only says the minute: such frames may be up to a minute apart, so
they need the stricter ``minute_moment_cosine`` (immich-go #1129: false stacks
from times without seconds).

Against chaining: a burst link is only made between neighbours on a timeline,
and only while the new frame still resembles the first frame of its run
(``chain_cosine``); a long event shot every two seconds while the scene drifts
breaks into several moments instead of one.

Look-alikes. Pairs from the neighbour index (any times, or none) are: a copy
(pHash within ``copy_max_phash`` and cosine >= ``copy_cosine``; files of the
same format and size must match all 64 bits, as consecutive frames differ by
a couple of bits), a
near-duplicate (cosine >= ``near_duplicate_cosine`` with pHash within
``near_max_phash``), or else, from ``verify_cosine`` up, checked by local
features: enough inliers make them a near-duplicate when one frame lies inside
the other (crop, rotation, re-framing, mirror image) and the same scene otherwise.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterator

import numpy as np

from photocull.config import GroupingSettings
from photocull.grouping.duplicates import is_raw, phash_bits
from photocull.grouping.groups import Link, PhotoItem
from photocull.grouping.verify import Verifier

MINUTE = 60.0


def timelines(items: list[PhotoItem]) -> list[list[int]]:
    """Each camera's photos with a capture time, in time order (then by path); photos without a time are left out,
    and so are second files of one frame (same content, or the JPEG beside a RAW at the same time), which
    exact and RAW+JPEG links join: a bracket shot RAW+JPEG is still one frame after another."""
    by_camera: dict[str, list[int]] = defaultdict(list)
    seen: set = set()
    for i in sorted(range(len(items)), key=lambda i: (is_raw(items[i]) is False, items[i].path)):
        item = items[i]
        if item.capture_timestamp is None:
            continue
        folder, name = os.path.split(item.path)
        frame = (folder, os.path.splitext(name)[0].lower(), item.capture_timestamp)
        if item.content_hash in seen or frame in seen:
            continue
        seen |= {item.content_hash, frame}
        by_camera[item.camera or ""].append(i)
    return [sorted(members, key=lambda i: (items[i].capture_timestamp, items[i].path))
            for _, members in sorted(by_camera.items())]


def minute_precision(items: list[PhotoItem]) -> np.ndarray:
    """True where a capture time may only give the minute: its seconds are 00 with no fraction, and its camera
    never wrote a time with other seconds."""
    def exact_seconds(time: str) -> bool:
        return len(time) > 19 or time[17:19] not in ("00", "")

    cameras_with_seconds = {it.camera for it in items if it.capture_time and exact_seconds(it.capture_time)}
    return np.array([bool(it.capture_time) and not exact_seconds(it.capture_time)
                     and it.camera not in cameras_with_seconds for it in items], bool)


def burst_links(items: list[PhotoItem], vectors: np.ndarray, settings: GroupingSettings) -> Iterator[Link]:
    """Consecutive frames of one camera close in time and look (see the module docstring)."""
    minute = minute_precision(items)
    has = vectors.any(axis=1) if vectors.size else np.zeros(len(items), bool)

    def cosine(p: int, q: int) -> float:
        return float(vectors[p] @ vectors[q]) if has[p] and has[q] else 0.0

    for line in timelines(items):
        anchor = line[0]
        for prev, cur in zip(line, line[1:]):
            a, b = items[prev], items[cur]
            gap = b.capture_timestamp - a.capture_timestamp
            if a.burst_id and a.burst_id == b.burst_id:
                yield Link(prev, cur, "burst", f"one camera burst ({a.burst_id}), {gap:.1f} s apart")
                continue
            coarse = bool(minute[prev] or minute[cur])
            window = MINUTE + settings.burst_seconds if coarse else settings.burst_seconds
            need = settings.minute_moment_cosine if coarse else settings.moment_cosine
            similar = gap <= window and cosine(prev, cur)
            if similar and similar >= need and cosine(anchor, cur) >= settings.chain_cosine:
                when = "same minute, seconds unknown" if coarse and gap < 1 else f"{gap:.1f} s apart"
                yield Link(prev, cur, "burst", f"{when}, cosine {similar:.2f}")
            else:
                anchor = cur


def similar_links(items: list[PhotoItem], a: np.ndarray, b: np.ndarray, cosine: np.ndarray,
                  settings: GroupingSettings, verifier: Verifier | None,
                  on_progress: Callable[[str, int, int], None] | None = None) -> Iterator[Link]:
    """Index pairs (a[i], b[i], cosine[i]) that are copies, near-duplicates or, verified, the same scene."""
    bits = phash_bits(items, a, b)
    copy = (bits <= settings.copy_max_phash) & (cosine >= settings.copy_cosine)
    for i in np.flatnonzero(copy & (bits > 0)):
        copy[i] = not _same_shape(items[a[i]], items[b[i]])
    # The embedding alone is trusted only when the pixels roughly agree too: textures the network
    # sees as one thing (noise, foliage, a plain wall) reach cosine 0.97 with pHash 22-40 bits apart.
    near = ~copy & (cosine >= settings.near_duplicate_cosine) & (bits <= settings.near_max_phash)
    for i in np.flatnonzero(copy):
        yield Link(int(a[i]), int(b[i]), "copy", f"pHash {bits[i]} of 64 bits apart, cosine {cosine[i]:.2f}")
    for i in np.flatnonzero(near):
        yield Link(int(a[i]), int(b[i]), "near_duplicate", f"cosine {cosine[i]:.2f}, pHash {bits[i]} bits apart")
    if verifier is None:
        return
    check = np.flatnonzero(~copy & ~near & (cosine >= settings.verify_cosine))
    verifier.prefetch(int(x) for i in check if verifier.needs(int(a[i]), int(b[i])) for x in (a[i], b[i]))
    for done, i in enumerate(check, 1):
        match = verifier.match(int(a[i]), int(b[i]))
        if on_progress:
            on_progress("verifying", done, len(check))
        if match.inliers < settings.min_inliers:
            continue
        relation = "near_duplicate" if match.same_frame() else "same_scene"
        what = "one frame inside the other" if relation == "near_duplicate" else "overlapping views"
        what = "a mirror image" if match.mirrored else what
        yield Link(int(a[i]), int(b[i]), relation,
                   f"{match.inliers} matching features ({what}, rotated {match.rotation:.0f} deg), "
                   f"cosine {cosine[i]:.2f}")


def _same_shape(a: PhotoItem, b: PhotoItem) -> bool:
    """Same format and pixel size: two files a few pHash bits apart are then more likely two frames
    (consecutive video frames: 2 bits) than one photo saved twice (0 bits)."""
    return (a.format, a.width, a.height) == (b.format, b.width, b.height)
