"""Read capture metadata (EXIF, maker notes, XMP) into one flat, catalog-ready record.

Two readers feed one extraction: Pillow's EXIF parser when the caller already opened the
image (fast, and the only one that sees HEIF/AVIF metadata), and exifread for RAW files
Pillow cannot open. Both are turned into the same ``_Tags`` (tag id -> value per IFD), so
every field is decoded exactly once. Nothing in here may raise on bad metadata: a broken
tag gives ``None`` and the caller keeps the pixels.
"""

from __future__ import annotations

import html
import io
import math
import numbers
import re
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import exifread
from PIL import Image

__all__ = ["PhotoMetadata", "read_metadata"]


@dataclass(frozen=True, slots=True)
class PhotoMetadata:
    """Scalar capture metadata; the catalog stores one column per field, ``None`` = unknown.

    ``capture_timestamp`` is POSIX seconds when ``capture_offset`` is known; otherwise the
    local wall-clock time is read as if it were UTC. That keeps photos from one camera
    (one clock) correctly ordered and spaced for burst windows, but mixing cameras in
    different time zones without offsets can shift them by whole hours.
    """

    capture_time: str | None = None  # ISO 8601 local time, sub-seconds as recorded
    capture_offset: str | None = None  # "+02:00"
    capture_timestamp: float | None = None  # see class docstring
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    serial_number: str | None = None
    software: str | None = None
    exposure_time: float | None = None  # seconds
    f_number: float | None = None
    iso: int | None = None
    exposure_bias: float | None = None  # EV
    focal_length: float | None = None  # mm
    focal_length_35mm: float | None = None  # mm, 35 mm equivalent
    flash_fired: int | None = None  # 1 fired, 0 did not (EXIF Flash bit 0)
    gps_latitude: float | None = None  # signed decimal degrees, north positive
    gps_longitude: float | None = None  # signed decimal degrees, east positive
    gps_altitude: float | None = None  # metres, negative below sea level
    orientation: int | None = None  # EXIF Orientation 1..8 as found, before correction
    image_unique_id: str | None = None  # EXIF ImageUniqueID: identifies one image, not a burst
    burst_id: str | None = None  # shared by all frames of one camera burst
    burst_primary: int | None = None  # 1 on the frame the camera picked in a burst (Google)
    sequence_number: int | None = None  # position in a burst / drive sequence, 0 = single
    content_identifier: str | None = None  # Apple Live Photo pairing id (photo <-> video)
    rating: int | None = None  # user rating from another tool: -1 rejected, 0 unrated, 1..5


@dataclass(slots=True)
class _Tags:
    """Reader-independent view of the metadata: tag id -> value, per IFD."""

    main: dict[int, Any] = field(default_factory=dict)  # IFD0 and Exif IFD merged (ids differ)
    gps: dict[int, Any] = field(default_factory=dict)
    maker_note: bytes | None = None
    endian: str = "<"  # byte order of the TIFF holding the maker note
    xmp: bytes | None = None
    orientation: int | None = None  # overrides IFD0 Orientation (pillow-heif resets it to 1)


def read_metadata(image: Image.Image | None, data: bytes) -> PhotoMetadata:
    """Extract metadata from an opened Pillow image (before any exif_transpose) or, for RAW
    files Pillow cannot open, from ``data``. Never raises: broken metadata gives ``None``s."""
    try:
        tags = _from_pillow(image) if image is not None else _from_raw(data)
        return _extract(tags)
    except Exception:  # last resort; every reader below already degrades per tag
        return PhotoMetadata()


# --- readers -------------------------------------------------------------------------


def _from_pillow(image: Image.Image) -> _Tags:
    """Pillow's EXIF parser: 0.3-0.8 ms for a phone/camera JPEG, pixels not decoded."""
    try:
        exif = image.getexif()
    except Exception:
        exif = Image.Exif()
    tags = _from_pillow_exif(exif)
    info = image.info
    xmp = info.get("xmp") or info.get("XML:com.adobe.xmp")  # the latter: older Pillow PNG
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8", "replace")
    tags.xmp = xmp if isinstance(xmp, bytes) else None
    tags.orientation = info.get("original_orientation")
    return tags


