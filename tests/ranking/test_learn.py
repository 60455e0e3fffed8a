"""Learned taste: a synthetic user who only cares about aesthetics, on real scanned photos. The learned
weights must agree with that user on held-out pairs better than the default weights do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from photocull.config import Settings
from photocull.ranking.composite import resolve_weights
from photocull.ranking.learn import MIN_DECISIONS, NotEnoughDecisions, learn
from tests.helpers import run_cli
from tests.ranking.conftest import catalog_of


@pytest.fixture(scope="module")
def taught(library, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("taught") / "library"
    shutil.copytree(library, root)
    return root


def test_too_few_decisions_are_refused_clearly(taught) -> None:
    with catalog_of(taught) as catalog:
        with pytest.raises(NotEnoughDecisions, match=f"at least {MIN_DECISIONS}"):
            learn(catalog, Settings())
    result = run_cli("learn", taught, check=False)
    assert result.returncode == 1 and "not enough decisions" in result.stderr


def test_learned_weights_follow_an_aesthetics_only_user(taught) -> None:
    with catalog_of(taught) as catalog:
        photos = sorted((p for p in catalog.photos() if p["nima_mean"] is not None), key=lambda p: p["nima_mean"])
        assert len(photos) >= MIN_DECISIONS
        for i, photo in enumerate(photos):  # keeps the better-looking half, rates by NIMA alone
            catalog.decisions.set_user(Path(photo["path"]), flag="keep" if i >= len(photos) // 2 else "reject",
                                       rating=min(5, int(photo["nima_mean"] - 2)))
        report = learn(catalog, Settings())
        assert report.decisions == len(photos) and report.pairs >= 100
        assert report.agreement > report.default_agreement
        assert report.agreement >= 0.9
        assert report.weights["aesthetic"] == max(report.weights.values())
        assert sum(report.weights.values()) == pytest.approx(1.0, abs=1e-3)
        used = resolve_weights(Settings().ranking, catalog)
        assert used.source == "learned" and used.aesthetic == pytest.approx(report.weights["aesthetic"])
    shown = json.loads(run_cli("learn", taught, "--json").stdout)
    assert shown["agreement"] > shown["default_agreement"]
    assert json.loads(run_cli("cull", taught, "--json").stdout)["weights_source"] == "learned"
