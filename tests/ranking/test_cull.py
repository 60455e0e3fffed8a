"""The cull on a real scanned library: groups stored with picks and reasons, automatic decisions, and the
user's decisions kept through a re-run of the cull and of the scan; top one per group; the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from photocull.config import Settings
from photocull.ranking.cull import RATING_BANDS, cull, rating_for, top_photos
from tests.helpers import run_cli
from tests.ranking.conftest import ANALYSERS, catalog_of


@pytest.fixture(scope="module")
def culled(library, tmp_path_factory) -> Path:
    """A copy of the scanned library (with its catalog), culled once."""
    root = tmp_path_factory.mktemp("culled") / "library"
    shutil.copytree(library, root)
    with catalog_of(root) as catalog:
        cull(catalog, Settings())
    return root


def test_groups_are_stored_with_picks_and_reasons(culled) -> None:
    with catalog_of(culled) as catalog:
        groups = catalog.groups.all()
        burst = catalog.groups.of(culled / "burst" / "frame_2.jpg")
    assert groups and [g.id for g in groups] == list(range(1, len(groups) + 1))
    assert [len(g.members) for g in groups] == sorted((len(g.members) for g in groups), reverse=True)
    for group in groups:
        assert group.reason and all(m.reason for m in group.members)
        assert [m.rank for m in group.members] == list(range(1, len(group.members) + 1))
        assert group.keep_all or group.pick == group.members[0].path
    assert burst is not None and burst.pick.endswith("burst/frame_1.jpg") and "sharper" in burst.reason


def test_automatic_decisions(culled) -> None:
    with catalog_of(culled) as catalog:
        groups = catalog.groups.all()
        decisions = {d.path: d for d in catalog.decisions.all()}
        photos = catalog.photos()
    assert len(decisions) == len(photos)  # every photo decided
    assert not any(d.by_user for d in decisions.values())
    for group in groups:
        for member in group.members:
            expected = "keep" if group.keep_all or member.rank == 1 else "reject"
            assert decisions[member.path].auto_flag == expected
    grouped = {m.path for g in groups for m in g.members}
    for photo in photos:
        if photo["path"] not in grouped:
            hard = bool(photo["blurry"] and photo["badly_exposed"])
            assert decisions[photo["path"]].flag == ("reject" if hard else "keep")
    assert all(1 <= d.rating <= 5 for d in decisions.values())
    assert [rating_for(low) for low, _ in RATING_BANDS] == [5, 4, 3, 2, 1] and rating_for(0.99, True) == 1


def test_a_rerun_keeps_user_decisions(culled) -> None:
    pick = culled / "burst" / "frame_1.jpg"
    loser = culled / "burst" / "frame_2.jpg"
    other = culled / "scenes" / "baboon.jpg"
    with catalog_of(culled) as catalog:
        catalog.decisions.set_user(pick, flag="reject")
        catalog.decisions.set_user(loser, flag="keep", rating=5, label="red")
        catalog.decisions.set_user(other, rating=2)
        report = cull(catalog, Settings(), weights="aesthetic=1,technical=0,faces=0")  # different weights
        assert report.user_decisions == 3 and report.user_overrides == 2
        assert catalog.decisions.get(pick).flag == "reject" and catalog.decisions.get(pick).auto_flag == "keep"
        kept = catalog.decisions.get(loser)
        assert (kept.flag, kept.rating, kept.label, kept.auto_flag) == ("keep", 5, "red", "reject")
        assert catalog.decisions.get(other).rating == 2
    # a new photo arrives: the scan runs the cull again at its end
    shutil.copy(culled / "scenes" / "home.jpg", culled / "home_copy.jpg")
    result = json.loads(run_cli("scan", culled, "--analyzers", ",".join(ANALYSERS), "--json").stdout)
    assert result["cull"] is not None and result["cull"]["user_decisions"] == 3
    with catalog_of(culled) as catalog:
        assert catalog.decisions.get(pick).flag == "reject"
        assert catalog.decisions.get(loser).rating == 5 and catalog.decisions.get(loser).label == "red"
        assert catalog.decisions.get(other).rating == 2
        group = catalog.groups.of(culled / "home_copy.jpg")
        assert group is not None and group.kind == "duplicates"  # the exact copy joined its original
    skipped = json.loads(run_cli("scan", culled, "--analyzers", ",".join(ANALYSERS), "--json").stdout)
    assert skipped["cull"] is None  # nothing changed: no cull


def test_top_is_one_per_group_by_default(culled) -> None:
    with catalog_of(culled) as catalog:
        rows = top_photos(catalog, Settings(), n=1000)
        every = top_photos(catalog, Settings(), n=1000, one_per_group=False)
        groups = catalog.groups.all()
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert len(every) == len(rows) + sum(len(g.members) - 1 for g in groups)
    grouped = [r["group"] for r in rows if r["group"] is not None]
    assert len(grouped) == len(set(grouped)) == len(groups)
    assert set(rows[0]["score_terms"]) == {"technical", "aesthetic", "faces"}


def test_cli_cull_groups_and_top(culled) -> None:
    report = json.loads(run_cli("cull", culled, "--json", "--weight", "technical=0.6").stdout)
    assert report["weights_source"] == "command line" and report["keep"] + report["reject"] == report["photos"]
    text = run_cli("cull", culled).stdout
    assert "to keep" in text and "to reject" in text
    table = run_cli("groups", culled, "--kind", "duplicates").stdout
    assert "duplicates" in table and "copy of the pick" in table
    listed = json.loads(run_cli("groups", culled, "--json", "-n", "1").stdout)
    assert len(listed) == 1 and listed[0]["members"][0]["rank"] == 1
    assert run_cli("top", culled, "--weight", "bogus=1", check=False).returncode == 1
    assert "Best 3 photos" in run_cli("top", culled, "-n", "3").stdout


def test_groups_says_to_cull_first(library, tmp_path) -> None:
    fresh = tmp_path / "fresh"
    shutil.copytree(library / "burst", fresh)
    run_cli("scan", fresh, "--analyzers", "technical,fingerprints", "--no-cull")
    result = run_cli("groups", fresh, check=False)
    assert result.returncode == 1 and "photocull cull" in result.stderr
