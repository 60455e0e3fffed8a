"""One number per photo, 0 to 1, from technical quality, aesthetics and faces: the composite score.

Each term is first brought to 0-1:

- ``technical``: the technical score (0-100, sharpness, exposure, noise;
  docs/measurements.md) divided by 100.
- ``aesthetic``: NIMA's mean vote (1-10) mapped linearly from
  :data:`NIMA_LOW` (0) to :data:`NIMA_HIGH` (1) and clipped. NIMA's outputs
  crowd into the middle of its scale: on the 199 readable photos of the test
  corpus they run from 3.0 to 5.9 (5th percentile 3.2, median 4.55, 95th
  5.45), so dividing by 10 would squeeze every photo into 0.3-0.6 and let
  aesthetics barely count. 3.0-6.0 spreads the real range over the scale.
- ``faces``: the face rules' score (:mod:`photocull.ranking.face_rules`).

The score is the weighted mean of the terms a photo has. A photo without
judged faces, or without a NIMA score, shares that term's weight out over its
other terms in proportion to their weights: it is judged on what it has, never
as if its faces were perfect or all bad. Weights come from ``[ranking]``
(technical 0.4, aesthetic 0.3, faces 0.3), the learned ones (``photocull
learn``) when ``use_learned`` is on and there are any, or ``--weight`` on the
command line, which wins over both.

A photo the face rules reject (a main person's eyes closed) is ranked below
every photo that is not rejected within its group (:mod:`photocull.ranking.picks`),
and globally its score is multiplied by :data:`REJECTED_FACTOR` (halved),
so it sinks in ``photocull top`` without vanishing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from photocull.config import RankingSettings

if TYPE_CHECKING:
    from photocull.catalog.store import Catalog

TERMS: tuple[str, ...] = ("technical", "aesthetic", "faces")
NIMA_LOW = 3.0  # NIMA mean mapped to 0 (5th percentile of the corpus: 3.19)
NIMA_HIGH = 6.0  # mapped to 1 (95th percentile: 5.44; the best corpus photo: 5.93)
REJECTED_FACTOR = 0.5  # a face-rejected photo's score is multiplied by this in global rankings
LEARNED_STATE_KEY = "learned_weights"


class WeightError(ValueError):
    """A ``--weight`` value that cannot be read."""


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each term counts; not necessarily summing to 1 (they are normalised when used)."""

    technical: float = 0.4
    aesthetic: float = 0.3
    faces: float = 0.3
    source: str = "config"  # config, learned or command line

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in TERMS}

    @classmethod
    def from_dict(cls, values: Mapping[str, float], source: str) -> Weights:
        """Weights named by term (a missing term weighs 0)."""
        return cls(float(values.get("technical", 0.0)), float(values.get("aesthetic", 0.0)),
                   float(values.get("faces", 0.0)), source)

    def normalised(self) -> Weights:
        total = sum(self.as_dict().values())
        if total <= 0:
            return Weights(1 / 3, 1 / 3, 1 / 3, self.source)
        return Weights.from_dict({n: v / total for n, v in self.as_dict().items()}, self.source)

    def describe(self) -> str:
        norm = self.normalised()
        return ", ".join(f"{n} {getattr(norm, n):.2f}" for n in TERMS) + f" ({self.source})"


@dataclass(frozen=True, slots=True)
class Term:
    name: str
    value: float | None  # 0-1, None when the photo has no such measure
    weight: float  # the weight it had in this photo's score (shared out: 0 when value is None)
    contribution: float  # value * weight


@dataclass(frozen=True, slots=True)
class Score:
    """A photo's composite score with its breakdown."""

    score: float  # 0-1: the weighted mean of the terms, times REJECTED_FACTOR when face-rejected
    base: float  # before the rejection penalty
    rejected: bool  # the face rules reject it
    terms: tuple[Term, ...]

    def term(self, name: str) -> Term:
        return next(t for t in self.terms if t.name == name)

    def as_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 4), "base": round(self.base, 4), "rejected": self.rejected,
                "terms": {t.name: {"value": None if t.value is None else round(t.value, 4),
                                   "weight": round(t.weight, 4), "contribution": round(t.contribution, 4)}
                          for t in self.terms}}


