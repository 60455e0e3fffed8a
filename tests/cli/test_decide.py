"""``photocull decide`` as a user meets it: files and folders, unknown files, what changed, --json, --clear."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import PIXEL_ANALYSERS, run_cli, scan_json


@pytest.fixture
def shoot(corpus: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "shoot"
    (folder / "day2").mkdir(parents=True)
    for name in ("leuvenA.jpg", "baboon.jpg"):
        shutil.copy2(corpus / "scenes" / name, folder / name)
    shutil.copy2(corpus / "scenes" / "fruits.jpg", folder / "day2" / "fruits.jpg")
    scan_json(folder, "--analyzers", PIXEL_ANALYSERS)
    return folder


def test_decide_files_and_folders(shoot: Path) -> None:
    result = run_cli("decide", shoot / "leuvenA.jpg", "--keep", "--rating", "4", "--label", "Green")
    assert "leuvenA.jpg: keep 4★ green by user" in result.stdout and "1 of 1 files changed" in result.stderr
    rows = json.loads(run_cli("decide", shoot / "day2", "--reject", "--json").stdout)
    assert [Path(r["path"]).name for r in rows] == ["fruits.jpg"]
    assert rows[0]["after"] == {"flag": "reject", "rating": rows[0]["after"]["rating"], "label": None, "by": "user"}
    shown = json.loads(run_cli("decide", shoot, "--json").stdout)  # no option: the decisions are shown
    assert {Path(r["path"]).name: r["after"]["flag"] for r in shown}["leuvenA.jpg"] == "keep"
    assert len(shown) == 3 and not any(r["changed"] for r in shown)


def test_label_none_and_clear(shoot: Path) -> None:
    run_cli("decide", shoot / "leuvenA.jpg", "--rating", "2", "--label", "red")
    after = json.loads(run_cli("decide", shoot / "leuvenA.jpg", "--label", "none", "--json").stdout)[0]["after"]
    assert (after["rating"], after["label"]) == (2, None)
    cleared = json.loads(run_cli("decide", shoot / "leuvenA.jpg", "--clear", "--json").stdout)[0]["after"]
    assert cleared["by"] != "user"


def test_unknown_files_get_one_message_each(shoot: Path) -> None:
    (shoot / "notes.txt").write_text("x")
    result = run_cli("decide", shoot / "leuvenA.jpg", shoot / "missing.jpg", shoot / "notes.txt", "--keep")
    assert result.stderr.count("not in the catalog") == 2 and "1 of 1 files changed" in result.stderr
    alone = run_cli("decide", shoot / "missing.jpg", "--keep", check=False)
    assert alone.returncode == 1 and "not in the catalog" in alone.stderr


def test_bad_options_are_refused(shoot: Path) -> None:
    assert run_cli("decide", shoot, "--keep", "--reject", check=False).returncode == 1
    assert "--label takes one of" in run_cli("decide", shoot, "--label", "orange", check=False).stderr
    assert run_cli("decide", shoot, "--rating", "7", check=False).returncode == 2


def test_export_xmp_and_read_back_from_the_command_line(shoot: Path) -> None:
    run_cli("decide", shoot / "baboon.jpg", "--reject")
    assert "wrote" in run_cli("export", "xmp", shoot, "--style", "full").stderr
    assert (shoot / "baboon.jpg.xmp").is_file() and not (shoot / "baboon.xmp").exists()
    sidecar = (shoot / "baboon.jpg.xmp").read_text()
    (shoot / "baboon.jpg.xmp").write_text(sidecar.replace('xmp:Rating="-1"', 'xmp:Rating="3"')
                                          .replace('digiKam:PickLabel="1"', 'digiKam:PickLabel="3"'))
    imported = json.loads(run_cli("decide", "--from-xmp", shoot, "--json").stdout)
    assert [(Path(r["path"]).name, r.get("flag"), r.get("rating")) for r in imported] == [("baboon.jpg", "keep", 3)]
