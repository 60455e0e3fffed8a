"""The command line as a user meets it: scan, top, show, export csv, config, help."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from tests.helpers import run_cli, scan_json

BLURRED = {"text_defocus.jpg", "text_motion.jpg", "licenseplate_motion.jpg"}


@pytest.fixture(scope="module")
def scenes(corpus, tmp_path_factory):
    """A writable copy of corpus/scenes, scanned once."""
    folder = tmp_path_factory.mktemp("cli") / "scenes"
    shutil.copytree(corpus / "scenes", folder)
    report = scan_json(folder)
    assert report["files"] == report["analysed"] == len(list(folder.iterdir())) - 1  # minus .photocull
    return folder


def test_blurred_scenes_are_flagged_and_sharp_ones_are_not(scenes):
    rows = json.loads(run_cli("top", scenes, "-n", "1000", "--all-frames", "--json").stdout)
    flagged = {r["path"].rsplit("/", 1)[-1] for r in rows if r["blurry"]}
    assert flagged == BLURRED


def test_top_lists_best_first(scenes):
    rows = json.loads(run_cli("top", scenes, "-n", "5", "--json").stdout)  # the composite score
    assert len(rows) == 5
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    by_technical = json.loads(run_cli("top", scenes, "-n", "5", "--by", "technical", "--json").stdout)
    scores = [r["technical_score"] for r in by_technical]
    assert scores == sorted(scores, reverse=True)
    table = run_cli("top", scenes, "-n", "5").stdout
    assert "Best 5 photos" in table and rows[0]["path"].rsplit("/", 1)[-1] in table


def test_show_explains_every_measurement(scenes):
    text = run_cli("show", scenes / "leuvenA.jpg").stdout
    for words in ("Technical quality", "sharpness", "megapixels", "phash", "SHA-256"):
        assert words in text
    row = json.loads(run_cli("show", scenes / "leuvenA.jpg", "--json").stdout)
    assert row["width"] == 751 and row["format"] == "JPEG"


def test_show_unknown_file_says_so(scenes, tmp_path):
    stray = tmp_path / "stray.jpg"
    stray.write_bytes(b"x")
    result = run_cli("show", stray, "--catalog", scenes / ".photocull" / "catalog.db", check=False)
    assert result.returncode == 1 and "not in the catalog" in result.stderr


def test_export_csv_has_one_row_per_photo_best_first(scenes, tmp_path):
    output = tmp_path / "photo_scores.csv"
    run_cli("export", "csv", scenes, "-o", output)
    rows = list(csv.DictReader(output.open()))
    assert len(rows) == len([p for p in scenes.iterdir() if p.is_file()])
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    scores = [float(r["technical_score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert {"sharpness", "blurry", "phash", "capture_time", "content_hash"} <= set(rows[0])


def test_help_has_examples():
    assert "Examples" in run_cli("scan", "--help").stdout
    assert "photocull top" in run_cli("top", "--help").stdout


def test_invalid_configuration_is_refused_with_the_setting_named(tmp_path):
    config = tmp_path / "photocull.toml"
    config.write_text("[technical]\nblurry_below = 7\n")
    result = run_cli("scan", tmp_path, "--config", config, check=False)
    assert result.returncode == 2 and "blurry_below" in result.stderr
    result = run_cli("config", env={"PHOTOCULL_SCAN__WORKERS": "-3"}, check=False)
    assert result.returncode == 2 and "workers" in result.stderr


def test_config_lists_settings_with_their_meaning():
    text = run_cli("config").stdout
    assert "scan.workers" in text and "technical.blurry_below" in text and "decompression" in text