def term_values(photo: Mapping[str, Any]) -> dict[str, float | None]:
    """The 0-1 terms of one photo row (``Catalog.photos`` with ``face_score`` from ``with_verdicts``)."""
    technical = photo.get("technical_score")
    nima = photo.get("nima_mean")
    faces = photo.get("face_score")
    return {
        "technical": None if technical is None else min(1.0, max(0.0, technical / 100.0)),
        "aesthetic": None if nima is None else min(1.0, max(0.0, (nima - NIMA_LOW) / (NIMA_HIGH - NIMA_LOW))),
        "faces": None if faces is None else min(1.0, max(0.0, float(faces))),
    }


def composite(photo: Mapping[str, Any], weights: Weights) -> Score:
    """The composite score of one photo row, with each term's value, weight and contribution."""
    return combine(term_values(photo), weights, bool(photo.get("face_rejected")))


def combine(values: Mapping[str, float | None], weights: Weights, rejected: bool = False) -> Score:
    """Weighted mean of the terms present; absent terms' weights are shared out over the others."""
    raw = weights.as_dict()
    present = {n: raw[n] for n in TERMS if values.get(n) is not None}
    total = sum(present.values())
    if not present or total <= 0:  # nothing measured (or only zero-weight terms): plain mean of what there is
        present = {n: 1.0 for n in TERMS if values.get(n) is not None}
        total = float(len(present)) or 1.0
    terms = []
    for name in TERMS:
        value = values.get(name)
        weight = present.get(name, 0.0) / total
        terms.append(Term(name, value, weight, (value or 0.0) * weight))
    base = sum(t.contribution for t in terms)
    return Score(base * (REJECTED_FACTOR if rejected else 1.0), base, rejected, tuple(terms))


def score_photos(photos: Iterable[Mapping[str, Any]], weights: Weights) -> dict[str, Score]:
    """Composite scores by path."""
    return {photo["path"]: composite(photo, weights) for photo in photos}


def parse_weights(text: str | None) -> dict[str, float]:
    """``technical=0.5,aesthetic=0.2,faces=0.3`` (any subset; ``tech``/``aes``/``face`` also accepted)."""
    if not text:
        return {}
    found: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        matches = [t for t in TERMS if t.startswith(name[:4])] if len(name) >= 3 else []
        if not sep or len(matches) != 1:
            raise WeightError(f"--weight takes NAME=VALUE pairs with NAME one of {', '.join(TERMS)}, "
                              f"e.g. technical=0.5,aesthetic=0.2,faces=0.3 (got {part.strip()!r})")
        try:
            number = float(value)
        except ValueError:
            raise WeightError(f"--weight {name}: {value!r} is not a number") from None
        if number < 0:
            raise WeightError(f"--weight {name}: weights cannot be negative")
        found[matches[0]] = number
    if found and all(v == 0 for v in found.values()) and len(found) == len(TERMS):
        raise WeightError("--weight: at least one weight must be above 0")
    return found


def resolve_weights(ranking: RankingSettings, catalog: Catalog | None = None,
                    override: str | Mapping[str, float] | None = None) -> Weights:
    """The weights to use: ``override`` (the command line) over the learned ones over ``[ranking]``.

    Learned weights are used when ``ranking.use_learned`` is on and the catalog holds some; a
    partial override replaces just the terms it names.
    """
    base = Weights(ranking.weight_technical, ranking.weight_aesthetic, ranking.weight_faces, "config")
    if ranking.use_learned and catalog is not None:
        learned = catalog.get_state(LEARNED_STATE_KEY)
        if learned and isinstance(learned.get("weights"), dict):
            base = Weights.from_dict(learned["weights"], "learned")
    changes = parse_weights(override) if isinstance(override, str) else dict(override or {})
    if changes:
        values = base.as_dict() | changes
        if sum(values.values()) <= 0:
            raise WeightError("--weight: at least one weight must be above 0")
        base = Weights.from_dict(values, "command line")
    return base
