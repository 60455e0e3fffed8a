"""The cull: group the library, rank every group, store the picks and decide keep or reject.

:func:`cull` reads every readable photo, finds the groups of one moment
(:mod:`photocull.grouping`), ranks each group (:mod:`photocull.ranking.picks`),
stores the groups with their reasons in one transaction and replaces every
*automatic* decision (``decisions.set_auto``). The user's own decisions are
never read as input to the cull and never written: they keep winning over
whatever a re-run decides.

Automatic decisions:

- a group that is culled (duplicates, near-duplicates, moments): the pick is
  ``keep``, every other member ``reject``;
- a bracket or panorama: every frame ``keep``;
- a photo in no group: ``keep``, unless a hard rule rejects it: the face rules
  reject it (a main person's eyes closed), or it is both blurry and badly
  exposed (two independent failures: a photo that is only soft may be
  deliberate motion, one that is only dark may be a night scene).

Automatic star ratings come from the composite score in fixed bands
(:data:`RATING_BANDS`), so a rating means the same in every library and does
not move when other photos are added: under 0.45 one star, 0.45-0.6 two,
0.6-0.72 three, 0.72-0.85 four, 0.85 and over five. On the 209 readable files
of the test corpus with the default weights the bands hold 5 %, 16 %, 29 %,
40 % and 11 % (composite median 0.72; docs/ranking.md). A rejected photo gets at most one star. Colour labels are
left to the user (``None``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from photocull.catalog.decisions import AutoDecision
from photocull.catalog.groups import StoredGroup, StoredMember
from photocull.config import Settings
from photocull.grouping.build import find_groups as build_groups
from photocull.grouping.groups import Group, GroupingInput
from photocull.grouping.inputs import load_input, load_matches, save_matches
from photocull.ranking.composite import Score, Weights, resolve_weights, score_photos
from photocull.ranking.face_rules import with_verdicts
from photocull.ranking.picks import RankedGroup, rank_group

if TYPE_CHECKING:
    from photocull.catalog.store import Catalog

# (lowest composite score, stars), highest band first
RATING_BANDS: tuple[tuple[float, int], ...] = ((0.85, 5), (0.72, 4), (0.6, 3), (0.45, 2), (0.0, 1))

Progress = Callable[[str, int, int], None]  # (stage, done, total), as grouping.build reports


@dataclass(slots=True)
class CullReport:
    photos: int = 0
    groups: int = 0
    grouped_photos: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    keep: int = 0  # automatic decisions
    reject: int = 0
    reject_bytes: int = 0  # space the automatic rejects take
    singles_rejected: int = 0  # photos in no group rejected by a hard rule
    ratings: dict[int, int] = field(default_factory=dict)  # automatic stars: how many photos
    user_decisions: int = 0  # files where the user's decision stands (never changed by the cull)
    user_overrides: int = 0  # of which the user's flag differs from the automatic one
    weights: dict[str, float] = field(default_factory=dict)
    weights_source: str = "config"
    seconds: float = 0.0


@dataclass(slots=True)
class Scored:
    """Every readable photo with its face verdict and composite score, and the judged faces by path."""

    photos: list[dict[str, Any]]
    faces: dict[str, list[dict[str, Any]]]
    scores: dict[str, Score]
    weights: Weights

    @property
    def by_path(self) -> dict[str, dict[str, Any]]:
        return {p["path"]: p for p in self.photos}


def rating_for(score: float, rejected: bool = False) -> int:
    """Automatic stars (1-5) for a composite score: fixed bands, at most one for a rejected photo."""
    stars = next(s for low, s in RATING_BANDS if score >= low)
    return 1 if rejected else stars


def score_catalog(catalog: Catalog, settings: Settings, weights: Weights | str | Mapping | None = None
                  ) -> Scored:
    """Every readable photo of ``catalog`` scored (``weights``: a :class:`Weights`, or an override)."""
    if not isinstance(weights, Weights):
        weights = resolve_weights(settings.ranking, catalog, weights)
    faces = catalog.faces()
    photos = with_verdicts(catalog.photos(order_by="path"), faces, settings.rules)
    judged: dict[str, list[dict[str, Any]]] = {}
    for face in faces:
        if face.get("role") in ("main", "important") or face["x1"] - face["x0"] >= settings.rules.min_other_face:
            judged.setdefault(face["path"], []).append(face)
    return Scored(photos, judged, score_photos(photos, weights), weights)


def find_groups(catalog: Catalog, data: GroupingInput, settings: Settings,
                on_progress: Progress | None = None) -> list[Group]:
    """The grouping stage's groups (:func:`photocull.grouping.build.find_groups`), reusing and storing the
    catalog's verified pairs so that a cull after an incremental scan verifies only new pairs."""
    matches = load_matches(catalog, settings.grouping)
    known = set(matches)
    groups = build_groups(data, settings.grouping, on_progress=on_progress, matches=matches)
    save_matches(catalog, settings.grouping, matches, known)
    return groups