def _from_pillow_exif(exif: Image.Exif) -> _Tags:
    tags = _Tags(endian=getattr(exif, "endian", None) or "<")
    try:
        tags.main.update(exif)
    except Exception:
        pass
    for ifd_id, target in ((0x8769, tags.main), (0x8825, tags.gps)):
        try:
            target.update(exif.get_ifd(ifd_id))
        except Exception:  # one broken sub-IFD must not hide the others
            pass
    note = tags.main.pop(0x927C, None)
    tags.maker_note = note if isinstance(note, bytes) else None
    return tags


_EXIFREAD_IFDS = {"Image": "main", "EXIF": "main", "GPS": "gps"}


def _from_raw(data: bytes) -> _Tags:
    """TIFF-based RAW (DNG, NEF, CR2, ARW, RW2, ORF, PEF...) through exifread; CR3 and RAF
    (not TIFF) through their embedded EXIF blocks. details=False skips exifread's maker-note
    decoding (up to 12 ms more per file on the corpus); the maker note we need is read directly.
    XMP is searched in the whole file (about 0.3 ms per MB when absent)."""
    tags = _Tags()
    found: dict[str, Any] = {}
    if data[:2] in (b"II", b"MM", b"\xff\xd8"):  # the rest only makes exifread log a warning
        try:
            found = exifread.process_file(io.BytesIO(data), details=False)
        except Exception:
            pass
    for key, tag in found.items():
        target = _EXIFREAD_IFDS.get(key.split(" ", 1)[0])
        values = getattr(tag, "values", None)
        if target is None or values is None:
            continue
        if not isinstance(values, (str, bytes)):
            values = values[0] if len(values) == 1 else tuple(values)
        getattr(tags, target).setdefault(tag.tag, values)
    if not tags.main:
        _embedded_exif(data, tags)
    elif data[:2] in (b"II", b"MM"):  # TIFF-based: offsets count from the file start
        tags.endian = "<" if data[:2] == b"II" else ">"
        tags.maker_note = _tiff_maker_note(data, tags.main.get(0x8769), tags.endian)
        if data[:4] == b"IIU\x00" and 0x8827 not in tags.main:  # RW2 keeps ISO in IFD0 0x17
            tags.main[0x8827] = tags.main.get(0x0017)
    tags.xmp = _find_xmp(data)
    return tags


def _tiff_maker_note(data: bytes, exif_offset: Any, endian: str) -> bytes | None:
    """exifread (details=False) skips MakerNote; fetch its bytes from the Exif IFD."""
    if not isinstance(exif_offset, int):
        return None
    try:
        note = _read_ifd(data, exif_offset, endian, base=0).get(0x927C)
    except (struct.error, ValueError):
        return None
    return note if isinstance(note, bytes) else None


def _embedded_exif(data: bytes, tags: _Tags) -> None:
    """CR3 keeps IFD0/Exif/GPS as TIFF blobs in CMT1/CMT2/CMT4 boxes; RAF (and other
    formats with a JPEG preview) carry a regular APP1 "Exif" block near the start; MRW
    has a TIFF block tagged "TTW"."""
    head = data[: 1 << 20]
    if head[4:8] == b"ftyp" and head[8:12] == b"crx ":
        for box, target in ((b"CMT1", tags.main), (b"CMT2", tags.main), (b"CMT4", tags.gps)):
            at = head.find(box)
            if at < 4:
                continue
            size = int.from_bytes(head[at - 4 : at], "big")
            exif = _load_exif(data[at + 4 : at - 4 + size])
            if exif is not None:
                target.update(exif)
                if box == b"CMT1":
                    tags.endian = getattr(exif, "endian", None) or "<"
        return
    at = head.find(b"Exif\x00\x00")
    if at < 0 and (at := head.find(b"\x00TTW", 0, 4096)) >= 0:
        at += 8
    exif = _load_exif(data[at : at + 0x10000]) if at >= 0 else None
    if exif is not None:
        embedded = _from_pillow_exif(exif)
        tags.main, tags.gps = embedded.main, embedded.gps
        tags.maker_note, tags.endian = embedded.maker_note, embedded.endian


def _load_exif(blob: bytes) -> Image.Exif | None:
    exif = Image.Exif()
    try:
        exif.load(blob)
    except Exception:
        return None
    return exif


def _find_xmp(data: bytes) -> bytes | None:
    start = data.find(b"<x:xmpmeta")
    if start < 0:
        return None
    end = data.find(b"</x:xmpmeta>", start, start + (1 << 20))
    return data[start : end + 12] if end >= 0 else None


