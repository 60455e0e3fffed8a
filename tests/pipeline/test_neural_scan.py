"""Neural analysers inside a real scan: selection, batching, incremental additions, missing weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from photocull.catalog.store import Catalog
from photocull.config import ConfigError, Settings
from photocull.errors import ModelUnavailable
from photocull.pipeline.scan import scan
from tests.helpers import run_cli


@pytest.fixture
def photos(corpus: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    shutil.copytree(corpus / "dedup" / "base_images", folder)
    shutil.copy(corpus / "scenes" / "fruits.jpg", folder)
    return folder


def test_adding_an_analyser_later_computes_only_it(photos: Path, models_ready: Path) -> None:
    with Catalog(photos / ".photocull" / "catalog.db") as catalog:
        first = scan([photos], catalog, Settings(scan={"analysers": ("technical", "fingerprints")}))
        assert first.analyser_runs == {"technical": 11, "fingerprints": 11}
        assert all(r["nima_mean"] is None for r in catalog.photos())

        second = scan([photos], catalog, Settings())  # the default adds aesthetic, embedding and faces
        assert second.analyser_runs == {"aesthetic": 11, "embedding": 11, "faces": 11}
        assert all(r["nima_mean"] is not None and r["keywords"] for r in catalog.photos())

        third = scan([photos], catalog, Settings())
        assert third.skipped == 11 and third.analyser_runs == {}


def test_batch_size_does_not_change_results(photos: Path, models_ready: Path, tmp_path: Path) -> None:
    results = []
    for batch in (1, 4, 32):
        with Catalog(tmp_path / f"batch{batch}.db") as catalog:
            scan([photos], catalog, Settings(scan={"analysers": ("aesthetic", "embedding")},
                                             models={"batch_size": batch}))
            paths, vectors = catalog.vectors("embedding", "vector")
            scores = {r["path"]: r["nima_mean"] for r in catalog.photos(order_by="path")}
            results.append((paths, vectors, scores))
    (paths, vectors, scores), others = results[0], results[1:]
    for other_paths, other_vectors, other_scores in others:
        assert other_paths == paths
        assert np.abs(other_vectors - vectors).max() < 2e-3  # float16 storage
        assert all(abs(other_scores[p] - scores[p]) < 1e-3 for p in scores)


def test_missing_model_stops_with_the_fix_and_other_scans_still_run(photos: Path, tmp_path: Path) -> None:
    offline = {"cache_dir": tmp_path / "empty-cache", "auto_fetch": False}
    with Catalog(tmp_path / "catalog.db") as catalog:
        with pytest.raises(ModelUnavailable, match=r"photocull models fetch nima"):
            scan([photos], catalog, Settings(scan={"analysers": ("technical", "aesthetic")}, models=offline))
        assert catalog.counts() == {}  # nothing was read before the models were checked
        report = scan([photos], catalog, Settings(scan={"analysers": ("technical",)}, models=offline))
        assert report.analysed == 11


def test_missing_model_through_the_cli_exits_2_naming_the_command(photos: Path, tmp_path: Path) -> None:
    result = run_cli("scan", photos, "--analyzers", "technical,embedding", check=False,
                     env={"PHOTOCULL_MODELS_DIR": str(tmp_path / "empty"), "PHOTOCULL_MODELS__AUTO_FETCH": "false"})
    assert result.returncode == 2
    assert "photocull models fetch efficientnet-lite0" in result.stderr.replace("\n", "")


def test_unknown_analyser_is_a_configuration_error(photos: Path, tmp_path: Path) -> None:
    with Catalog(tmp_path / "catalog.db") as catalog, pytest.raises(ConfigError, match="choose from"):
        scan([photos], catalog, Settings(scan={"analysers": ("technical", "beauty")}))
    result = run_cli("scan", photos, "--analyzers", "+beauty", check=False)
    assert result.returncode == 2 and "beauty" in result.stderr


def test_plus_adds_to_the_configured_analysers(photos: Path, models_ready: Path, tmp_path: Path) -> None:
    catalog, configured = tmp_path / "cli.db", {"PHOTOCULL_SCAN__ANALYSERS": "technical"}
    first = run_cli("scan", photos, "--catalog", catalog, "--json", env=configured)
    assert json.loads(first.stdout)["analyser_runs"] == {"technical": 11}
    result = run_cli("scan", photos, "--catalog", catalog, "--analyzers", "+aesthetic", "--json", env=configured)
    assert json.loads(result.stdout)["analyser_runs"] == {"aesthetic": 11}


def test_minus_leaves_an_analyser_out(photos: Path, models_ready: Path, tmp_path: Path) -> None:
    configured = {"PHOTOCULL_SCAN__ANALYSERS": "technical,fingerprints,faces"}
    result = run_cli("scan", photos, "--catalog", tmp_path / "c.db", "--analyzers", "-faces,-fingerprints", "--json",
                     env=configured)
    report = json.loads(result.stdout)
    assert report["analyser_runs"] == {"technical": 11} and report["people"] is None
