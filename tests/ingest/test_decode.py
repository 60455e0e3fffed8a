"""Decoding: every bad file handled, every format read, orientation applied, reduced-size decodes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from photocull.config import IngestSettings
from photocull.errors import UnreadableFile
from photocull.ingest.decode import decode

SETTINGS = IngestSettings()


def decode_file(path):
    return decode(path.read_bytes(), path, SETTINGS)


def similar(a: np.ndarray, b: np.ndarray, tolerance: float = 12.0) -> bool:
    """Same picture, up to compression noise (mean absolute difference in 8-bit levels)."""
    if a.shape != b.shape:
        return False
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) < tolerance


EXPECTED_UNREADABLE = {
    "empty.jpg": "empty file",
    "broken.png": "not a recognised image format",
    "broken_data_stream.png": "corrupt image data",
    "truncated_end_chunk.png": "truncated",
    "truncated_image.png": "truncated",
    "truncated_jpeg.jpg": "truncated",
    "decompression_bomb.gif": "decompression bomb",
    "decompression_bomb.ico": "decompression bomb",
}


def test_every_bad_file_is_decoded_or_refused_with_a_reason(corpus):
    bad = sorted(p for p in (corpus / "bad").rglob("*") if p.is_file())
    assert len(bad) >= 30
    for path in bad:
        expected = EXPECTED_UNREADABLE.get(path.name)
        if expected:
            with pytest.raises(UnreadableFile, match=expected):
                decode_file(path)
        else:
            photo = decode_file(path)
            assert photo.rgb.dtype == np.uint8 and photo.rgb.ndim == 3 and photo.rgb.shape[2] == 3, path


def test_raw_stubs_are_unreadable_with_a_reason(corpus):
    stubs = sorted((corpus / "raw" / "stubs").iterdir())
    assert stubs
    for path in stubs:
        with pytest.raises(UnreadableFile, match=r"RAW \(") as info:
            decode_file(path)
        assert path.suffix.lstrip(".").upper() in str(info.value)


def test_decodable_raw_files_decode(corpus):
    for path in sorted((corpus / "raw" / "good").iterdir()):
        photo = decode_file(path)
        assert photo.format.startswith("RAW")
        assert photo.width > 800 and photo.height > 500
        assert max(photo.rgb.shape[:2]) <= SETTINGS.working_size
        assert 5 < photo.rgb.mean() < 250, f"{path.name} decoded to a blank image"


def test_sixteen_bit_images_are_scaled_not_clipped(corpus):
    photo = decode_file(corpus / "bad" / "16bit.cropped.tif")
    assert photo.rgb.max() < 255 or photo.rgb.min() < 250, "16-bit values clipped to white"
    assert photo.rgb.std() > 5


def test_heic_and_avif_decode(corpus):
    heif = sorted(p for p in (corpus / "exif" / "heic").rglob("*") if p.suffix.lower() in (".heic", ".heif"))
    assert len(heif) >= 4
    for path in heif + [corpus / "bad" / "avif" / "hopper.avif", corpus / "bad" / "avif" / "exif.avif"]:
        photo = decode_file(path)
        assert photo.format in ("HEIF", "AVIF")
        assert photo.rgb.std() > 5


def test_iphone_heic_comes_out_portrait(corpus):
    # The container says "rotate 90°": the upright photo is taller than wide.
    photo = decode_file(corpus / "exif" / "heic" / "mobile" / "iphone_13_pro_max.HEIC")
    assert photo.height > photo.width and photo.rgb.shape[0] > photo.rgb.shape[1]


@pytest.mark.parametrize("stem", ["Landscape", "Portrait"])
def test_exif_orientation_makes_every_file_upright(corpus, stem):
    reference = decode_file(corpus / "orientation" / f"{stem}_1.jpg").rgb
    for n in range(0, 9):
        photo = decode_file(corpus / "orientation" / f"{stem}_{n}.jpg")
        assert similar(photo.rgb, reference), f"{stem}_{n}.jpg is not upright"


def test_hopper_orientations_match_the_upright_original(corpus):
    reference = decode_file(corpus / "bad" / "avif" / "hopper.avif").rgb
    for n in range(2, 9):
        for ext in ("jpg", "webp"):
            photo = decode_file(corpus / "orientation" / f"hopper_orientation_{n}.{ext}")
            assert similar(photo.rgb, reference, 20), f"hopper_orientation_{n}.{ext} is not upright"


def test_avif_container_rotation_and_mirror_are_applied(corpus):
    files = sorted((corpus / "bad" / "avif").glob("rot*mir*.avif"))
    assert len(files) == 8
    reference = decode_file(files[0]).rgb
    for path in files[1:]:
        assert similar(decode_file(path).rgb, reference), f"{path.name} differs after orientation"


def test_content_decides_the_format_not_the_extension(corpus):
    for name in ("ukbench09380.png", "ukbench09380.svg", "ukbench09380.bmp"):
        photo = decode_file(corpus / "dedup" / "formats_images" / name)
        assert photo.format == "JPEG"


def test_large_jpeg_is_decoded_at_reduced_size():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (3000, 4000, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    photo = decode(buffer.getvalue(), "big.jpg", SETTINGS)
    assert photo.decode_mode == "jpeg-dct-1/4"
    assert (photo.width, photo.height) == (4000, 3000)
    assert max(photo.rgb.shape[:2]) <= SETTINGS.working_size


def test_pixel_limit_refuses_oversized_images():
    buffer = io.BytesIO()
    Image.new("RGB", (2000, 1000)).save(buffer, "PNG")
    with pytest.raises(UnreadableFile, match="decompression bomb"):
        decode(buffer.getvalue(), "wide.png", IngestSettings(max_pixels=1_000_000))