# --- field extraction (written once for both readers) --------------------------------


def _extract(t: _Tags) -> PhotoMetadata:
    m = t.main
    xmp = _Xmp(t.xmp)
    capture_time, capture_offset, capture_timestamp = _capture(m, xmp)
    latitude, longitude, altitude = _gps(t.gps)
    burst_id, content_id, sequence = _maker_note(t.maker_note, t.endian)
    flash = _int(m.get(0x9209))
    return PhotoMetadata(
        capture_time=capture_time,
        capture_offset=capture_offset,
        capture_timestamp=capture_timestamp,
        make=_text(m.get(0x010F)),
        model=_text(m.get(0x0110)) or _text(m.get(0xC614)),  # DNG UniqueCameraModel
        lens=_text(m.get(0xA434)),
        serial_number=_text(m.get(0xA431)) or _text(m.get(0xC62F)),
        software=_text(m.get(0x0131)),
        exposure_time=_positive(_num(m.get(0x829A)) or _apex(m.get(0x9201), -1.0)),
        f_number=_positive(_num(m.get(0x829D)) or _apex(m.get(0x9202), 0.5)),
        iso=_iso(m),
        exposure_bias=_num(m.get(0x9204)),
        focal_length=_positive(_num(m.get(0x920A))),
        focal_length_35mm=_positive(_num(m.get(0xA405))),
        flash_fired=None if flash is None else flash & 1,
        gps_latitude=latitude,
        gps_longitude=longitude,
        gps_altitude=altitude,
        orientation=_orientation(t.orientation or m.get(0x0112)),
        image_unique_id=_text(m.get(0xA420)),
        burst_id=burst_id or xmp.get(_GCAMERA, "BurstID") or xmp.get(_GCREATIONS, "CameraBurstID"),
        burst_primary=_flag(xmp.get(_GCAMERA, "BurstPrimary")),
        sequence_number=sequence,
        content_identifier=content_id,
        rating=_rating(xmp.get(_XMP_BASIC, "Rating"), m.get(0x4746)),
    )


