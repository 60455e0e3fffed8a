"""From photos to groups: every kind of link, then one union-find over them.

1. Same photo: identical bytes, RAW+JPEG pairs (:mod:`.duplicates`).
2. Neighbour candidates from the embedding index, O(n k) pairs (:mod:`.index`),
   classified as copies, near-duplicates or, verified, the same scene (:mod:`.moments`).
3. Keep-all sets: brackets and panoramas (:mod:`.sets`). Their frames are
   linked only to each other and to copies of themselves, so a bracket never
   swallows the ordinary shots around it, nor they it.
4. Bursts along each camera's timeline (:mod:`.moments`).
5. Union-find, links taken from the closest relation to the loosest and, within
   one, the most similar first. A group stands for itself by its first photo
   (the root, kept by the larger side of every union). A link that would grow a
   group of two or more (other than a copy or a keep-all set's) joins only while
   the two sides' first photos reach ``chain_cosine``, or ``moment_cosine`` for a
   near-duplicate known by its embedding alone: a run of look-alikes cannot grow
   into one huge group. (Mean embeddings failed as the guard: the mean of a large
   group resembles everything, and 100,000 made photos chained 225 photos of 57
   scenes with pairwise cosines down to 0.45.)

Everything is O(n k) apart from sorting; verification (ORB, ~15-40 ms a photo
once, ~2 ms a pair) runs only on candidate pairs between ``verify_cosine``
and ``near_duplicate_cosine`` and on consecutive frames that could be a panorama.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from photocull.config import GroupingSettings
from photocull.grouping.duplicates import exact_links, raw_jpeg_links
from photocull.grouping.groups import RELATIONS, Group, GroupingInput, GroupKind, Link
from photocull.grouping.index import candidate_pairs, pair_cosines
from photocull.grouping.moments import burst_links, similar_links
from photocull.grouping.sets import bracket_sets, panorama_sets
from photocull.grouping.verify import MatchCache, Verifier

Progress = Callable[[str, int, int], None]  # (stage, done, total)

SAME_PHOTO = ("exact", "copy", "raw_jpeg")  # relations that always merge: both files show one picture
KIND_OF: dict[str, GroupKind] = {
    "exact": "duplicates", "copy": "duplicates", "raw_jpeg": "duplicates",
    "near_duplicate": "near_duplicates", "same_scene": "moment", "burst": "moment",
    "bracket": "bracket", "panorama": "panorama",
}


def find_groups(data: GroupingInput, settings: GroupingSettings, *, verify: bool = True,
                on_progress: Progress | None = None, matches: MatchCache | None = None) -> list[Group]:
    """Groups of two or more photos, members in capture order, groups in the order of their first member.

    ``verify=False`` skips the local-feature checks (no photo is read again):
    rotated and cropped copies and same-scene pairs below ``near_duplicate_cosine``
    are then missed, and no panorama is found. ``on_progress(stage, done, total)``
    is called as stages advance ("neighbours", "verifying", "links"). ``matches``: verification
    outcomes of earlier runs (see :mod:`.verify`), reused, and completed with the pairs matched now.
    """
    items, vectors = data.items, data.vectors
    verifier = Verifier([it.path for it in items], settings.min_inliers, [it.content_hash for it in items],
                        matches) if verify else None
    links = list(exact_links(items)) + list(raw_jpeg_links(items))
    a, b, cosine = candidate_pairs(vectors, settings.neighbours, min(settings.verify_cosine, settings.copy_cosine),
                                   settings.exact_below, on_progress)
    links += similar_links(items, a, b, cosine, settings, verifier, on_progress)

    sets = {"bracket": bracket_sets(items, vectors, settings, verifier)}
    in_set = {i for s in sets["bracket"] for i in s}
    if verifier is not None:
        sets["panorama"] = panorama_sets(items, settings, verifier, in_set)
        in_set |= {i for s in sets["panorama"] for i in s}
    links += burst_links(items, vectors, settings)
    links = [link for link in links if link.relation in SAME_PHOTO or not {link.a, link.b} & in_set]
    for kind, runs in sets.items():
        for run in runs:
            links += [Link(p, q, kind, _set_detail(kind, data, p, q)) for p, q in zip(run, run[1:])]
    if on_progress:
        on_progress("links", len(links), len(links))
    return _groups(data, links, settings)


def _groups(data: GroupingInput, links: list[Link], settings: GroupingSettings) -> list[Group]:
    items, vectors = data.items, data.vectors
    has_vectors = vectors.size > 0
    parent = list(range(len(items)))
    size = [1] * len(items)  # a group's root is its first photo joined, which stands for the group
    joined_by: dict[int, int] = {}  # root -> the loosest relation (index in RELATIONS) that merged its group

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    ends = np.array([(link.a, link.b) for link in links], np.int64).reshape(-1, 2)
    cosine = pair_cosines(vectors, ends[:, 0], ends[:, 1]) if has_vectors else np.zeros(len(links), np.float32)
    rank = np.array([RELATIONS.index(link.relation) for link in links])
    order = np.lexsort((ends[:, 1], ends[:, 0], -cosine, rank))  # closest relation, then most similar
    embedding_only = np.array([link.relation == "near_duplicate" for link in links], bool) & (
        cosine >= settings.near_duplicate_cosine)
    for n in order:
        link = links[n]
        ra, rb = root(link.a), root(link.b)
        if ra == rb:
            continue
        guarded = link.relation not in SAME_PHOTO and link.relation not in ("bracket", "panorama")
        if has_vectors and guarded and max(size[ra], size[rb]) > 1:
            need = settings.moment_cosine if embedding_only[n] else settings.chain_cosine
            if vectors[ra].any() and vectors[rb].any() and float(vectors[ra] @ vectors[rb]) < need:
                continue
        keep, gone = (ra, rb) if (size[ra], rb) > (size[rb], ra) else (rb, ra)  # the larger group's root stays
        parent[gone] = keep
        size[keep] += size[gone]
        joined_by[keep] = max(joined_by.get(ra, 0), joined_by.get(rb, 0), int(rank[n]))

    members: dict[int, list[int]] = {}
    for i in range(len(items)):
        members.setdefault(root(i), []).append(i)
    by_root: dict[int, list[Link]] = {}
    seen: set[tuple[int, int, str]] = set()
    for n in order:  # each relation once per pair: two burst frames may also be near-duplicates
        link = links[n]
        key = (min(link.a, link.b), max(link.a, link.b), link.relation)
        r = root(link.a)
        if r == root(link.b) and key not in seen:
            seen.add(key)
            by_root.setdefault(r, []).append(link)

    def when(i: int) -> tuple:
        t = items[i].capture_timestamp
        return (t is None, t or 0.0, items[i].path)

    groups = []
    for r, group in members.items():
        if len(group) < 2:
            continue
        groups.append(Group(_kind(RELATIONS[joined_by[r]], by_root.get(r, [])), sorted(group, key=when),
                            by_root.get(r, [])))
    return sorted(groups, key=lambda g: when(g.members[0]))


def _kind(loosest_needed: str, links: list[Link]) -> GroupKind:
    """Named after the loosest link the group needed, not every link found (copies of one photo that also
    match as "the same scene" are still duplicates); frames the clock calls one burst are a moment."""
    kind = KIND_OF[loosest_needed]
    if kind == "near_duplicates" and any(link.relation == "burst" for link in links):
        return "moment"
    return kind


def _set_detail(kind: str, data: GroupingInput, p: int, q: int) -> str:
    a, b = data.items[p], data.items[q]
    gap = (b.capture_timestamp or 0.0) - (a.capture_timestamp or 0.0)
    if kind == "panorama":
        return f"next frame of a panorama, {gap:.1f} s later"
    bias = "" if a.exposure_bias is None or b.exposure_bias is None else \
        f", exposure bias {a.exposure_bias:+g} then {b.exposure_bias:+g} EV"
    return f"exposure bracket, {gap:.1f} s apart{bias}"
