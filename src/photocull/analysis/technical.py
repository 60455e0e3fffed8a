"""Technical quality of one photo: sharpness and blur kind, exposure, noise, contrast, colour.

Everything is measured on the working copy (long edge about 1024 px), so blur
means blur visible at screen size, not at 100 % on the sensor. Formulas,
ranges and how the thresholds were chosen: docs/measurements.md.

Sharpness does not use a global variance of the Laplacian (which cannot tell
noise from detail and has no usable threshold). It measures how wide edges
are: in each 32 px tile and along four directions (0, 45, 90, 135 degrees),
the largest luma difference across 2 px is compared with the largest across
8-16 px. For an edge blurred by a Gaussian of width sigma that ratio is
erf(s / (sigma * sqrt 2)) / erf(8 s / (sigma * sqrt 2)) (s = 1 px, or sqrt 2 on
diagonals): independent of the edge's contrast, so it is inverted to sigma.
Only tiles whose 8-16 px contrast stands well above the noise of their
brightness count ("textured"); that noise is removed from the 2 px difference
first, so grain neither hides blur nor passes for detail. A tile that changes
evenly in every direction (a sky gradient, a vignette) is shading, not an edge.
When too few tiles have edges, a quarter-size copy is measured the same way, so
blur too wide for a tile is still seen while a flat or shaded frame gets no verdict.
Each tile's value is replaced by the median of its 3x3 neighbourhood (a
region about 100 px wide), and the photo's blur along a direction is the
sharpest 2 % of those regions: a sharp subject in front of a blurred
background makes a sharp photo, a stray sharp speck in a blurred one does not.
Motion blur smears along one direction only, so the four directional blurs
are fitted with an ellipse; its elongation tells motion from defocus.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from photocull.config import TechnicalSettings

ANALYSER = "technical"
VERSION = 1  # bump when values change meaning

# Steps (dx, dy) in array coordinates (y down) for 0, 45, 90 and 135 degrees as displayed
# (counter-clockwise from horizontal); a direction and its opposite are the same.
_DIRECTIONS = ((1, 0), (1, -1), (0, 1), (1, 1))
_LAGS = (1, 4, 8)  # half-distances of the differences, in steps along a direction
_TILE = 32  # px; 16 for photos under 256 px on the short side
_MIN_EDGE_CONTRAST = 12.0  # luma levels across 8-16 px, beyond what noise can make, for an edge to count
_NOISE_MAX_K = 4.0  # maximum of |noise difference| over a tile, in sds (about 3.3 expected; 4 errs safe)
_DIFF_NOISE_GAIN = 0.5  # sd of a 2 px difference of the 3x3-smoothed luma per unit pixel noise
_SMOOTH_VAR = 0.5  # variance (px^2) the 3x3 binomial pre-smoothing adds to every edge
_PIXEL_VAR = 1 / 12  # variance (px^2) of the pixel aperture: no edge is reported narrower
_ROUNDING_SD = 0.5  # levels: the least noise a difference of 8-bit values carries
_RAMP_RATIO = 1.75  # 16 px / 8 px difference from which a direction is a ramp (edge sigma >~ 7 px)
_WIDE_SCALE = 4  # the second look at photos with too few tile edges is at 1/4 size ...
_WIDE_MIN_SIGMA = 1.5  # ... and counts when it finds blur wider than this (its px), i.e. 6 px
_SHARPEST_PERCENT = 2.0  # percentile of regional blur that stands for the photo
_FLATTEST_PERCENT = 10.0  # percentile of tile noise estimates that sets a brightness band's noise
_ANISO_FLOOR = 0.25  # px^2 added before comparing directions, so pixel-sharp ones do not divide by ~0
_WIDTH_PER_SIGMA = 2.563  # 10-90 % rise distance of a Gaussian-blurred edge, in sigmas
_SHARP_WIDTH = 1.5  # px: an edge this narrow is as sharp as the pixel grid shows (sharpness 1)
_MAX_SIGMA = 12.0  # px: beyond this the 2 px / 16 px ratio no longer resolves blur
_CLIP_LOW, _CLIP_HIGH = 5, 250  # 8-bit luma at or beyond which a pixel counts as clipped
_MIDDLE_GREY = 0.18  # linear reflectance of a grey card: 0 EV
_NOISE_REF = 4.0  # 8-bit levels of noise that halve the noise term of the score
_SCORE_WEIGHTS = (0.6, 0.3, 0.1)  # sharpness, exposure, noise


@dataclass(frozen=True, slots=True)
class TechnicalQuality:
    sharpness: float  # 0..1, 1 = edges as narrow as the pixel grid shows
    blur_width_px: float | None  # 10-90 % edge width along the blurriest direction; None: no edges
    blur_kind: str | None  # "motion" | "defocus" when blurry, else None
    motion_angle_deg: float | None  # direction of the smear, 0 = horizontal, 90 = vertical
    blur_anisotropy: float  # 0 = same blur in every direction, 1 = blur along one direction only
    textured_fraction: float  # share of tiles with enough structure to measure blur
    noise_sigma: float  # typical sd of luma noise, 8-bit levels, at working size
    mean_luminance: float  # mean luma Y' (gamma-encoded), 0..1
    exposure_ev: float  # log2(mean linear luminance / 0.18)
    highlight_clipping: float  # share of pixels with luma >= 250
    shadow_clipping: float  # share of pixels with luma <= 5
    contrast: float  # RMS contrast: sd of luma Y', 0..0.5
    colourfulness: float  # Hasler & Suesstrunk M, 8-bit units
    blurry: bool
    badly_exposed: bool
    technical_score: float  # 0..100


def measure_technical(rgb: np.ndarray, settings: TechnicalSettings) -> TechnicalQuality:
    """rgb: HxWx3 uint8, already oriented, at the working size (long edge <= ~1024 px; small photos stay small)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 array, got {rgb.dtype} {rgb.shape}")
    rgb = np.ascontiguousarray(rgb)
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    exposure = _exposure(luma)
    blur, noise = _blur_and_noise(luma)
    if blur.textured_fraction < settings.min_textured_fraction:  # nothing, or blur too wide for a tile
        blur = _wide_blur(luma, settings.min_textured_fraction) or blur
    textured = blur.textured_fraction >= settings.min_textured_fraction
    sharpness = _sharpness(blur.sigma)
    blurry = textured and sharpness < settings.blurry_below
    motion = blurry and blur.anisotropy >= settings.motion_min_anisotropy
    mean, highlights, shadows = exposure.mean, exposure.highlights, exposure.shadows
    badly_exposed = (
        mean < settings.dark_below
        or mean > settings.bright_above
        or highlights > settings.max_highlight_clipping
        or shadows > settings.max_shadow_clipping
    )
    return TechnicalQuality(
        sharpness=round(sharpness, 4),
        blur_width_px=None if blur.sigma is None else round(_width(blur.sigma), 2),
        blur_kind=("motion" if motion else "defocus") if blurry else None,
        motion_angle_deg=round(blur.angle, 1) if motion else None,
        blur_anisotropy=round(blur.anisotropy, 3),
        textured_fraction=round(blur.textured_fraction, 4),
        noise_sigma=round(noise, 3),
        mean_luminance=round(mean, 4),
        exposure_ev=round(exposure.ev, 3),
        highlight_clipping=round(highlights, 4),
        shadow_clipping=round(shadows, 4),
        contrast=round(exposure.contrast, 4),
        colourfulness=round(_colourfulness(rgb), 2),
        blurry=blurry,
        badly_exposed=badly_exposed,
        technical_score=round(_score(sharpness, blur.textured_fraction, exposure, noise, settings), 2),
    )