def _num(value: Any) -> float | None:
    """Any EXIF number (IFDRational, exifread Ratio, int, 1-tuple) -> finite float."""
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    if isinstance(value, bytes) and len(value) == 1:
        value = value[0]
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    try:
        if isinstance(value, numbers.Rational):
            if not value.denominator:  # IFDRational/Ratio keep x/0 instead of raising
                return None
            result = value.numerator / value.denominator
        elif isinstance(value, numbers.Real):
            result = float(value)
        else:
            return None
    except (ArithmeticError, TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _int(value: Any) -> int | None:
    number = _num(value)
    return round(number) if number is not None else None


def _flag(value: str | None) -> int | None:
    """XMP booleans are "True"/"False" by the spec; some writers use 1/0."""
    if value is None:
        return None
    return {"true": 1, "1": 1, "false": 0, "0": 0}.get(value.lower())


def _positive(number: float | None) -> float | None:
    return number if number is not None and number > 0 else None


def _apex(value: Any, factor: float) -> float | None:
    """ShutterSpeedValue / ApertureValue (APEX) when ExposureTime / FNumber are missing."""
    number = _num(value)
    if number is None or abs(number) > 64:
        return None
    return 2.0 ** (factor * number)


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.split("\x00", 1)[0].strip()
    return value or None


def _iso(m: dict[int, Any]) -> int | None:
    """EXIF 2.3 writes 65535 in ISOSpeedRatings when the real value is too large for it."""
    iso = _int(m.get(0x8827))
    if iso == 65535:
        iso = _int(m.get(0x8833)) or _int(m.get(0x8832)) or iso
    return iso if iso is not None and iso > 0 else None


def _orientation(value: Any) -> int | None:
    number = _int(value)
    return number if number is not None and 1 <= number <= 8 else None


_DATE = re.compile(r"\s*(\d{4})\D(\d\d)\D(\d\d)[ T](\d\d)\D(\d\d)\D(\d\d)")
_XMP_DATE = re.compile(
    r"\s*(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?\s*(Z|[+-]\d\d:\d\d)?"
)
_SUBSEC = re.compile(r"\s*(\d+)\s*")
_OFFSET = re.compile(r"\s*([+-])(\d\d):(\d\d)\s*")

_XMP_EXIF = "http://ns.adobe.com/exif/1.0/"
_PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"


def _capture(m: dict[int, Any], xmp: _Xmp) -> tuple[str | None, str | None, float | None]:
    """Capture dates in decreasing reliability; EXIF DateTime is the last edit, so it comes
    after the XMP capture dates. Malformed dates are skipped, not returned."""
    return (
        _exif_date(m, 0x9003, 0x9291, (0x9011, 0x9010))  # DateTimeOriginal
        or _exif_date(m, 0x9004, 0x9292, (0x9012, 0x9010))  # DateTimeDigitized
        or _xmp_date(xmp.get(_XMP_EXIF, "DateTimeOriginal"))
        or _xmp_date(xmp.get(_PHOTOSHOP, "DateCreated"))
        or _xmp_date(xmp.get(_XMP_BASIC, "CreateDate"))
        or _exif_date(m, 0x0132, 0x9290, (0x9010,))  # DateTime
        or (None, None, None)
    )


def _exif_date(
    m: dict[int, Any], date_tag: int, subsec_tag: int, offset_tags: tuple[int, ...]
) -> tuple[str, str | None, float] | None:
    text = _text(m.get(date_tag))
    match = _DATE.match(text) if text else None
    if match is None:
        return None
    subsec = _SUBSEC.fullmatch(_text(m.get(subsec_tag)) or "")
    offset = next(filter(None, (_offset(m.get(tag)) for tag in offset_tags)), None)
    return _timestamp(match.groups(), subsec.group(1) if subsec else None, offset)


def _xmp_date(text: str | None) -> tuple[str, str | None, float] | None:
    match = _XMP_DATE.match(text) if text else None
    if match is None:
        return None
    *fields, subsec, offset = match.groups()
    offset = "+00:00" if offset == "Z" else offset
    return _timestamp([f or "00" for f in fields], subsec, _offset(offset))


def _offset(value: Any) -> str | None:
    match = _OFFSET.fullmatch(_text(value) or "")
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    if int(hours) > 14 or int(minutes) >= 60:
        return None
    return f"{sign}{hours}:{minutes}"


def _timestamp(
    fields: Any, subsec: str | None, offset: str | None
) -> tuple[str, str | None, float] | None:
    try:
        local = datetime(*map(int, fields))
    except (TypeError, ValueError):  # "0000:00:00 00:00:00", month 13, ...
        return None
    subsec = subsec[:6] if subsec else None
    if subsec:
        local = local.replace(microsecond=int(subsec.ljust(6, "0")))
    tz = timezone.utc
    if offset:
        delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
        tz = timezone(-delta if offset[0] == "-" else delta)
    iso = local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{subsec}" if subsec else "")
    try:
        return iso, offset, local.replace(tzinfo=tz).timestamp()
    except (OverflowError, ValueError):
        return None


def _gps(g: dict[int, Any]) -> tuple[float | None, float | None, float | None]:
    latitude = _coordinate(g.get(2), g.get(1), "S", 90.0)
    longitude = _coordinate(g.get(4), g.get(3), "W", 180.0)
    if latitude is None or longitude is None or (latitude == 0.0 and longitude == 0.0):
        # one half of a position is useless; 0,0 is what many cameras write without a fix
        latitude = longitude = None
    altitude = _num(g.get(6))
    if altitude is not None and _int(g.get(5)) == 1:
        altitude = -altitude
    return latitude, longitude, altitude


def _coordinate(dms: Any, ref: Any, negative: str, limit: float) -> float | None:
    """Degrees, minutes, seconds (some writers put everything in degrees) + N/S/E/W ref."""
    parts = dms if isinstance(dms, (tuple, list)) and dms else (dms,)
    value = 0.0
    for power, part in enumerate(parts[:3]):
        number = _num(part)
        if number is None:
            return None
        value += number / 60.0**power
    if (_text(ref) or "").upper().startswith(negative):
        value = -value
    return value if abs(value) <= limit else None


# --- maker notes: only burst / sequence fields, only where the layout is documented ----

_SONY_HEADERS = (b"SONY DSC \x00\x00\x00", b"SONY CAM \x00\x00\x00")


def _maker_note(note: bytes | None, endian: str) -> tuple[str | None, str | None, int | None]:
    """(burst id, content identifier, sequence number). Tag ids from ExifTool's Apple,
    FujiFilm, Panasonic and Sony tables. Apple and Fujifilm offsets are relative to the
    maker note; for Panasonic and Sony we only read values stored inline in the entry."""
    if not note:
        return None, None, None
    try:
        if note.startswith(b"Apple iOS\x00"):
            apple = _read_ifd(note, 14, ">" if note[12:14] == b"MM" else "<", base=0)
            return _text(apple.get(0x000B)), _text(apple.get(0x0011)), None
        if note.startswith(b"FUJIFILM"):
            fuji = _read_ifd(note, int.from_bytes(note[8:12], "little"), "<", base=0)
            return None, None, _int(fuji.get(0x1101))
        if note.startswith(b"Panasonic\x00"):
            return None, None, _int(_read_ifd(note, 12, endian, base=None).get(0x002B))
        if note.startswith(_SONY_HEADERS):
            sequence = _int(_read_ifd(note, 12, endian, base=None).get(0xB04A))
            return None, None, None if sequence == 65535 else sequence
    except (struct.error, ValueError):
        pass
    return None, None, None


_TYPE_FORMATS = {1: "B", 2: "s", 3: "H", 4: "I", 7: "s", 8: "h", 9: "i"}


def _read_ifd(buf: bytes, pos: int, endian: str, base: int | None) -> dict[int, Any]:
    """Minimal TIFF IFD reader: strings, bytes and the first value of integer tags.
    ``base`` is where out-of-line offsets count from; None skips out-of-line values."""
    (count,) = struct.unpack_from(endian + "H", buf, pos)
    found: dict[int, Any] = {}
    for entry in range(pos + 2, pos + 2 + 12 * min(count, 1024), 12):
        tag, kind, n = struct.unpack_from(endian + "HHI", buf, entry)
        fmt = _TYPE_FORMATS.get(kind)
        if fmt is None:
            continue
        size = n * struct.calcsize(fmt) if fmt != "s" else n
        start = entry + 8
        if size > 4:
            if base is None:
                continue
            start = base + struct.unpack_from(endian + "I", buf, entry + 8)[0]
        raw = buf[start : start + size]
        if len(raw) != size or size == 0:
            continue
        if fmt == "s":
            found[tag] = raw.split(b"\x00", 1)[0].decode("utf-8", "replace") if kind == 2 else raw
        else:
            found[tag] = struct.unpack_from(endian + fmt, raw)[0]
    return found


# --- XMP -------------------------------------------------------------------------------

_XMP_BASIC = "http://ns.adobe.com/xap/1.0/"
_GCAMERA = "http://ns.google.com/photos/1.0/camera/"  # Google Camera: BurstID, BurstPrimary
_GCREATIONS = "http://ns.google.com/photos/1.0/creations/"  # Google Photos: CameraBurstID
_XMLNS = re.compile(rb"""xmlns:([A-Za-z_][\w.-]*)\s*=\s*["']([^"']*)["']""")


class _Xmp:
    """Namespace-aware lookup of simple XMP properties (attribute or element form) by
    regex: a full XML parse costs ~10x more and the packets we need are flat."""

    __slots__ = ("_packet", "_prefixes")

    def __init__(self, packet: bytes | None) -> None:
        self._packet = packet or b""
        self._prefixes: dict[str, list[bytes]] = {}
        for prefix, uri in _XMLNS.findall(self._packet):
            self._prefixes.setdefault(uri.decode("utf-8", "replace"), []).append(prefix)

    def get(self, namespace: str, name: str) -> str | None:
        for prefix in self._prefixes.get(namespace, ()):
            qname = re.escape(prefix + b":" + name.encode())
            match = re.search(
                rb"\s" + qname + rb"""\s*=\s*(?:"([^"]*)"|'([^']*)')|<"""
                + qname + rb">([^<]*)</",
                self._packet,
            )
            if match:
                raw = next(group for group in match.groups() if group is not None)
                return html.unescape(raw.decode("utf-8", "replace")).strip() or None
        return None


def _rating(xmp_value: str | None, exif_value: Any) -> int | None:
    """xmp:Rating (Lightroom, Bridge, darktable...) first, then the Windows EXIF Rating."""
    rating = _int(xmp_value) if xmp_value is not None else _int(exif_value)
    return rating if rating is not None and -1 <= rating <= 5 else None
