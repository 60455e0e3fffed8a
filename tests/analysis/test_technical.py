"""Technical quality on real photos: blurred shots flagged, sharp ones not, and the measures
respond the right way to noise, blur, shallow depth of field, motion and exposure changes."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from photocull.analysis.technical import TechnicalQuality, measure_technical
from photocull.config import TechnicalSettings

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
SCENES = CORPUS / "scenes"
BLURRED = ("text_defocus.jpg", "text_motion.jpg", "licenseplate_motion.jpg")
SETTINGS = TechnicalSettings()
# Sharp photos with detail in their centre, for the synthetic variants.
SUBJECTS = ("butterfly.jpg", "leuvenA.jpg")


@pytest.fixture(scope="module")
def scenes() -> Path:
    if not SCENES.is_dir():
        pytest.skip(f"test corpus not found at {CORPUS} (it lives in ../shared/corpus beside the repo)")
    return SCENES


def load(path: Path) -> np.ndarray:
    image = Image.open(path).convert("RGB")
    if max(image.size) > 1024:
        image.thumbnail((1024, 1024), Image.Resampling.LANCZOS)
    return np.asarray(image)


def measure(rgb: np.ndarray) -> TechnicalQuality:
    return measure_technical(rgb, SETTINGS)


def angle_from_horizontal(degrees: float) -> float:
    return min(degrees % 180, 180 - degrees % 180)


@pytest.mark.parametrize("name", BLURRED)
def test_genuinely_blurred_shots_are_blurry(scenes: Path, name: str) -> None:
    quality = measure(load(scenes / name))
    assert quality.blurry, quality
    assert quality.blur_kind in ("motion", "defocus")


def test_sharp_scenes_are_not_blurry(scenes: Path) -> None:
    sharp = sorted(p for p in scenes.iterdir() if p.is_file() and p.name not in BLURRED)
    assert len(sharp) >= 10
    results = {p.name: measure(load(p)) for p in sharp}
    flagged = {name: q.sharpness for name, q in results.items() if q.blurry}
    assert not flagged, f"sharp photos flagged blurry (name: sharpness): {flagged}"


@pytest.mark.parametrize("name", SUBJECTS)
def test_noise_raises_the_noise_estimate_but_does_not_make_blur(scenes: Path, name: str) -> None:
    rgb = load(scenes / name)
    noisy = np.clip(rgb + np.random.default_rng(7).normal(0, 8, rgb.shape), 0, 255).astype(np.uint8)
    clean, grainy = measure(rgb), measure(noisy)
    assert not grainy.blurry, grainy
    # N(0, 8) per channel is about 5.3 levels of luma noise.
    assert grainy.noise_sigma > clean.noise_sigma + 2.5
    assert 4 < grainy.noise_sigma < 7


@pytest.mark.parametrize("name", SUBJECTS)
def test_gaussian_blur_lowers_sharpness_and_reads_as_defocus(scenes: Path, name: str) -> None:
    rgb = load(scenes / name)
    sharp, blurred = measure(rgb), measure(cv2.GaussianBlur(rgb, (0, 0), 3))
    assert blurred.sharpness < sharp.sharpness
    assert blurred.blurry and blurred.blur_kind == "defocus" and blurred.motion_angle_deg is None
    # sigma 3 px: a 10-90 % edge width of about 7.7 px.
    assert blurred.blur_width_px is not None and 5 < blurred.blur_width_px < 11


@pytest.mark.parametrize("name", SUBJECTS)
def test_sharp_subject_on_a_blurred_background_is_not_blurry(scenes: Path, name: str) -> None:
    rgb = load(scenes / name)
    h, w = rgb.shape[:2]
    shallow = cv2.GaussianBlur(rgb, (0, 0), 6)
    centre = (slice(int(h * 0.3), int(h * 0.7)), slice(int(w * 0.3), int(w * 0.7)))  # 16 % of the frame
    shallow[centre] = rgb[centre]
    assert not measure(shallow).blurry
    assert measure(cv2.GaussianBlur(rgb, (0, 0), 6)).blurry


@pytest.mark.parametrize("name", SUBJECTS)
def test_horizontal_motion_blur_is_motion_at_zero_degrees(scenes: Path, name: str) -> None:
    kernel = np.zeros((21, 21), np.float32)
    kernel[10, :] = 1 / 21
    quality = measure(cv2.filter2D(load(scenes / name), -1, kernel))
    assert quality.blurry and quality.blur_kind == "motion", quality
    assert quality.motion_angle_deg is not None and angle_from_horizontal(quality.motion_angle_deg) < 10


def test_vertical_motion_blur_is_motion_at_ninety_degrees(scenes: Path) -> None:
    kernel = np.zeros((21, 21), np.float32)
    kernel[:, 10] = 1 / 21
    quality = measure(cv2.filter2D(load(scenes / SUBJECTS[0]), -1, kernel))
    assert quality.blur_kind == "motion" and abs(quality.motion_angle_deg - 90) < 10


@pytest.mark.parametrize("name", SUBJECTS)
def test_under_and_over_exposure_are_flagged(scenes: Path, name: str) -> None:
    rgb = load(scenes / name)
    normal = measure(rgb)
    dark = measure((rgb * 0.15).astype(np.uint8))
    bright = measure(np.clip(rgb.astype(np.float32) * 3 + 120, 0, 255).astype(np.uint8))
    assert not normal.badly_exposed and abs(normal.exposure_ev) < 1.5
    assert dark.badly_exposed and dark.exposure_ev < -3 and dark.mean_luminance < SETTINGS.dark_below
    assert bright.badly_exposed and bright.exposure_ev > 1 and bright.highlight_clipping > 0.5
    assert dark.technical_score < normal.technical_score and bright.technical_score < normal.technical_score


@pytest.mark.parametrize(
    "rgb",
    [np.full((480, 640, 3), 128, np.uint8), np.zeros((300, 400, 3), np.uint8),
     np.full((768, 1024, 3), 255, np.uint8), np.full((20, 30, 3), 90, np.uint8)],
    ids=["grey", "black", "white", "tiny"],
)
def test_flat_frames_give_finite_values_and_no_blur_verdict(rgb: np.ndarray) -> None:
    quality = measure(rgb)
    for name, value in asdict(quality).items():
        assert value is None or isinstance(value, (str, bool, int, float)), name
        if isinstance(value, float):
            assert math.isfinite(value), name
    assert quality.textured_fraction == 0 and quality.sharpness == 0 and quality.blur_width_px is None
    assert not quality.blurry and quality.blur_kind is None
    assert quality.noise_sigma == 0 and quality.contrast == 0 and quality.colourfulness == 0
    assert 0 <= quality.technical_score <= 100


@pytest.mark.parametrize("noise", [0, 5])
def test_a_steep_sky_gradient_is_shading_not_blur(noise: int) -> None:
    ramp = np.linspace(10, 245, 480)[:, None, None] * np.array([0.7, 0.9, 1.0])  # blue sky, 0.5 levels/px
    sky = ramp * np.ones((1, 640, 1)) + np.random.default_rng(3).normal(0, noise, (480, 640, 3))
    quality = measure(np.clip(sky, 0, 255).astype(np.uint8))
    assert quality.textured_fraction < SETTINGS.min_textured_fraction
    assert not quality.blurry and quality.blur_kind is None


def test_flags_follow_the_settings(scenes: Path) -> None:
    rgb = load(scenes / "text_defocus.jpg")
    assert measure(rgb).blurry
    assert not measure_technical(rgb, TechnicalSettings(blurry_below=0.1)).blurry
    assert measure_technical(rgb, TechnicalSettings(bright_above=0.5)).badly_exposed


def test_colourfulness_separates_grey_from_colour(scenes: Path) -> None:
    colour = measure(load(scenes / "fruits.jpg")).colourfulness
    grey = measure(load(scenes / "basketball1.png")).colourfulness  # a greyscale file
    assert grey < 1 < 40 < colour