def rank_groups(groups: Iterable[Group], data: GroupingInput, scored: Scored, keep_rule: str) -> list[RankedGroup]:
    """Every group ranked, largest first (then best pick first)."""
    photos = scored.by_path
    ranked = [rank_group(g, data.items, photos, scored.faces, scored.scores, keep_rule) for g in groups]
    ranked.sort(key=lambda g: (-len(g.members), -g.members[0].score.score, g.members[0].path))
    return ranked


def cull(catalog: Catalog, settings: Settings, *, weights: Weights | str | Mapping | None = None,
         on_progress: Progress | None = None) -> CullReport:
    """Group, rank, store the groups and write the automatic decisions; see the module docstring."""

    started = time.perf_counter()

    def say(stage: str) -> None:
        if on_progress is not None:
            on_progress(stage, 0, 1)
    say("reading the catalog")
    data = load_input(catalog)
    scored = score_catalog(catalog, settings, weights)
    say("grouping")
    groups = find_groups(catalog, data, settings, on_progress=on_progress)
    say("ranking")
    ranked = rank_groups(groups, data, scored, settings.ranking.keep_rule)
    catalog.groups.replace(_stored(g) for g in ranked)

    decided: dict[str, AutoDecision] = {}
    report = CullReport(photos=len(data.items), groups=len(ranked),
                        weights=scored.weights.normalised().as_dict(), weights_source=scored.weights.source)
    for group in ranked:
        report.by_kind[group.kind] = report.by_kind.get(group.kind, 0) + 1
        report.grouped_photos += len(group.members)
        for member in group.members:
            flag = "keep" if group.keep_all or member.rank == 1 else "reject"
            decided[member.key] = AutoDecision(member.key, flag, rating_for(member.score.base, member.score.rejected
                                                                               or flag == "reject"))
    for item in data.items:
        if item.key in decided:
            continue
        photo = scored.by_path.get(item.path, {})
        score = scored.scores[item.path]
        hard = score.rejected or bool(photo.get("blurry") and photo.get("badly_exposed"))
        report.singles_rejected += hard
        decided[item.key] = AutoDecision(item.key, "reject" if hard else "keep", rating_for(score.base, hard))
    say("writing decisions")
    catalog.decisions.set_auto(decided.values())

    size_of = {item.key: item.size for item in data.items}
    for decision in decided.values():
        if decision.flag == "keep":
            report.keep += 1
        else:
            report.reject += 1
            report.reject_bytes += size_of.get(decision.key, 0)
    report.ratings = dict(sorted(Counter(d.rating or 0 for d in decided.values()).items()))
    for stored in catalog.decisions.all():
        if stored.by_user:
            report.user_decisions += 1
            report.user_overrides += stored.user_flag is not None and stored.user_flag != stored.auto_flag
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _stored(group: RankedGroup) -> StoredGroup:
    members = [StoredMember(m.key, m.rank, m.relation, round(m.score.score, 4), m.reason) for m in group.members]
    return StoredGroup(0, group.kind, group.keep_all, None if group.keep_all else group.members[0].key,
                       group.reason, members)


def top_photos(catalog: Catalog, settings: Settings, *, weights: Weights | str | Mapping | None = None,
               n: int | None = 50, one_per_group: bool = True, scored: Scored | None = None) -> list[dict[str, Any]]:
    """The best ``n`` photos by composite score (face-rejected ones penalised, see ranking.composite).

    With ``one_per_group`` (the default) a stored group (from the last cull) shows only its
    pick (rank 1: the keep rule's choice among copies), so a burst does not fill the list. Each row is the photo's catalog row
    with ``score``, ``score_terms`` (the breakdown), ``group`` and ``group_rank`` added. ``n`` None: all;
    ``scored``: the scores a caller already has (:func:`score_catalog`), instead of scoring again.
    """
    scored = scored or score_catalog(catalog, settings, weights)
    membership = catalog.groups.membership()
    rows = []
    for photo in scored.photos:
        score = scored.scores[photo["path"]]
        group, rank = membership.get(photo["path"], (None, None))
        rows.append({**photo, "score": round(score.score, 4), "score_terms": score.as_dict()["terms"],
                     "group": group, "group_rank": rank})
    rows.sort(key=lambda r: (-r["score"], r["path"]))
    if one_per_group:  # a group shows its pick (a keep-all group its best frame), where it ranks by score
        rows = [row for row in rows if row["group"] is None or row["group_rank"] == 1]
    return rows[:n]


def summary_line(report: CullReport) -> str:
    """One line for the end of a scan."""
    kinds = ", ".join(f"{count} {kind.replace('_', '-')}" for kind, count in sorted(report.by_kind.items()))
    return (f"cull: {report.groups} group{'' if report.groups == 1 else 's'}{f' ({kinds})' if kinds else ''}, "
            f"{report.keep} to keep, "
            f"{report.reject} to reject ({report.reject_bytes / 1e6:.1f} MB)"
            + (f", {report.user_decisions} of your decisions kept" if report.user_decisions else ""))
