"""Learned taste: fit the composite score's weights to the user's own decisions.

Every user decision says one photo is better than another: a kept photo beats
a rejected one, a 4-star photo beats a 2-star one. :func:`learn` turns the
decisions into such pairs, pairs within one stored group first (they differ
in the details the score must weigh: which frame of a burst), then keep
against reject and higher against lower stars across the library, sampled
(at most :data:`MAX_PAIRS` in all). It fits a pairwise logistic regression
(Bradley-Terry) on the difference of the two photos' terms (technical,
aesthetic, faces: :func:`photocull.ranking.composite.term_values`), in numpy,
with the weights kept non-negative by projected gradient descent, then
normalised to sum 1. A photo without faces is given, for its faces term, the
weighted mean of its other terms: exactly what the composite score does when
it shares the face weight out, so the fitted weights mean what they say.

Agreement is measured by k-fold cross-validation over the pairs: the share of
held-out pairs the learned weights order as the user did, beside the share
the current default weights (``[ranking]``) get right. The final weights are
fitted on every pair and stored in the catalog (``learned_weights``) with
those numbers; the composite score uses them while ``[ranking] use_learned``
is on.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from photocull.config import Settings
from photocull.ranking.composite import LEARNED_STATE_KEY, TERMS, Weights, term_values
from photocull.ranking.face_rules import with_verdicts

if TYPE_CHECKING:
    from photocull.catalog.store import Catalog

MIN_DECISIONS = 20  # photos with a user decision (flag or rating)
MIN_PAIRS = 20  # ordered pairs those decisions give
MAX_PAIRS = 20_000
FOLDS = 5
L2 = 1e-3
STEPS = 400


class NotEnoughDecisions(ValueError):
    """Too few user decisions to learn from; the message says how many more are needed."""


@dataclass(slots=True)
class LearnReport:
    weights: dict[str, float]  # normalised, summing to 1
    decisions: int  # photos with a user decision that could be used
    pairs: int
    pairs_in_groups: int
    agreement: float  # held-out pairs ordered as the user did, learned weights (k-fold mean)
    default_agreement: float  # the same pairs, with the [ranking] weights
    folds: int
    default_weights: dict[str, float] = field(default_factory=dict)
    stored: bool = False
    updated: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def user_preferences(catalog: Catalog) -> dict[str, float]:
    """Each photo the user decided on, with a number that orders the user's taste (higher better).

    A flag dominates stars (a kept 1-star photo still beats a rejected 5-star one): value =
    2 * flag + stars / 5, with keep 1, reject 0 and no flag 0.5.
    """
    prefs: dict[str, float] = {}
    for d in catalog.decisions.all():
        rating = d.user_rating
        if d.user_flag is None and rating is None:
            continue
        flag = {"keep": 1.0, "reject": 0.0}.get(d.user_flag or "", 0.5)
        prefs[d.path] = 2 * flag + (rating or 0) / 5
    return prefs


def make_pairs(prefs: dict[str, float], group_of: dict[str, int], rng: np.random.Generator,
               max_pairs: int = MAX_PAIRS) -> tuple[list[tuple[str, str]], int]:
    """(better, worse) pairs: every pair within a group, then across the library, sampled."""
    by_group: dict[int, list[str]] = {}
    for path in prefs:
        if path in group_of:
            by_group.setdefault(group_of[path], []).append(path)
    pairs: list[tuple[str, str]] = []
    for members in by_group.values():
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                if prefs[a] != prefs[b]:
                    pairs.append((a, b) if prefs[a] > prefs[b] else (b, a))
    in_groups = len(pairs)
    paths = sorted(prefs)
    budget = max(0, max_pairs - len(pairs))
    all_pairs = len(paths) * (len(paths) - 1) // 2
    if all_pairs <= budget:
        candidates = [(a, b) for i, a in enumerate(paths) for b in paths[i + 1:]]
    else:
        idx = rng.integers(0, len(paths), size=(budget * 2, 2))
        candidates = [(paths[i], paths[j]) for i, j in idx if i != j]
    seen = set(pairs)
    for a, b in candidates:
        if len(pairs) >= max_pairs:
            break
        if prefs[a] == prefs[b] or group_of.get(a, -1) == group_of.get(b, -2):
            continue
        pair = (a, b) if prefs[a] > prefs[b] else (b, a)
        if pair not in seen:
            seen.add(pair)
            pairs.append(pair)
    return pairs, in_groups


def term_matrix(photos: dict[str, dict[str, Any]], paths: list[str]) -> np.ndarray:
    """The 0-1 terms of each photo (rows, in ``TERMS`` order); NaN where a photo lacks a term."""
    return np.array([[np.nan if v is None else v for v in (term_values(photos[p])[n] for n in TERMS)]
                     for p in paths], float).reshape(len(paths), len(TERMS))


def features(terms: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``terms`` with each missing value filled by the weighted mean of the photo's other terms."""
    present = ~np.isnan(terms)
    values = np.where(present, terms, 0.0)
    total = present @ weights
    mean = np.where(total > 0, (values @ weights) / np.where(total > 0, total, 1.0), 0.5)
    return np.where(present, terms, mean[:, None])


