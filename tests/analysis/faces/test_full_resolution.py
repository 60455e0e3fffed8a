"""Face sharpness and brightness on the full-resolution face region: the right direction, upright crops, no crash."""

from __future__ import annotations

import io
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import photocull.ingest.decode as decode_module
from photocull.analysis.faces.analyser import measure_faces, region_quality
from photocull.config import IngestSettings, Settings
from photocull.ingest.decode import (
    _TRANSPOSE,
    DecodedPhoto,
    _crop_upright,
    crop_full_resolution,
    decode,
)

SETTINGS = Settings()
INVERSE = {2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}  # the transpose that undoes each orientation's
BOXES = [(0.30, 0.15, 0.52, 0.55), (0.0, 0.7, 0.1, 1.0), (0.9, 0.0, 1.0, 0.05)]  # fractions of the upright photo


def _jpeg(rgb: np.ndarray, quality: int = 95, exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality, **({"exif": exif} if exif is not None else {}))
    return buffer.getvalue()


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _sharpness(data: bytes, boxes: list) -> tuple[list, list]:
    """Each box's sharpness on the full-resolution region and on the working copy's region."""
    photo = decode(data, "photo.jpg", SETTINGS.ingest)
    regions = photo.full_resolution_crops(boxes, SETTINGS.ingest)
    assert regions.fallback is None and regions.source == "full"
    full = [region_quality(crop)[0] for crop in regions.crops]
    working = [region_quality(crop)[0] for crop in _crop_upright(photo.rgb, boxes)]
    return full, working


@pytest.mark.parametrize("name", ["faces/groups/obama_and_biden.jpg", "faces/variants/obama-1080p.jpg"])
def test_blur_the_working_copy_hides_lowers_full_resolution_sharpness(corpus: Path, models_ready: Path,
                                                                      name: str) -> None:
    """A Gaussian blur of 1 px at full size is ~0.5 px in the working copy (half the size): the
    working copy barely changes, the full-resolution face region clearly does."""
    original = (corpus / name).read_bytes()
    photo = decode(original, corpus / name, SETTINGS.ingest)
    assert photo.decode_mode == "jpeg-dct-1/2"  # the working copy is half the size
    face = measure_faces(photo, SETTINGS).faces[0]
    box = [(face.x0, face.y0, face.x1, face.y1)]
    blurred = _jpeg(cv2.GaussianBlur(_rgb(corpus / name), (0, 0), 1.0))
    (sharp_full,), (sharp_working,) = _sharpness(original, box)
    (blur_full,), (blur_working,) = _sharpness(blurred, box)
    print(f"{name}: full resolution {sharp_full} -> {blur_full}, working copy {sharp_working} -> {blur_working}")
    assert face.sharpness == sharp_full  # the analyser measures the full-resolution region
    assert sharp_full - blur_full >= 0.1, "blur at full resolution must lower the face's sharpness clearly"
    assert sharp_working - blur_working < 0.5 * (sharp_full - blur_full), "the working copy should hide most of it"
    # The analyser, end to end, sees the blurred face as less sharp too.
    blurred_faces = measure_faces(decode(blurred, "blurred.jpg", SETTINGS.ingest), SETTINGS).faces
    assert blurred_faces and blurred_faces[0].sharpness <= sharp_full - 0.1


