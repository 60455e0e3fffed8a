"""Best of each group: rank the members, choose the pick, say why.

Within a group, members that are copies of one photo (relations ``exact``,
``copy`` and ``raw_jpeg``: the same picture in another file, size or format)
form a *copy set*. The keep rule (``[ranking] keep_rule``) chooses each copy
set's representative:

- ``best``: the highest composite score (ties: most pixels, then bytes);
- ``largest``: most pixels, then most bytes;
- ``smallest``: fewest bytes;
- ``raw``: a RAW file when there is one, else the best;
- ``heic``: a HEIC/HEIF file when there is one, else the best.

Representatives are then ranked against each other by the composite score,
with every photo the face rules reject below every photo they do not; the
first is the pick. Other copies follow, best first. Brackets and panoramas
are ranked the same way but every frame is kept (``keep_all``), and the
group's reason says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from photocull.grouping.groups import Group, PhotoItem
from photocull.ranking.composite import Score
from photocull.ranking.reasons import Shot, keep_all_reason, loser_reason, pick_reason

COPY_RELATIONS = ("exact", "copy", "raw_jpeg")
KEEP_RULES = ("best", "largest", "smallest", "raw", "heic")


@dataclass(frozen=True, slots=True)
class RankedMember:
    index: int  # into GroupingInput.items
    key: str  # catalog key
    path: str
    rank: int  # 1 = the pick (or best frame of a keep-all group)
    relation: str
    score: Score
    reason: str


@dataclass(frozen=True, slots=True)
class RankedGroup:
    kind: str
    keep_all: bool
    members: list[RankedMember]  # by rank
    reason: str  # why the pick (or why every frame is kept)

    @property
    def pick(self) -> RankedMember | None:
        return None if self.keep_all else self.members[0]


def is_raw(item: PhotoItem) -> bool:
    return item.format.upper().startswith("RAW")


RESOLUTION_SLACK = 1.5  # copies within this factor of the most pixels count as full size


def is_heic(item: PhotoItem) -> bool:
    return item.format.upper() in ("HEIF", "HEIC")


def copy_sets(group: Group) -> list[list[int]]:
    """The group's members partitioned into sets of copies of one photo (singletons where none)."""
    parent = {m: m for m in group.members}

    def find(m: int) -> int:
        while parent[m] != m:
            parent[m] = parent[parent[m]]
            m = parent[m]
        return m

    for link in group.links:
        if link.relation in COPY_RELATIONS and link.a in parent and link.b in parent:
            parent[find(link.a)] = find(link.b)
    sets: dict[int, list[int]] = {}
    for m in group.members:
        sets.setdefault(find(m), []).append(m)
    return list(sets.values())


def choose_copy(members: Sequence[int], items: Sequence[PhotoItem], scores: Mapping[str, Score],
                keep_rule: str) -> tuple[int, str | None]:
    """The copy a keep rule keeps among copies of one photo, and the rule's reason when it decided."""
    if keep_rule not in KEEP_RULES:
        raise ValueError(f"keep_rule must be one of {', '.join(KEEP_RULES)}")

    def pixels(m: int) -> int:
        return items[m].width * items[m].height

    def best_key(m: int) -> tuple:
        return (-scores[items[m].path].score, -pixels(m), -items[m].size, items[m].path)

    # A reduced copy cannot be better than the photo it was made from, but it measures sharper at the
    # working size: the best score is looked for only among the copies with (nearly) the most pixels.
    most = max(pixels(m) for m in members)
    full_size = [m for m in members if pixels(m) * RESOLUTION_SLACK >= most]
    best = min(full_size, key=best_key)
    if len(members) == 1:
        return best, None
    others = [m for m in members if m != best]
    if all(items[m].content_hash == items[best].content_hash for m in others):  # no rule can tell them apart
        return best, f"identical file{'s' if len(others) > 1 else ''}: kept the first by path"
    if keep_rule == "largest":
        chosen = min(members, key=lambda m: (-pixels(m), -items[m].size, best_key(m)))
        it = items[chosen]
        return chosen, f"largest copy: {it.width}×{it.height}, {_mb(it.size)}"
    if keep_rule == "smallest":
        chosen = min(members, key=lambda m: (items[m].size, best_key(m)))
        it = items[chosen]
        return chosen, f"smallest copy: {_mb(it.size)}"
    if keep_rule in ("raw", "heic"):
        test = is_raw if keep_rule == "raw" else is_heic
        preferred = [m for m in members if test(items[m])]
        if preferred and len(preferred) < len(members):
            chosen = min(preferred, key=best_key)
            formats = {_format_name(items[m]) for m in members if not test(items[m])}
            name = "RAW" if keep_rule == "raw" else "HEIC"
            return chosen, f"{name} kept over its {' and '.join(sorted(formats))}"
        return best, None
    if min(members, key=best_key) != best:
        it = items[best]
        return best, f"full-size copy ({it.width}×{it.height}) kept over smaller ones"
    return best, None


def rank_group(group: Group, items: Sequence[PhotoItem], photos: Mapping[str, Mapping[str, Any]],
               faces: Mapping[str, Sequence[Mapping[str, Any]]], scores: Mapping[str, Score],
               keep_rule: str = "best") -> RankedGroup:
    """Rank one group's members (rows and scores by printable path) and explain the pick."""
    representatives: list[int] = []
    rule_reason: dict[int, str] = {}
    copy_of: dict[int, int] = {}
    for members in copy_sets(group):
        chosen, why = choose_copy(members, items, scores, keep_rule)
        representatives.append(chosen)
        if why:
            rule_reason[chosen] = why
        for m in members:
            if m != chosen:
                copy_of[m] = chosen

    def order(m: int) -> tuple:
        s = scores[items[m].path]
        return (s.rejected, -s.base, items[m].path)

    ranked_reps = sorted(representatives, key=order)
    ranked_copies = sorted(copy_of, key=lambda m: (ranked_reps.index(copy_of[m]), order(m)))
    ordered = ranked_reps + ranked_copies

    shots = {m: Shot(items[m], photos.get(items[m].path, {}), list(faces.get(items[m].path, ())),
                     scores[items[m].path]) for m in ordered}
    first = ordered[0]
    if group.keep_all:
        reason = keep_all_reason(group.kind, len(ordered))
    else:
        reason = pick_reason(shots[first], [shots[m] for m in ranked_reps[1:]], rule_reason.get(first),
                             [shots[m] for m in ranked_copies if copy_of[m] == first])
    ranked: list[RankedMember] = []
    for rank, m in enumerate(ordered, 1):
        if m == first:
            why = reason if not group.keep_all else "best frame; " + reason
        elif m in copy_of:
            kept = "the pick" if copy_of[m] == first else f"#{ordered.index(copy_of[m]) + 1}"
            why = loser_reason(shots[m], shots[copy_of[m]], copy=True,
                               rule=rule_reason.get(copy_of[m]), keep_all=group.keep_all, kept=kept)
        else:
            why = loser_reason(shots[m], shots[first], keep_all=group.keep_all)
        ranked.append(RankedMember(m, items[m].key, items[m].path, rank, group.relation_of(m) or "unknown",
                                    scores[items[m].path], why))
    return RankedGroup(group.kind, group.keep_all, ranked, reason)


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


def _format_name(item: PhotoItem) -> str:
    name = item.format.upper()
    if name.startswith("RAW"):
        return "RAW"
    return "HEIC" if name in ("HEIF", "HEIC") else name
