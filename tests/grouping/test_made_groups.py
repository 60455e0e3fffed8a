"""Groups in photos made for the purpose from corpus photos: RAW+JPEG pairs, bursts with and without
seconds in their times, an exposure bracket, a panorama. Every file is written once, scanned once."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photocull.catalog.store import Catalog
from photocull.config import GroupingSettings, IngestSettings
from photocull.grouping.build import find_groups
from photocull.grouping.duplicates import raw_jpeg_links
from photocull.grouping.groups import GroupingInput, PhotoItem
from photocull.grouping.inputs import load_input, load_matches, save_matches
from photocull.grouping.moments import minute_precision
from photocull.ingest.decode import decode
from photocull.pipeline.scan import scan
from tests.grouping.test_corpus_groups import GROUPING_SCAN

START = datetime(2024, 5, 1, 10, 15, 0)
# Only time links: no near-duplicates by embedding, no copies by pHash, no verification.
TIME_ONLY = GroupingSettings(near_duplicate_cosine=1.0, copy_max_phash=0)


def save(path: Path, image: Image.Image, model: str, when: datetime | None, *, subsec: bool = True,
         bias: float | None = None) -> None:
    """A JPEG with the EXIF a camera writes: make, model, DateTimeOriginal (+ SubSecTimeOriginal), bias."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Test", model
    sub = exif.get_ifd(0x8769)
    if when is not None:
        sub[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")
        if subsec:
            sub[0x9291] = f"{when.microsecond // 1000:03d}"
    if bias is not None:
        sub[0x9204] = bias
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").save(path, "JPEG", quality=92, exif=exif)


def shifted(image: Image.Image, dx: int, dy: int, keep: float = 0.92) -> Image.Image:
    """The frame moved a little (a handheld burst): a crop of ``keep`` of the photo, at its full size."""
    w, h = image.size
    cw, ch = int(w * keep), int(h * keep)
    x, y = (w - cw) // 2 + dx, (h - ch) // 2 + dy
    return image.crop((x, y, x + cw, y + ch)).resize(image.size, Image.Resampling.LANCZOS)


@pytest.fixture(scope="module")
def made(corpus: Path, models_ready: Path, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("made")
    photo = lambda rel: Image.open(corpus / rel).convert("RGB")  # noqa: E731

    # RAW+JPEG: the camera's JPEG beside each RAW, the same picture; one without a time, one at the RAW's time.
    (root / "raw").mkdir()
    for raw in (corpus / "raw" / "good").iterdir():
        shutil.copy(raw, root / "raw" / raw.name)
        rgb = decode(raw.read_bytes(), raw.name, IngestSettings(working_size=1024)).rgb
        when = datetime(2021, 1, 11, 11, 18, 19) if raw.suffix == ".nef" else None
        save(root / "raw" / f"{raw.stem}.JPG", Image.fromarray(rgb), "RawCam", when, subsec=False)

    # A burst: five handheld frames 0.5 s apart; then an unrelated photo 0.5 s after the last.
    building = photo("scenes/building.jpg")
    for k, (dx, dy) in enumerate([(0, 0), (6, 2), (12, 3), (15, -4), (9, -8)]):
        save(root / "burst" / f"b{k}.jpg", shifted(building, dx, dy), "BurstCam", START + timedelta(seconds=0.5 * k))
    save(root / "burst" / "b5.jpg", photo("scenes/baboon.jpg"), "BurstCam", START + timedelta(seconds=2.5))

    # Two frames of one scene 30 s apart: one moment only by how alike they look.
    fruits = photo("scenes/fruits.jpg")
    save(root / "slow" / "s0.jpg", shifted(fruits, 0, 0), "SlowCam", START)
    save(root / "slow" / "s1.jpg", shifted(fruits, 8, 4), "SlowCam", START + timedelta(seconds=30))

    # Times without seconds: frames of one scene in two consecutive minutes, an unrelated photo in the second.
    home = photo("scenes/home.jpg")
    for k, minute in enumerate((0, 0, 1)):
        save(root / "minute" / f"m{k}.jpg", shifted(home, 5 * k, 2 * k), "MinuteCam",
             START + timedelta(minutes=minute), subsec=False)
    save(root / "minute" / "m3.jpg", photo("scenes/butterfly.jpg"), "MinuteCam", START + timedelta(minutes=1),
         subsec=False)

    # An exposure bracket (-2, 0, +2 EV, 1 s apart), then two ordinary frames of the same scene.
    board = np.asarray(photo("scenes/board.jpg"), np.float32)
    for k, (gain, bias) in enumerate([(0.3, -2.0), (1.0, 0.0), (2.2, 2.0)]):
        frame = Image.fromarray(np.clip(board * gain, 0, 255).astype(np.uint8))
        save(root / "bracket" / f"e{k}.jpg", frame, "BracketCam", START + timedelta(seconds=k), bias=bias)
    board_image = Image.fromarray(board.astype(np.uint8))
    for k in (3, 4):
        save(root / "bracket" / f"e{k}.jpg", shifted(board_image, 4 * k, 0, keep=0.7), "BracketCam",
             START + timedelta(seconds=k + 0.5 * (k - 3)), bias=0.0)

    # A panorama: four frames of a wide view, each a third of a frame to the right of the last, 1 s apart.
    wide = photo("orientation/Landscape_1.jpg")  # 1800 x 1200
    for k in range(4):
        save(root / "pano" / f"p{k}.jpg", wide.crop((300 * k, 0, 300 * k + 900, 1200)), "PanoCam",
             START + timedelta(seconds=k))

    # A mirrored copy (pHash 30+ bits away: found by matching features against the mirror image), and random
    # textures, which the network sees as one thing (cosine 0.97) though no two share a pixel: never grouped.
    messi = photo("scenes/messi5.jpg")
    save(root / "mirror" / "messi.jpg", messi, "MirrorCam", None)
    save(root / "mirror" / "messi_flipped.jpg", messi.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "MirrorCam", None)
    rng = np.random.default_rng(7)
    for k in range(6):
        save(root / "noise" / f"n{k}.jpg", Image.fromarray(rng.integers(0, 255, (480, 640, 3), np.uint8)),
             "NoiseCam", None)

    with Catalog(root / ".photocull" / "catalog.db") as catalog:
        scan([root], catalog, GROUPING_SCAN)
        data = load_input(catalog)
    return {"root": root, "data": data}


def groups_of(made: dict, settings: GroupingSettings, verify: bool = True) -> dict[frozenset[str], str]:
    """Each group as {relative paths} -> kind, printed with its links."""
    data: GroupingInput = made["data"]
    name = lambda i: Path(data.items[i].path).relative_to(made["root"]).as_posix()  # noqa: E731
    found = {}
    for group in find_groups(data, settings, verify=verify):
        print(group.kind, [name(m) for m in group.members])
        for link in group.links:
            print("   ", link.relation, name(link.a), name(link.b), link.detail)
        found[frozenset(name(m) for m in group.members)] = group.kind
    return found


def test_made_groups(made: dict) -> None:
    """Every group, exactly: nothing missing, nothing extra, each of the right kind."""
    found = groups_of(made, GroupingSettings())
    assert found == {
        frozenset({"raw/Blackmagic.dng", "raw/Blackmagic.JPG"}): "duplicates",
        frozenset({"raw/Nikon_uncompressed.nef", "raw/Nikon_uncompressed.JPG"}): "duplicates",
        frozenset(f"burst/b{k}.jpg" for k in range(5)): "moment",
        frozenset({"slow/s0.jpg", "slow/s1.jpg"}): "near_duplicates",
        frozenset(f"minute/m{k}.jpg" for k in range(3)): "moment",
        frozenset(f"bracket/e{k}.jpg" for k in range(3)): "bracket",
        frozenset({"bracket/e3.jpg", "bracket/e4.jpg"}): "moment",
        frozenset(f"pano/p{k}.jpg" for k in range(4)): "panorama",
        frozenset({"mirror/messi.jpg", "mirror/messi_flipped.jpg"}): "near_duplicates",
    }


def test_raw_jpeg_pairs_are_linked_as_such(made: dict) -> None:
    data: GroupingInput = made["data"]
    pairs = {frozenset(Path(data.items[i].path).name for i in (link.a, link.b)) for link in raw_jpeg_links(data.items)}
    assert pairs == {frozenset({"Blackmagic.dng", "Blackmagic.JPG"}),
                     frozenset({"Nikon_uncompressed.nef", "Nikon_uncompressed.JPG"})}


def test_raw_and_jpeg_of_one_name_but_hours_apart_are_not_a_pair() -> None:
    def item(path: str, fmt: str, when: float | None) -> PhotoItem:
        return PhotoItem(path, path, path, 1, fmt, 10, 10, None, when, None, None, None, None, None, None, None, None,
                         None, False)

    far = [item("/p/IMG_1.CR2", "RAW (CR2)", 1000.0), item("/p/IMG_1.JPG", "JPEG", 4600.0)]
    near = [item("/p/IMG_1.CR2", "RAW (CR2)", 1000.0), item("/p/IMG_1.JPG", "JPEG", 1000.4)]
    other_folder = [item("/p/IMG_1.CR2", "RAW (CR2)", 1000.0), item("/q/IMG_1.JPG", "JPEG", 1000.0)]
    assert not list(raw_jpeg_links(far)) and not list(raw_jpeg_links(other_folder))
    assert [link.relation for link in raw_jpeg_links(near)] == ["raw_jpeg"]


def test_time_links_alone(made: dict) -> None:
    """With embeddings' near-duplicates and pHash copies switched off and no verification, only capture times
    link: the burst and the minute-precision frames stay grouped, the frames 30 s apart do not."""
    found = groups_of(made, TIME_ONLY, verify=False)
    assert frozenset(f"burst/b{k}.jpg" for k in range(5)) in found
    assert frozenset(f"minute/m{k}.jpg" for k in range(3)) in found
    assert not any(name.startswith("slow/") for group in found for name in group)


def test_times_without_seconds_are_recognised(made: dict) -> None:
    data: GroupingInput = made["data"]
    coarse = minute_precision(data.items)
    by_folder = {}
    for item, flag in zip(data.items, coarse):
        by_folder.setdefault(Path(item.path).parent.name, set()).add(bool(flag))
    assert by_folder["minute"] == {True}
    assert by_folder["burst"] == by_folder["slow"] == by_folder["pano"] == {False}


def test_bracket_is_kept_whole(made: dict) -> None:
    data: GroupingInput = made["data"]
    biases = {Path(it.path).name: it.exposure_bias for it in data.items if "/bracket/" in it.path}
    assert biases == {"e0.jpg": -2.0, "e1.jpg": 0.0, "e2.jpg": 2.0, "e3.jpg": 0.0, "e4.jpg": 0.0}
    bracket = [g for g in find_groups(data, GroupingSettings()) if g.kind == "bracket"]
    assert len(bracket) == 1 and bracket[0].keep_all


def test_a_long_drifting_event_does_not_chain_into_one_group() -> None:
    """Twelve frames 2 s apart, each looking like the last (cosine 0.8) while the scene drifts away (0.6 two
    frames on, 0.4 three frames on): runs break when a frame no longer resembles its run's first
    (chain_cosine 0.55), so no group spans the event."""
    vectors = np.zeros((12, 1280), np.float32)
    for k in range(12):
        vectors[k, k:k + 5] = 1 / np.sqrt(5)  # a window of five axes sliding one axis a frame
    items = [PhotoItem(f"f{k:02d}.jpg", f"/e/f{k:02d}.jpg", f"h{k}", 1, "JPEG", 10, 10, None, 1000.0 + 2 * k, "Cam",
                       None, None, None, None, None, None, None, None, True) for k in range(12)]
    groups = find_groups(GroupingInput(items, vectors), GroupingSettings(), verify=False)
    assert [g.members for g in groups] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert all(g.kind == "moment" for g in groups)


def test_a_bracket_shot_raw_plus_jpeg_is_one_bracket() -> None:
    """Each frame twice (RAW and the camera's JPEG, same time): still one bracket of three frames, six files."""
    items, vectors = [], np.zeros((6, 1280), np.float32)
    for k, bias in enumerate((-2.0, 0.0, 2.0)):
        for j, (ext, fmt) in enumerate((("CR2", "RAW (CR2)"), ("JPG", "JPEG"))):
            items.append(PhotoItem(f"IMG_{k}.{ext}", f"/b/IMG_{k}.{ext}", f"h{k}{ext}", 1, fmt, 10, 10, None,
                                   1000.0 + k, "Cam", None, None, bias, None, None, None, None, None, True))
            vectors[2 * k + j, :3] = (1.0, 0.3 * k, 0.1 * j)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    groups = find_groups(GroupingInput(items, vectors), GroupingSettings(), verify=False)
    assert [(g.kind, g.members) for g in groups] == [("bracket", [0, 1, 2, 3, 4, 5])]


def test_verified_pairs_are_stored_and_reused(made: dict) -> None:
    """The cull runs after every scan: pairs verified once are kept by content and never decoded again."""
    data: GroupingInput = made["data"]
    settings = GroupingSettings()
    with Catalog(made["root"] / ".photocull" / "catalog.db") as catalog:
        matches = load_matches(catalog, settings)
        known = set(matches)
        first = find_groups(data, settings, matches=matches)
        assert save_matches(catalog, settings, matches, known) > 0
        stored = load_matches(catalog, settings)
    assert set(stored) == set(matches)
    assert {k: m.inliers for k, m in stored.items()} == {k: m.inliers for k, m in matches.items()}

    # The photos can no longer be read: only the stored outcomes can give the same verified groups
    # (compared as sets: paths break ties in the order of photos without a time).
    gone = GroupingInput([replace(item, path=str(made["root"] / "gone" / f"{i}.jpg"))
                          for i, item in enumerate(data.items)], data.vectors)
    second = find_groups(gone, settings, matches=stored)
    assert {(g.kind, frozenset(g.members)) for g in second} == {(g.kind, frozenset(g.members)) for g in first}
    assert set(stored) == set(matches)  # nothing new was matched