def _with_orientation(upright: np.ndarray, orientation: int, fmt: str) -> bytes:
    """The bytes of a file that shows ``upright`` once its EXIF orientation is applied."""
    image = Image.fromarray(upright)
    if orientation in INVERSE:
        image = image.transpose(_TRANSPOSE[INVERSE[orientation]])
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, fmt, exif=exif, **({"quality": 95} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def test_crops_are_upright_for_every_orientation(corpus: Path) -> None:
    upright = _rgb(corpus / "faces" / "groups" / "two_people.jpg")[:600, :1000]  # not square: axes matter
    working = np.zeros((60, 100, 3), np.uint8)
    reference = crop_full_resolution(_with_orientation(upright, 1, "PNG"), "a.png", BOXES, SETTINGS.ingest,
                                     working)
    assert reference.source == "full" and reference.fallback is None
    assert np.array_equal(reference.crops[0], upright[90:330, 300:520])
    for orientation in range(2, 9):
        data = _with_orientation(upright, orientation, "PNG")
        regions = crop_full_resolution(data, f"o{orientation}.png", BOXES, SETTINGS.ingest, working)
        assert regions.fallback is None, regions.fallback
        for crop, expected in zip(regions.crops, reference.crops):
            assert np.array_equal(crop, expected), f"orientation {orientation}: the crop is not upright"


def test_rotated_jpeg_gives_the_same_crop_as_the_upright_one(corpus: Path, tmp_path: Path) -> None:
    """An EXIF-rotated copy (orientation 6, as cameras held upright write) through decode and the analyser's path."""
    upright = _rgb(corpus / "faces" / "groups" / "obama_and_biden.jpg")
    crops = []
    for orientation in (1, 6, 8):
        path = tmp_path / f"rotated_{orientation}.jpg"
        path.write_bytes(_with_orientation(upright, orientation, "JPEG"))
        photo = decode(path.read_bytes(), path, SETTINGS.ingest)
        assert (photo.width, photo.height) == (upright.shape[1], upright.shape[0])
        regions = photo.full_resolution_crops(BOXES, SETTINGS.ingest)
        assert regions.source == "full" and regions.fallback is None
        assert regions.crops[0].shape == (786 - 214, 1040 - 600, 3)  # rows 0.15-0.55 of 1428, columns 0.3-0.52 of 2000
        crops.append(regions.crops[0].astype(np.int16))
    for other in crops[1:]:
        assert np.abs(other - crops[0]).mean() < 3  # the same pixels, up to JPEG re-encoding


def test_full_resolution_is_not_decoded_again_when_the_working_copy_is_full_size(corpus: Path,
                                                                                 monkeypatch) -> None:
    monkeypatch.setattr(decode_module, "crop_full_resolution", _must_not_run)
    small = corpus / "faces" / "groups" / "kit_with_rose.jpg"  # 501 x 700: the working copy is the photo
    photo = decode(small.read_bytes(), small, SETTINGS.ingest)
    regions = photo.full_resolution_crops(BOXES, SETTINGS.ingest)
    assert regions.source == "working-copy" and regions.fallback is None
    png = corpus / "faces" / "variants" / "32bit.png"  # decoded whole, then reduced: cropped again, not decoded
    photo = decode(png.read_bytes(), png, SETTINGS.ingest)
    assert photo.rgb.shape[0] < photo.height
    regions = photo.full_resolution_crops(BOXES, SETTINGS.ingest)
    assert regions.source == "full" and regions.crops[0].shape[0] == _span(0.15, 0.55, photo.height)


def _span(start: float, end: float, pixels: int) -> int:
    """How many pixels a box from ``start`` to ``end`` (fractions) covers, rounded outwards."""
    return math.ceil(end * pixels) - math.floor(start * pixels)


def _must_not_run(*args, **kwargs):
    raise AssertionError("decoded again")


def test_photos_without_faces_pay_nothing(corpus: Path, models_ready: Path, monkeypatch) -> None:
    monkeypatch.setattr(decode_module, "crop_full_resolution", _must_not_run)
    scene = corpus / "scenes" / "building.jpg"
    assert measure_faces(decode(scene.read_bytes(), scene, SETTINGS.ingest), SETTINGS).face_count == 0


def test_raw_files_are_cropped_from_a_demosaic(corpus: Path) -> None:
    path = corpus / "raw" / "good" / "Blackmagic.dng"  # no embedded preview
    photo = decode(path.read_bytes(), path, SETTINGS.ingest)
    regions = photo.full_resolution_crops(BOXES[:1], SETTINGS.ingest)
    assert regions.source == "raw-demosaic" and regions.fallback is None
    crop = regions.crops[0]
    assert crop.shape[:2] == (_span(0.15, 0.55, photo.height), _span(0.30, 0.52, photo.width))
    working = _crop_upright(photo.rgb, BOXES[:1])[0]
    reduced = cv2.resize(crop, working.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert np.abs(reduced.astype(np.int16) - working).mean() < 12  # the same region of the same picture


def test_odd_and_corrupt_input_falls_back_to_the_working_copy(corpus: Path) -> None:
    working = np.full((100, 150, 3), 128, np.uint8)
    big = _jpeg(np.full((2000, 3000, 3), 90, np.uint8))
    cases = {
        "not an image": (b"this is not a photo", "x.jpg", SETTINGS.ingest),
        "no bytes": (b"", "x.jpg", SETTINGS.ingest),
        "truncated": (big[: len(big) // 2], "x.jpg", SETTINGS.ingest),
        "decompression bomb": (big, "x.jpg", IngestSettings(max_pixels=1_000_000)),
        "RAW stub": ((corpus / "raw" / "stubs" / "Nikon.nef").read_bytes(), "x.nef", SETTINGS.ingest),
        "bomb GIF": ((corpus / "bad" / "decompression_bomb.gif").read_bytes(), "x.gif", SETTINGS.ingest),
    }
    for what, (data, name, settings) in cases.items():
        regions = crop_full_resolution(data, name, BOXES, settings, working)
        assert regions.source == "working-copy" and regions.fallback, what
        assert [c.shape for c in regions.crops] == [(40, 33, 3), (30, 15, 3), (5, 15, 3)], what
    assert "decompression bomb" in crop_full_resolution(big, "x.jpg", BOXES, IngestSettings(max_pixels=1_000_000),
                                                        working).fallback
    # Degenerate boxes still give one pixel at least, inside the photo.
    regions = crop_full_resolution(big, "x.jpg", [(0.5, 0.5, 0.5, 0.5), (1.0, 1.0, 1.2, 1.3), (-0.1, 0, 0, 0)],
                                   SETTINGS.ingest, working)
    assert regions.fallback is None and all(c.shape[:2] >= (1, 1) for c in regions.crops)


def test_a_photo_built_without_its_bytes_is_measured_on_the_working_copy(corpus: Path, models_ready: Path) -> None:
    path = corpus / "faces" / "groups" / "two_people.jpg"
    rgb = decode(path.read_bytes(), path, SETTINGS.ingest).rgb
    photo = DecodedPhoto(rgb, rgb.shape[1] * 4, rgb.shape[0] * 4, "JPEG", "test", None)  # no source bytes
    regions = photo.full_resolution_crops(BOXES, SETTINGS.ingest)
    assert regions.source == "working-copy" and "no file bytes" in regions.fallback
    faces = measure_faces(photo, SETTINGS).faces
    assert len(faces) == 2 and all(f.sharpness is not None for f in faces)


def test_region_quality_of_large_and_tiny_regions() -> None:
    rng = np.random.default_rng(1)
    large = cv2.resize(rng.integers(0, 256, (300, 450, 3), dtype=np.uint8), (4501, 3001),
                       interpolation=cv2.INTER_NEAREST)  # hard edges every 10 px
    sharpness, brightness = region_quality(large)  # halved twice, to 1125 x 750, before measuring
    assert sharpness is not None and sharpness > 0.5
    assert brightness == pytest.approx(float((large.reshape(-1, 3).mean(axis=0) @ [0.299, 0.587, 0.114]) / 255),
                                       abs=1e-4)
    assert region_quality(large[:47, :200])[0] is None  # under 48 px: too few edge tiles
    assert region_quality(large[:1, :3000])[0] is None  # degenerate, and no crash