def fit_pairwise(diffs: np.ndarray, steps: int = STEPS, l2: float = L2) -> np.ndarray:
    """Non-negative weights w maximising sum log sigmoid(diffs @ w) - l2 |w|^2; normalised to sum 1."""
    w = np.full(diffs.shape[1], 1.0)
    # step size from the curvature bound of the logistic loss (1/4 of the mean squared difference)
    lr = 1.0 / (0.25 * float((diffs ** 2).sum(axis=1).mean()) + 2 * l2 + 1e-12)
    for _ in range(steps):
        margin = diffs @ w
        p = 0.5 * (1.0 - np.tanh(0.5 * margin))  # sigmoid(-margin), without overflow
        grad = -(p @ diffs) / len(diffs) + 2 * l2 * w
        w = np.maximum(w - lr * grad, 0.0)
    total = w.sum()
    return w / total if total > 0 else np.full_like(w, 1 / len(w))


def agreement(diffs: np.ndarray, weights: np.ndarray) -> float:
    """Share of pairs the weights order as the user did (ties count half)."""
    margin = diffs @ weights
    return float(((margin > 1e-12).sum() + 0.5 * (np.abs(margin) <= 1e-12).sum()) / max(1, len(margin)))


def learn(catalog: Catalog, settings: Settings, *, store: bool = True, seed: int = 0,
          folds: int = FOLDS) -> LearnReport:
    """Fit the weights to the user's decisions; raises :class:`NotEnoughDecisions` when there are too few."""
    prefs = user_preferences(catalog)
    photos = {p["path"]: p for p in with_verdicts(catalog.photos(order_by="path"), catalog.faces(), settings.rules)}
    prefs = {p: v for p, v in prefs.items() if p in photos}
    kinds = len(set(prefs.values()))
    if len(prefs) < MIN_DECISIONS or kinds < 2:
        raise NotEnoughDecisions(
            f"learning needs at least {MIN_DECISIONS} photos you decided on, with both keeps and rejects "
            f"(or different star ratings); there are {len(prefs)}"
            + ("" if kinds >= 2 or not prefs else ", all alike") + ". Mark more with photocull decide.")
    group_of = {path: gid for path, (gid, _) in catalog.groups.membership().items()}
    rng = np.random.default_rng(seed)
    pairs, in_groups = make_pairs(prefs, group_of, rng)
    if len(pairs) < MIN_PAIRS:
        raise NotEnoughDecisions(f"your decisions give only {len(pairs)} pairs to compare (need {MIN_PAIRS}); "
                                 "decide on more photos, keeps and rejects both")
    r = settings.ranking
    default = np.array([r.weight_technical, r.weight_aesthetic, r.weight_faces], float)
    default = default / default.sum() if default.sum() > 0 else np.full(3, 1 / 3)
    paths = sorted({p for pair in pairs for p in pair})
    index = {p: i for i, p in enumerate(paths)}
    better = np.array([index[a] for a, _ in pairs])
    worse = np.array([index[b] for _, b in pairs])

    terms = term_matrix(photos, paths)

    def diffs_for(weights: np.ndarray) -> np.ndarray:
        x = features(terms, weights)
        return x[better] - x[worse]

    def fit(rows: np.ndarray) -> np.ndarray:
        w = default
        for _ in range(3):  # re-impute missing face terms with the current weights
            w = fit_pairwise(diffs_for(w)[rows])
        return w

    order = rng.permutation(len(pairs))
    k = max(2, min(folds, len(pairs) // 5))
    learned_hits = default_hits = 0.0
    default_diffs = diffs_for(default)
    for fold in range(k):
        test = order[fold::k]
        train = np.setdiff1d(order, test)
        w = fit(train)
        learned_hits += agreement(diffs_for(w)[test], w) * len(test)
        default_hits += agreement(default_diffs[test], default) * len(test)
    final = fit(np.arange(len(pairs)))
    report = LearnReport(
        weights={n: round(float(v), 4) for n, v in zip(TERMS, final)}, decisions=len(prefs), pairs=len(pairs),
        pairs_in_groups=in_groups, agreement=round(learned_hits / len(pairs), 4),
        default_agreement=round(default_hits / len(pairs), 4), folds=k,
        default_weights={n: round(float(v), 4) for n, v in zip(TERMS, default)}, updated=time.time())
    if store:
        catalog.put_state(LEARNED_STATE_KEY, report.as_dict() | {"stored": True})
        report.stored = True
    return report


def learned_weights(catalog: Catalog) -> Weights | None:
    """The stored learned weights, or None."""
    state = catalog.get_state(LEARNED_STATE_KEY)
    if not state or not isinstance(state.get("weights"), dict):
        return None
    return Weights.from_dict(state["weights"], "learned")
