"""Decode a photo once, at the working size every analyser reads, upright.

Decoding dominates a CPU pipeline, so the decoder never does more than the
working copy needs: JPEGs are DCT-scaled while decoding (Pillow's draft mode,
1/2 to 1/8 of full size), RAW files use their embedded preview when it is large
enough and a half-size demosaic otherwise. Orientation (EXIF, and the HEIF/AVIF
``irot``/``imir`` properties, which Pillow and pillow-heif expose the same way)
is applied to the small copy, which is cheap. Every failure becomes an
:class:`UnreadableFile` with a reason a person can act on.

Some measures need the full resolution of a small part of the photo (the faces'
sharpness): :func:`crop_full_resolution` decodes the photo a second time at full
size, only when asked, and cuts the regions out before orientation is applied, so
the full image is never transposed. It never raises: when the full-resolution
decode fails, the working copy's regions stand in and the result says why.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from photocull.config import IngestSettings
from photocull.errors import UnreadableFile
from photocull.ingest.formats import is_raw_name

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# LibRaw's "flip" expressed as an EXIF orientation.
_LIBRAW_FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}
# A point (u, v) of the upright photo, as fractions of its width and height, in the
# stored image: the inverse of each orientation's transpose.
_UPRIGHT_TO_STORED = {
    1: lambda u, v: (u, v),
    2: lambda u, v: (1 - u, v),
    3: lambda u, v: (1 - u, 1 - v),
    4: lambda u, v: (u, 1 - v),
    5: lambda u, v: (v, u),
    6: lambda u, v: (v, 1 - u),
    7: lambda u, v: (1 - v, 1 - u),
    8: lambda u, v: (1 - v, u),
}
# Pillow modes deeper than 8 bits: _to_rgb scales them by their brightest value,
# so they are converted whole, never region by region.
_DEEP_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")
# JPEGs above this many pixels are read at the finest DCT scale that fits (1/2,
# 1/4 ...) when regions are cut at full resolution: every camera up to 100 MP is
# read at full size, and a huge panorama's second decode stays within ~300 MB.
_FULL_MAX_PIXELS = 100_000_000
# A RAW's embedded preview stands for its full resolution when its long edge is
# at least this share of the sensor image's (full-size previews often lose a few
# border pixels); below that, LibRaw demosaics the sensor data.
_RAW_PREVIEW_MIN_SHARE = 0.9

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the upright photo's width and height

_registered = False


def register_codecs() -> None:
    """Make Pillow read HEIF/HEIC (pillow-heif); AVIF is built into Pillow >= 11.3."""
    global _registered
    if not _registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", module="PIL")  # broken EXIF is reported as None fields
        _registered = True


@dataclass(slots=True)
class DecodedPhoto:
    """The working copy of one photo and what the decoder learnt about it."""

    rgb: np.ndarray  # H x W x 3 uint8, upright, long edge <= working_size
    width: int  # full-resolution size, upright
    height: int
    format: str  # "JPEG", "HEIF", "AVIF", "RAW (NEF)", ...
    decode_mode: str  # how the working copy was made, e.g. "jpeg-dct-1/4", "raw-preview"
    image: Image.Image | None  # the opened Pillow image, for metadata; None for RAW
    source: bytes = b""  # the file's bytes, for a later full-resolution look (crop_full_resolution)
    name: str = ""  # the file's name: its extension tells RAW files apart

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    def full_resolution_crops(self, boxes: Sequence[Box], settings: IngestSettings) -> Regions:
        """The regions ``boxes`` (fractions of the upright photo) at full resolution, upright.

        Costs nothing more when the working copy already is the full-size photo,
        or when the decoder kept the full-size image (formats decoded without
        reduction); otherwise the bytes are decoded again (:func:`crop_full_resolution`).
        Never raises.
        """
        if not boxes:
            return Regions((), "none")
        if self.rgb.shape[:2] == (self.height, self.width):
            return Regions(_crop_upright(self.rgb, boxes), "working-copy")
        if self.image is not None and self.decode_mode == "full":
            try:  # loaded at full size already (PNG, TIFF, HEIF, small JPEGs ...): crop it again
                return Regions(_crop_image(self.image, _orientation(self.image), boxes), "full")
            except Exception as exc:  # noqa: BLE001 - a bad image costs the full-resolution look only
                return _fallback(self.rgb, boxes, f"{type(exc).__name__}: {exc}")
        return crop_full_resolution(self.source, self.name, boxes, settings, self.rgb)


def decode(data: bytes, name: str | Path, settings: IngestSettings) -> DecodedPhoto:
    """Decode ``data`` (the bytes of file ``name``) to an upright working copy."""
    register_codecs()
    if not data:
        raise UnreadableFile("empty file (0 bytes)")
    if is_raw_name(name):
        photo = _decode_raw(data, name, settings)
    else:
        with _pixel_limit(settings):
            photo = _decode_raster(data, settings)
    photo.source, photo.name = data, str(name)
    return photo


@contextmanager
def _pixel_limit(settings: IngestSettings) -> Iterator[None]:
    """Pillow refuses, while still parsing headers, images above twice its limit:
    that stops bombs whose headers are hostile too. Scoped to a ``with`` block."""
    previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, settings.max_pixels // 2
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _decode_raster(data: bytes, settings: IngestSettings) -> DecodedPhoto:
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise UnreadableFile(f"decompression bomb: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise UnreadableFile(f"not a recognised image format{_sniff_hint(data)}") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise UnreadableFile(f"cannot read image header: {exc}") from exc
    width, height = image.size
    _check_pixels(width, height, settings)
    mode = "full"
    try:
        if image.format in ("JPEG", "MPO"):
            scale = _draft(image, settings.min_decode_edge)
            if scale > 1:
                mode = f"jpeg-dct-1/{scale}"
        image.load()
        working = _to_rgb(image)
        orientation = _orientation(image)  # after load: PNG reads EXIF while loading
    except Image.DecompressionBombError as exc:
        raise UnreadableFile(f"decompression bomb: {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        reason = str(exc)
        if "truncated" in reason.lower():
            raise UnreadableFile(f"truncated file ({reason})") from exc
        raise UnreadableFile(f"corrupt image data ({reason})") from exc
    working = _fit(working, settings.working_size)
    if orientation in _TRANSPOSE:
        working = working.transpose(_TRANSPOSE[orientation])
        if orientation >= 5:
            width, height = height, width
    return DecodedPhoto(np.asarray(working), width, height, image.format or "unknown", mode, image)


def _draft(image: Image.Image, min_edge: int) -> int:
    """Ask libjpeg for the coarsest DCT scale whose long edge still reaches ``min_edge``."""
    width, height = image.size
    long_edge = max(width, height)
    if long_edge <= min_edge:
        return 1
    factor = min_edge / long_edge
    requested = (max(1, int(width * factor)), max(1, int(height * factor)))
    image.draft("RGB", requested)
    return max(1, round(width / image.size[0]))


def _decode_raw(data: bytes, name: str | Path, settings: IngestSettings) -> DecodedPhoto:
    import rawpy

    kind = f"RAW ({Path(name).suffix.lstrip('.').upper()})"
    try:
        raw = rawpy.imread(io.BytesIO(data))
    except rawpy.LibRawFileUnsupportedError as exc:
        return _decode_misnamed_raw(data, kind, settings, exc)
    except rawpy.LibRawError as exc:
        raise UnreadableFile(f"unreadable {kind}: {_libraw_reason(exc)}") from exc
    with raw:
        sizes = raw.sizes
        sensor_pixels = sizes.raw_width * sizes.raw_height
        if len(data) < settings.raw_min_bytes_per_pixel * sensor_pixels:
            raise UnreadableFile(
                f"truncated {kind}: {len(data)} bytes cannot hold {sensor_pixels / 1e6:.1f} MP of sensor data"
            )
        _check_pixels(sizes.width, sizes.height, settings)
        orientation = _LIBRAW_FLIP_TO_ORIENTATION.get(sizes.flip, 1)
        width, height = (sizes.height, sizes.width) if orientation >= 5 else (sizes.width, sizes.height)
        working = _raw_preview(raw, settings.min_decode_edge)
        mode = "raw-preview"
        if working is None:
            try:
                working = Image.fromarray(raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8))
            except rawpy.LibRawError as exc:
                raise UnreadableFile(f"unreadable {kind}: {_libraw_reason(exc)}") from exc
            mode, orientation = "raw-half", 1  # LibRaw applies its flip when demosaicing
    working = _fit(working, settings.working_size)
    if orientation in _TRANSPOSE:
        working = working.transpose(_TRANSPOSE[orientation])
    return DecodedPhoto(np.asarray(working), width, height, kind, mode, None)


def _raw_preview(raw, min_edge: int, reduce: bool = True) -> Image.Image | None:
    """The embedded preview, when its long edge reaches ``min_edge``; DCT-reduced towards it if ``reduce``."""
    import rawpy

    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawError, ValueError):
        return None
    try:
        if thumb.format == rawpy.ThumbFormat.JPEG:
            preview = Image.open(io.BytesIO(thumb.data))
            if max(preview.size) < min_edge:
                return None
            if reduce:
                _draft(preview, min_edge)
            preview.load()
            return _to_rgb(preview) if reduce else preview
        if thumb.format == rawpy.ThumbFormat.BITMAP and max(thumb.data.shape[:2]) >= min_edge:
            bitmap = Image.fromarray(thumb.data)
            return bitmap.convert("RGB") if reduce else bitmap
    except (OSError, ValueError, SyntaxError):
        return None
    return None


def _decode_misnamed_raw(data: bytes, kind: str, settings: IngestSettings, exc: Exception) -> DecodedPhoto:
    """A file with a RAW extension that LibRaw does not know: a misnamed JPEG is still a photo.

    TIFF-based content is not accepted this way: Pillow would read only the small
    thumbnail IFD of an unsupported RAW and pass it off as the photo.
    """
    try:
        fmt = Image.open(io.BytesIO(data)).format
    except Exception:
        fmt = None
    if fmt and fmt != "TIFF":
        with _pixel_limit(settings):
            return _decode_raster(data, settings)
    raise UnreadableFile(f"unsupported {kind}: LibRaw does not know this camera or format") from exc


def _libraw_reason(exc: Exception) -> str:
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return {
        "Input/output error": "the file is truncated or damaged",
        "Unsupported file format or not RAW file": "not a RAW format LibRaw knows",
    }.get(str(text), str(text))


@dataclass(frozen=True, slots=True)
class Regions:
    """Regions of one photo, upright, one per box asked for, in order."""

    crops: tuple[np.ndarray, ...]  # H x W x 3 uint8, at least 1 x 1
    # Where they were cut from: "full" (the photo decoded at full size), "working-copy"
    # (the working copy, already full size unless ``fallback`` says otherwise),
    # "raw-preview" (a full-size embedded preview), "raw-demosaic", "jpeg-dct-1/N"
    # (JPEGs over 100 MP), "none" (no boxes).
    source: str
    fallback: str | None = None  # why the working copy stood in for the full resolution; None: it did not


def crop_full_resolution(data: bytes, name: str | Path, boxes: Sequence[Box], settings: IngestSettings,
                         working: np.ndarray) -> Regions:
    """Decode ``data`` (file ``name``) once at full resolution and cut out ``boxes``, upright.

    Boxes are fractions of the upright photo. Each is mapped to the stored
    image's orientation and cut out before its orientation is applied, so only
    the regions are transposed, never the full image. JPEGs are decoded without
    DCT scaling (up to 100 MP); a RAW file's embedded preview is used when it is
    (nearly) full size, otherwise LibRaw demosaics it in full (AHD, camera white
    balance). The decompression-bomb limit is the decoder's. Never raises: when
    the full-resolution decode fails, the regions of ``working`` (the upright
    working copy) are returned, with the reason in ``fallback``.
    """
    if not boxes:
        return Regions((), "none")
    try:
        register_codecs()
        if not data:
            raise UnreadableFile("no file bytes to decode")
        if is_raw_name(name):
            crops, source = _raw_regions(data, boxes, settings)
        else:
            with _pixel_limit(settings):
                crops, source = _raster_regions(data, boxes, settings)
        return Regions(crops, source)
    except MemoryError:
        return _fallback(working, boxes, "too large to decode in memory")
    except UnreadableFile as exc:
        return _fallback(working, boxes, str(exc))
    except Exception as exc:  # noqa: BLE001 - a decoder bug costs the full-resolution look, never the photo
        return _fallback(working, boxes, f"{type(exc).__name__}: {exc}")


def _fallback(working: np.ndarray, boxes: Sequence[Box], reason: str) -> Regions:
    return Regions(_crop_upright(working, boxes), "working-copy", reason or "unknown error")


def _raster_regions(data: bytes, boxes: Sequence[Box], settings: IngestSettings) -> tuple[tuple[np.ndarray, ...], str]:
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise UnreadableFile(f"decompression bomb: {exc}") from exc
    width, height = image.size
    _check_pixels(width, height, settings)
    source = "full"
    if image.format in ("JPEG", "MPO") and width * height > _FULL_MAX_PIXELS:
        scale = next((s for s in (2, 4, 8) if width * height <= _FULL_MAX_PIXELS * s * s), 8)
        image.draft("RGB", (math.ceil(width / scale), math.ceil(height / scale)))
        source = f"jpeg-dct-1/{max(1, round(width / image.size[0]))}"
    image.load()
    return _crop_image(image, _orientation(image), boxes), source


def _raw_regions(data: bytes, boxes: Sequence[Box], settings: IngestSettings) -> tuple[tuple[np.ndarray, ...], str]:
    import rawpy

    try:
        raw = rawpy.imread(io.BytesIO(data))
    except rawpy.LibRawFileUnsupportedError:  # a misnamed JPEG, PNG ... (decode read it with Pillow)
        with _pixel_limit(settings):
            return _raster_regions(data, boxes, settings)
    with raw:
        sizes = raw.sizes
        _check_pixels(sizes.width, sizes.height, settings)
        orientation = _LIBRAW_FLIP_TO_ORIENTATION.get(sizes.flip, 1)
        with _pixel_limit(settings):
            preview = _raw_preview(raw, math.ceil(_RAW_PREVIEW_MIN_SHARE * max(sizes.width, sizes.height)), reduce=False)
        if preview is not None:
            return _crop_image(preview, orientation, boxes), "raw-preview"
        # user_flip=0: the sensor's orientation, so that only the regions are transposed.
        sensor = raw.postprocess(use_camera_wb=True, output_bps=8, user_flip=0)
    return _crop_image(Image.fromarray(sensor), orientation, boxes), "raw-demosaic"


def _crop_image(image: Image.Image, orientation: int, boxes: Sequence[Box]) -> tuple[np.ndarray, ...]:
    """Cut upright ``boxes`` out of a stored-orientation image, then turn each region upright."""
    if image.mode in _DEEP_MODES:
        image = _to_rgb(image)  # scaled by the whole image's brightest value, as the working copy was
    width, height = image.size
    crops = []
    for box in boxes:
        x0, y0, x1, y1 = _pixel_box(_stored_box(box, orientation), width, height)
        region = _to_rgb(image.crop((x0, y0, x1, y1)))
        if orientation in _TRANSPOSE:
            region = region.transpose(_TRANSPOSE[orientation])
        crops.append(np.asarray(region))
    return tuple(crops)


def _crop_upright(rgb: np.ndarray, boxes: Sequence[Box]) -> tuple[np.ndarray, ...]:
    height, width = rgb.shape[:2]
    crops = []
    for box in boxes:
        x0, y0, x1, y1 = _pixel_box(box, width, height)
        crops.append(rgb[y0:y1, x0:x1])
    return tuple(crops)


def _stored_box(box: Box, orientation: int) -> Box:
    """An upright box (fractions) as a box of the stored image (fractions)."""
    to_stored = _UPRIGHT_TO_STORED.get(orientation, _UPRIGHT_TO_STORED[1])
    (ax, ay), (bx, by) = to_stored(box[0], box[1]), to_stored(box[2], box[3])
    return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)


def _pixel_box(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """The pixels a box (fractions) covers, outward-rounded, at least one, inside the image."""
    x0 = min(max(math.floor(box[0] * width + 1e-6), 0), width - 1)
    y0 = min(max(math.floor(box[1] * height + 1e-6), 0), height - 1)
    x1 = max(min(math.ceil(box[2] * width - 1e-6), width), x0 + 1)
    y1 = max(min(math.ceil(box[3] * height - 1e-6), height), y0 + 1)
    return x0, y0, x1, y1


def _check_pixels(width: int, height: int, settings: IngestSettings) -> None:
    if width * height > settings.max_pixels:
        raise UnreadableFile(
            f"decompression bomb: declares {width}x{height} = {width * height / 1e6:.0f} MP, "
            f"more than the limit of {settings.max_pixels / 1e6:.0f} MP"
        )


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
        return value if isinstance(value, int) and 1 <= value <= 8 else 1
    except Exception:  # broken EXIF must not cost the pixels
        return 1


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB: deeper and float images are scaled (not clipped), transparency goes on white."""
    if image.mode == "RGB":
        return image
    if image.mode in _DEEP_MODES:
        values = np.asarray(image, dtype=np.float32)
        top = float(values.max()) if values.size else 0.0
        if image.mode == "F" and top <= 1.0:
            factor = 255.0  # float images in 0..1
        else:
            # 10-, 12- and 14-bit sensor data often sits in 16-bit containers: scale by
            # the smallest usual bit depth that holds the brightest value.
            bits = next((b for b in (8, 10, 12, 14, 16) if top < 2**b), max(8, int(top).bit_length()))
            factor = 255.0 / (2**bits - 1)
        gray = np.clip(values * factor, 0, 255)
        return Image.fromarray(gray.astype(np.uint8)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    ):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _fit(image: Image.Image, long_edge: int) -> Image.Image:
    if max(image.size) <= long_edge:
        return image
    factor = long_edge / max(image.size)
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


_SIGNATURES = {
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive",
    b"<?xml": "an XML file",
    b"<svg": "an SVG drawing",
    b"\x00\x00\x00\x18ftypmp4": "an MP4 video",
}


def _sniff_hint(data: bytes) -> str:
    for magic, what in _SIGNATURES.items():
        if data.startswith(magic):
            return f" (the content is {what})"
    return ""