# --- exposure -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Exposure:
    mean: float
    ev: float
    highlights: float
    shadows: float
    contrast: float


def _srgb_to_linear() -> np.ndarray:
    v = np.arange(256) / 255.0
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return np.maximum(linear, linear[1] / 2)  # a black frame stays finite (about -10 EV)


_LINEAR = _srgb_to_linear()
_LEVELS = np.arange(256) / 255.0


def _exposure(luma: np.ndarray) -> _Exposure:
    """Everything from one 256-bin histogram of luma: cheap and exact."""
    hist = cv2.calcHist([luma], [0], None, [256], [0, 256]).ravel().astype(np.float64)
    hist /= hist.sum()
    mean = float(hist @ _LEVELS)
    variance = float(hist @ _LEVELS**2) - mean**2
    return _Exposure(
        mean=mean,
        ev=math.log2(float(hist @ _LINEAR) / _MIDDLE_GREY),
        highlights=float(hist[_CLIP_HIGH:].sum()),
        shadows=float(hist[: _CLIP_LOW + 1].sum()),
        contrast=math.sqrt(max(variance, 0.0)),
    )


# --- noise ----------------------------------------------------------------------------------------

# Immerkaer (1996): a Laplacian difference that cancels planes and linear ramps, so on
# a smooth patch only noise is left; mean |response| * sqrt(pi/2) / 6 is the noise sd.
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
_IMMERKAER_SCALE = math.sqrt(math.pi / 2) / 6


