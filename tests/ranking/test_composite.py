"""The composite score: terms in 0-1, weights shared out when a term is missing, the rejection penalty,
weights from the config, the command line and learning; on real scanned photos."""

from __future__ import annotations

import pytest

from photocull.config import RankingSettings, Settings
from photocull.ranking.composite import (
    LEARNED_STATE_KEY, NIMA_HIGH, NIMA_LOW, REJECTED_FACTOR, WeightError, Weights, combine, composite,
    parse_weights, resolve_weights,
)
from photocull.ranking.cull import score_catalog
from tests.ranking.conftest import catalog_of

DEFAULT = Weights()


def test_scores_of_real_photos_are_in_range_and_explained(library) -> None:
    with catalog_of(library) as catalog:
        scored = score_catalog(catalog, Settings())
    assert len(scored.scores) >= 30
    for path, score in scored.scores.items():
        assert 0.0 <= score.score <= 1.0
        assert sum(t.weight for t in score.terms) == pytest.approx(1.0)
        assert score.base == pytest.approx(sum(t.contribution for t in score.terms))
        for term in score.terms:
            assert term.value is None or 0.0 <= term.value <= 1.0
            assert term.value is not None or term.weight == 0.0
    burst = {p.rsplit("/", 1)[-1]: s for p, s in scored.scores.items() if "/burst/" in p}
    assert burst["frame_1.jpg"].score > burst["frame_2.jpg"].score  # the blurred frame scores lower
    # photos without faces share the face weight out: technical 0.4/0.7, aesthetic 0.3/0.7
    no_faces = scored.scores[next(p for p in scored.scores if p.endswith("scenes/baboon.jpg"))]
    assert no_faces.term("faces").value is None
    assert no_faces.term("technical").weight == pytest.approx(0.4 / 0.7)


def test_nima_normalisation_spans_the_real_range() -> None:
    assert composite({"nima_mean": NIMA_LOW}, DEFAULT).term("aesthetic").value == 0.0
    assert composite({"nima_mean": NIMA_HIGH}, DEFAULT).term("aesthetic").value == 1.0
    assert composite({"nima_mean": 9.0}, DEFAULT).term("aesthetic").value == 1.0  # clipped
    assert composite({"nima_mean": 4.5}, DEFAULT).term("aesthetic").value == pytest.approx(0.5)


def test_missing_terms_and_rejection() -> None:
    full = combine({"technical": 0.8, "aesthetic": 0.6, "faces": 1.0}, DEFAULT)
    assert full.score == pytest.approx(0.4 * 0.8 + 0.3 * 0.6 + 0.3 * 1.0)
    without = combine({"technical": 0.8, "aesthetic": 0.6, "faces": None}, DEFAULT)
    assert without.score == pytest.approx((0.4 * 0.8 + 0.3 * 0.6) / 0.7)
    rejected = combine({"technical": 0.8, "aesthetic": 0.6, "faces": 0.2}, DEFAULT, rejected=True)
    assert rejected.rejected and rejected.score == pytest.approx(rejected.base * REJECTED_FACTOR)
    assert combine({}, DEFAULT).score == 0.0


def test_weights_from_config_command_line_and_learning(library) -> None:
    ranking = RankingSettings(weight_technical=1, weight_aesthetic=1, weight_faces=2)
    assert resolve_weights(ranking).as_dict() == {"technical": 1, "aesthetic": 1, "faces": 2}
    assert parse_weights("technical=0.5, aes=0.2,faces=0.3") == {"technical": 0.5, "aesthetic": 0.2, "faces": 0.3}
    for bad in ("sharpness=1", "technical", "technical=x", "faces=-1"):
        with pytest.raises(WeightError):
            parse_weights(bad)
    override = resolve_weights(ranking, None, "aesthetic=3")
    assert override.source == "command line" and override.as_dict() == {"technical": 1, "aesthetic": 3, "faces": 2}
    with catalog_of(library) as catalog:
        catalog.put_state(LEARNED_STATE_KEY, {"weights": {"technical": 0.1, "aesthetic": 0.8, "faces": 0.1}})
        try:
            assert resolve_weights(ranking, catalog).source == "learned"
            assert resolve_weights(ranking.model_copy(update={"use_learned": False}), catalog).source == "config"
            assert resolve_weights(ranking, catalog, "faces=1").as_dict()["aesthetic"] == 0.8
        finally:
            catalog.put_state(LEARNED_STATE_KEY, None)
