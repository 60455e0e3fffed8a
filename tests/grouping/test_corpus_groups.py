"""Groups found in the real corpus, checked member by member: precision 1.0 and recall 1.0.

Each case scans corpus folders (read in place) into a temporary catalog once, with
the analysers grouping reads (technical, fingerprints, embedding), and compares
every group found with the ground truth of the corpus README.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from photocull.catalog.store import Catalog
from photocull.config import GroupingSettings, Settings
from photocull.grouping.build import find_groups
from photocull.grouping.inputs import load_input
from photocull.pipeline.scan import scan

GROUPING_SCAN = Settings(scan={"analysers": ("technical", "fingerprints", "embedding")})


def grouped(corpus: Path, tmp_path_factory, *folders: str, verify: bool = True) -> set[frozenset[str]]:
    """Scan ``folders`` of the corpus and group them: each group as a set of corpus-relative paths (printed)."""
    tmp = tmp_path_factory.mktemp("grouping")
    with Catalog(tmp / "catalog.db") as catalog:
        scan([corpus / f for f in folders], catalog, GROUPING_SCAN)
        data = load_input(catalog)
    groups = find_groups(data, GroupingSettings(), verify=verify)
    found = set()
    for group in groups:
        names = [Path(data.items[m].path).relative_to(corpus.resolve()).as_posix() for m in group.members]
        print(group.kind, names)
        for link in group.links:
            print("   ", link.relation, Path(data.items[link.a].path).name, Path(data.items[link.b].path).name,
                  link.detail)
        found.add(frozenset(names))
    return found


@pytest.fixture(scope="module")
def dedup(corpus: Path, models_ready: Path, tmp_path_factory) -> set[frozenset[str]]:
    return grouped(corpus, tmp_path_factory, "dedup")


def test_dedup_corpus(dedup: set[frozenset[str]]) -> None:
    """imagededup's test set. The README says every mixed_images file derives from ukbench00120; in fact
    mixed_images also holds ``ukbench09268.jpg`` (byte-identical to base_images/ukbench09268.jpg) and
    ``ukbench09268_corrupt.jpg`` (unreadable). So: every ukbench00120 file of mixed_images and
    mixed_nested_images, plus dedup/ukbench00120_gray.jpg and dedup/alpha_channel_image.png (the same photo,
    grey and with an alpha channel), is in ukbench00120's group; the ukbench09268 copies are their own
    exact-duplicate group; the corrupt files are in no group; ukbench09380 and its other formats
    (formats_images) are one group; no two different base_images are ever in one group."""
    ukbench00120 = {
        "dedup/base_images/ukbench00120.jpg", "dedup/alpha_channel_image.png", "dedup/ukbench00120_gray.jpg",
        "dedup/mixed_images/ukbench00120.jpg", "dedup/mixed_images/ukbench00120_hflip.jpg",
        "dedup/mixed_images/ukbench00120_resize.jpg", "dedup/mixed_images/ukbench00120_rotation.jpg",
        "dedup/mixed_nested_images/lvl1/ukbench00120.jpg", "dedup/mixed_nested_images/ukbench00120_hflip.jpg",
        "dedup/mixed_nested_images/lvl1/lvl2a/ukbench00120_rotation.jpg",
        "dedup/mixed_nested_images/lvl1/lvl2b/ukbench00120_resize.jpg",
    }
    ukbench09268 = {"dedup/base_images/ukbench09268.jpg", "dedup/mixed_images/ukbench09268.jpg",
                    "dedup/mixed_nested_images/lvl1/lvl2b/ukbench09268.jpg"}
    ukbench09380 = {"dedup/base_images/ukbench09380.jpg", "dedup/formats_images/ukbench09380.bmp",
                    "dedup/formats_images/ukbench09380.jpeg", "dedup/formats_images/ukbench09380.png",
                    "dedup/formats_images/ukbench09380.webp"}
    assert dedup == {frozenset(ukbench00120), frozenset(ukbench09268), frozenset(ukbench09380)}
    for group in dedup:
        assert len({name for name in group if name.startswith("dedup/base_images/")}) <= 1


def test_face_variants(corpus: Path, models_ready: Path, tmp_path_factory) -> None:
    """faces/variants: obama-240p..1080p are letterboxed copies of faces/people/obama/obama.jpg,
    obama_partial_face*.jpg and obama_small.jpg crops of it; 32bit.png is an RGBA copy of obama2.jpg,
    another photo. Scanned with faces/people (five people, several photos each), exactly these two groups."""
    found = grouped(corpus, tmp_path_factory, "faces/variants", "faces/people")
    obama = {"faces/people/obama/obama.jpg"} | {f"faces/variants/obama-{p}.jpg" for p in ("240p", "480p", "720p",
                                                                                         "1080p")} | {
        "faces/variants/obama_partial_face.jpg", "faces/variants/obama_partial_face2.jpg",
        "faces/variants/obama_small.jpg"}
    assert found == {frozenset(obama), frozenset({"faces/people/obama/obama2.jpg", "faces/variants/32bit.png"})}


def test_scene_pairs(corpus: Path, models_ready: Path, tmp_path_factory) -> None:
    """scenes: leuvenA/B (exposure change), basketball1/2 and rubberwhale1/2 (consecutive frames),
    ela_original/modified (an edited copy) and graf1/3 (another viewpoint) are one moment each;
    the other photos (baboon, board, building ...) are in no group. None of them has a capture time
    that links it, so all of this comes from embeddings and verification."""
    found = grouped(corpus, tmp_path_factory, "scenes")
    pairs = [("leuvenA.jpg", "leuvenB.jpg"), ("basketball1.png", "basketball2.png"),
             ("rubberwhale1.png", "rubberwhale2.png"), ("ela_original.jpg", "ela_modified.jpg"),
             ("graf1.png", "graf3.png")]
    assert found == {frozenset(f"scenes/{name}" for name in pair) for pair in pairs}