def _immerkaer(luma: np.ndarray) -> np.ndarray:
    return np.abs(cv2.filter2D(luma, cv2.CV_16S, _IMMERKAER, borderType=cv2.BORDER_REFLECT))


def _noise_map(luma: np.ndarray, tile: int, ny: int, nx: int) -> np.ndarray:
    """Noise sd (8-bit levels) for each tile of the blur grid.

    Noise depends on brightness (shadows are usually noisier once gamma-encoded), so
    tiles are grouped in eight brightness bands and the flattest tenth of each band sets
    its level; texture still inflates a band that has no flat tile (fur, foliage, gravel).
    """
    margin = _LAGS[-1]
    window = (slice(margin, margin + ny * tile), slice(margin, margin + nx * tile))
    raw = _tile_mean(_immerkaer(luma)[window], tile, tile) * _IMMERKAER_SCALE
    band = np.minimum(_tile_mean(luma[window], tile, tile) // 32, 7).astype(np.intp)
    level = np.zeros(8)
    for b in np.unique(band):
        level[b] = np.percentile(raw[band == b], _FLATTEST_PERCENT)
    return level[band]


def _tile_mean(image: np.ndarray, th: int, tw: int) -> np.ndarray:
    h, w = image.shape
    rows = image.reshape(h // th, th, w).sum(axis=1, dtype=np.int64)
    return rows.reshape(h // th, w // tw, tw).sum(axis=2) / (th * tw)


# --- sharpness ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Blur:
    sigma: float | None  # Gaussian-equivalent blur along the blurriest direction, px
    anisotropy: float
    angle: float
    textured_fraction: float


def _blur_and_noise(luma: np.ndarray) -> tuple[_Blur, float]:
    """Blur and typical noise sd of a luma image, on its tile grid."""
    tile = _TILE if min(luma.shape) >= 256 else _TILE // 2
    ny, nx = ((n - 2 * _LAGS[-1]) // tile for n in luma.shape)
    if ny < 1 or nx < 1:  # smaller than one tile: no edges to measure
        return _Blur(None, 0.0, 0.0, 0.0), float(_immerkaer(luma).mean()) * _IMMERKAER_SCALE
    noise = _noise_map(luma, tile, ny, nx)
    return _blur(luma, noise, tile), float(np.median(noise))


def _wide_blur(luma: np.ndarray, min_textured_fraction: float) -> _Blur | None:
    """Blur too wide for the tiles (sigma over about 7 px), measured on a quarter-size copy.

    None when the copy has too few edges either, or shows no blur beyond its own
    resolution: then the photo is flat or shaded rather than blurred.
    """
    h, w = luma.shape
    small = cv2.resize(luma, (w // _WIDE_SCALE, h // _WIDE_SCALE), interpolation=cv2.INTER_AREA)
    blur, _ = _blur_and_noise(small)
    if blur.sigma is None or blur.sigma < _WIDE_MIN_SIGMA or blur.textured_fraction < min_textured_fraction:
        return None
    return replace(blur, sigma=blur.sigma * _WIDE_SCALE)


def _ratio_table(step: float) -> tuple[np.ndarray, np.ndarray]:
    """2 px / 16 px difference ratio of a Gaussian-blurred step edge, rising, with its sigmas."""
    sigmas = np.geomspace(0.05, _MAX_SIGMA, 256)[::-1]
    near, far = (lag * step / math.sqrt(2) for lag in (_LAGS[0], _LAGS[-1]))
    ratio = np.array([math.erf(near / s) / math.erf(far / s) for s in sigmas])
    return ratio, sigmas


_RATIO_TABLES = [_ratio_table(math.hypot(dx, dy)) for dx, dy in _DIRECTIONS]


def _blur(luma: np.ndarray, noise: np.ndarray, tile: int) -> _Blur:
    """Blur of the photo from the tiles of the grid that ``noise`` (sd per tile) covers."""
    margin = _LAGS[-1]
    ny, nx = noise.shape
    h, w = ny * tile, nx * tile
    smooth = cv2.GaussianBlur(luma, (3, 3), 0)  # halves pixel noise and JPEG ringing
    diffs = np.empty((len(_DIRECTIONS) * len(_LAGS), h, w), np.uint8)
    for i, ((dx, dy), k) in enumerate(itertools.product(_DIRECTIONS, _LAGS)):
        ahead = smooth[margin + k * dy : margin + k * dy + h, margin + k * dx : margin + k * dx + w]
        behind = smooth[margin - k * dy : margin - k * dy + h, margin - k * dx : margin - k * dx + w]
        cv2.absdiff(ahead, behind, dst=diffs[i])
    peaks = _tile_max(diffs, tile).astype(np.float32).reshape(len(_DIRECTIONS), len(_LAGS), ny, nx)
    noise_sd = noise * _DIFF_NOISE_GAIN
    fine = np.sqrt(np.maximum(peaks[:, 0] ** 2 - (_NOISE_MAX_K * noise_sd) ** 2, 0))
    coarse = peaks[:, 1:].max(axis=1)  # 8 px catches what 16 px misses on fine periodic texture
    # Along a ramp the 16 px difference is twice the 8 px one; across an edge it is less.
    # A tile that is a ramp in every direction with contrast is shading (or blur too wide for it),
    # not an edge. A ramp along one direction only stays: that is what motion blur looks like.
    # Noise (and 8-bit rounding) adds about the same to every maximum: it is taken off first.
    allowance = _NOISE_MAX_K * np.maximum(noise_sd, _ROUNDING_SD)
    strong = coarse - allowance >= _MIN_EDGE_CONTRAST
    ramp = peaks[:, 2] - allowance >= _RAMP_RATIO * (peaks[:, 1] - allowance)
    shading = np.all(~strong | ramp, axis=0)
    valid = strong & ~shading
    textured_fraction = float(valid.any(axis=0).mean())
    if not valid.any():
        return _Blur(None, 0.0, 0.0, textured_fraction)
    ratio = fine / np.maximum(coarse, 1.0)
    sigma = np.stack([np.interp(r, *table) for r, table in zip(ratio, _RATIO_TABLES)])
    per_direction = _sharpest_regions(np.where(valid, sigma, np.nan))
    variance = np.maximum(per_direction**2 - _SMOOTH_VAR, _PIXEL_VAR) + _ANISO_FLOOR
    mean = float(variance.mean())
    cos2, sin2 = (variance[0] - variance[2]) / 2, (variance[1] - variance[3]) / 2
    amplitude = math.hypot(cos2, sin2)
    return _Blur(
        sigma=math.sqrt(max(mean + amplitude - _ANISO_FLOOR, 0.0)),
        anisotropy=min(amplitude / mean, 1.0),
        angle=math.degrees(math.atan2(sin2, cos2)) / 2 % 180,
        textured_fraction=textured_fraction,
    )


def _tile_max(stack: np.ndarray, tile: int) -> np.ndarray:
    """Max of each tile x tile block of each plane of an (n, h, w) stack; rows first (fast in numpy)."""
    n, h, w = stack.shape
    rows = stack.reshape(n, h // tile, tile, w).max(axis=2)
    return rows.reshape(n, h // tile, w // tile, tile).max(axis=3)


def _sharpest_regions(sigma: np.ndarray) -> np.ndarray:
    """Per direction: the low percentile over tiles of the median of each 3x3 neighbourhood (NaN = no edge).

    A direction with no measurable region takes the sharpest other direction's value:
    no edges along it is no evidence of blur along it.
    """
    d, ny, nx = sigma.shape
    padded = np.pad(sigma, ((0, 0), (1, 1), (1, 1)), constant_values=np.nan)
    shifts = [padded[:, i : i + ny, j : j + nx] for i in range(3) for j in range(3)]
    neighbours = np.sort(np.stack(shifts), axis=0)  # NaN sorts last
    count = np.count_nonzero(~np.isnan(neighbours), axis=0)
    median = np.take_along_axis(neighbours, np.maximum(count - 1, 0)[None] // 2, axis=0)[0]
    median[count < 3] = np.nan
    result = np.full(d, np.nan)
    for j in range(d):
        values = median[j][~np.isnan(median[j])]
        if values.size == 0:  # too few textured tiles side by side: use single tiles
            values = sigma[j][~np.isnan(sigma[j])]
        if values.size:
            result[j] = np.percentile(values, _SHARPEST_PERCENT)
    return np.where(np.isnan(result), np.nanmin(result), result)


def _width(sigma: float) -> float:
    return _WIDTH_PER_SIGMA * sigma


def _sharpness(sigma: float | None) -> float:
    """Share of the pixel grid's linear resolution the photo reaches; 0 when it has no edges at all."""
    if sigma is None:
        return 0.0
    return min(1.0, _SHARP_WIDTH / max(_width(sigma), 1e-6))


# --- colour and score -----------------------------------------------------------------------------


def _colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) M on every second pixel: the statistics do not need more."""
    h, w = rgb.shape[:2]
    r, g, b = cv2.split(cv2.resize(rgb, (max(w // 2, 1), max(h // 2, 1)), interpolation=cv2.INTER_NEAREST))
    rg = cv2.subtract(r, g, dtype=cv2.CV_16S)
    yb2 = cv2.subtract(cv2.add(r, g, dtype=cv2.CV_16S), cv2.add(b, b, dtype=cv2.CV_16S))  # 2 (R+G)/2 - 2 B
    (rg_mean, rg_sd), (yb2_mean, yb2_sd) = (map(float, np.ravel(cv2.meanStdDev(c))) for c in (rg, yb2))
    return math.hypot(rg_sd, yb2_sd / 2) + 0.3 * math.hypot(rg_mean, yb2_mean / 2)


def _score(sharpness: float, textured_fraction: float, exposure: _Exposure, noise: float,
           settings: TechnicalSettings) -> float:
    """0..100: weighted mean of sharpness, exposure and noise terms (docs/measurements.md)."""
    needed = settings.min_textured_fraction
    confidence = min(1.0, textured_fraction / needed) if needed else 1.0
    sharp_term = confidence * sharpness + (1 - confidence) * 0.5
    ev_term = min(1.0, max(0.0, 1 - (abs(exposure.ev) - 1) / 3))
    clipping = max(exposure.highlights / max(settings.max_highlight_clipping, 1e-6),
                   exposure.shadows / max(settings.max_shadow_clipping, 1e-6))
    exposure_term = ev_term * (1 - 0.5 * min(clipping, 1.0))
    noise_term = 1 / (1 + noise / _NOISE_REF)
    w_sharp, w_exposure, w_noise = _SCORE_WEIGHTS
    return 100 * (w_sharp * sharp_term + w_exposure * exposure_term + w_noise * noise_term)
