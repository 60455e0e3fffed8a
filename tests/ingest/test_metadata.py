"""Tests for photocull.ingest.metadata on the shared real-photo corpus.

Every hard-coded expected value below was read independently with ExifTool 12.57
(`exiftool -n`), not with the code under test.
"""

from __future__ import annotations

import dataclasses
import io
import math
import struct
from datetime import datetime, timezone
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from photocull.ingest.metadata import PhotoMetadata, read_metadata

pillow_heif.register_heif_opener()

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
SCANNED = ("exif/jpg", "exif/heic", "exif/tiff", "bad", "raw")
ALL_FILES = (
    sorted(
        str(path.relative_to(CORPUS))
        for folder in SCANNED
        for path in (CORPUS / folder).rglob("*")
        if path.is_file() and path.name != "README"
    )
    if CORPUS.is_dir()
    else ["(corpus absent)"]
)
FIELD_TYPES = {f.name: f.type for f in dataclasses.fields(PhotoMetadata)}


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared test corpus not found at {CORPUS}")
    return CORPUS


def _open(path: Path) -> Image.Image | None:
    """As the pipeline does: Pillow when it can open the file, else None (RAW, broken)."""
    try:
        return Image.open(path)
    except Exception:
        return None


def _read(corpus: Path, rel: str, *, raw: bool = False) -> PhotoMetadata:
    path = corpus / rel
    return read_metadata(None if raw else _open(path), path.read_bytes())


def _utc(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def _assert_sane(md: PhotoMetadata) -> None:
    for name, declared in FIELD_TYPES.items():
        value = getattr(md, name)
        if value is None:
            continue
        expected = {"str | None": str, "int | None": int, "float | None": float}[declared]
        assert type(value) is expected, (name, value)
        if expected is float:
            assert math.isfinite(value), (name, value)
    if md.gps_latitude is not None:
        assert -90 <= md.gps_latitude <= 90 and -180 <= md.gps_longitude <= 180
    if md.orientation is not None:
        assert 1 <= md.orientation <= 8


def test_fields_are_scalars() -> None:
    assert set(FIELD_TYPES.values()) <= {"str | None", "int | None", "float | None"}
    assert PhotoMetadata() == PhotoMetadata(**{name: None for name in FIELD_TYPES})


@pytest.mark.parametrize("rel", ALL_FILES)
def test_every_corpus_file_reads_without_error(corpus: Path, rel: str) -> None:
    path = corpus / rel
    data = path.read_bytes()
    image = _open(path)
    if image is not None:
        _assert_sane(read_metadata(image, data))
    _assert_sane(read_metadata(None, data))  # the RAW path must survive any bytes too


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        (
            "exif/jpg/Canon_40D.jpg",
            dict(
                make="Canon", model="Canon EOS 40D", capture_time="2008-05-30T15:56:01.00",
                capture_offset=None, capture_timestamp=_utc(2008, 5, 30, 15, 56, 1),
                exposure_time=0.00625, f_number=7.1, iso=100, focal_length=135.0,
                exposure_bias=0.0, orientation=1,
            ),
        ),
        (
            "exif/jpg/Nikon_D70.jpg",
            dict(
                make="NIKON CORPORATION", model="NIKON D70", capture_time="2008-03-15T09:52:01",
                exposure_time=0.005, f_number=9.0, iso=200, exposure_bias=-1.0,
                focal_length=100.0,
            ),
        ),
        (
            "exif/jpg/mobile/HMD_Nokia_8.3_5G.jpg",
            dict(
                make="HMD Global", model="Nokia 8.3 5G", capture_time="2022-08-14T14:12:31",
                capture_offset="+03:00", capture_timestamp=_utc(2022, 8, 14, 11, 12, 31),
                exposure_time=0.000541, f_number=2.2, iso=100, focal_length=2.75,
            ),
        ),
        (
            "exif/jpg/hdr/iphone_hdr_NO.jpg",
            dict(
                make="Apple", model="iPhone 6", capture_time="2015-04-10T20:12:23.016",
                lens="iPhone 6 back camera 4.15mm f/2.2", exposure_bias=1.326429536,
            ),
        ),
        (
            "exif/heic/mobile/iphone_13_pro_max.HEIC",
            dict(
                make="Apple", model="iPhone 13 Pro Max", orientation=6,
                capture_time="2022-02-16T12:55:41.762", capture_offset="+01:00",
                capture_timestamp=_utc(2022, 2, 16, 11, 55, 41) + 0.762,
                exposure_time=1 / 60, f_number=1.5, iso=250, focal_length=5.7,
                lens="iPhone 13 Pro Max back triple camera 5.7mm f/1.5",
            ),
        ),
        (
            "exif/heic/IMG_5195.HEIC",
            dict(
                make="Apple", model="iPhone 11 Pro Max", orientation=None,
                capture_time="2021-04-11T15:47:53.054", capture_offset="-05:00",
                content_identifier="570F1469-09C7-4E50-9875-05F21D5BD166", burst_id=None,
            ),
        ),
        # XMP dates when EXIF has none (exif:DateTimeOriginal, xmp:CreateDate)
        (
            "exif/jpg/tests/30-type_error.jpg",
            dict(capture_time="2013-07-05T03:18:27", capture_offset="+00:00"),
        ),
        (
            "bad/invalid-exif.jpg",
            dict(capture_time="2017-03-13T23:03:09", capture_offset="-07:00"),
        ),
        # maker-note sequence numbers and XMP / EXIF ratings
        ("exif/jpg/Fujifilm_FinePix_E500.jpg", dict(sequence_number=0)),
        ("exif/jpg/Panasonic_DMC-FZ30.jpg", dict(sequence_number=0)),
        ("exif/jpg/hdr/canon_hdr_NO.jpg", dict(rating=0, orientation=6)),
        (
            "exif/jpg/Olympus_C8080WZ.jpg",
            dict(image_unique_id="77c6274bd589ad50395891e84a8b673b", burst_id=None),
        ),
        # raw/: RAW path (no Pillow image): exifread for TIFF-based, embedded EXIF otherwise
        (
            "raw/stubs/Nikon.nef",
            dict(
                make="NIKON CORPORATION", model="NIKON D70", capture_time="2004-06-09T16:02:35.00",
                exposure_time=0.05, f_number=3.5, iso=200, focal_length=18.0, orientation=1,
            ),
        ),
        (
            "raw/stubs/CanonRaw.cr2",
            dict(
                make="Canon", model="Canon EOS 350D DIGITAL", capture_time="2005-08-03T18:59:18",
                exposure_time=1 / 15, f_number=8.0, iso=400, focal_length=55.0,
            ),
        ),
        (
            "raw/stubs/CanonRaw.cr3",
            dict(
                make="Canon", model="Canon EOS M50", capture_time="2018-02-21T12:08:56.21",
                capture_offset="+00:00", exposure_time=0.0125, f_number=3.5, iso=12800,
                lens="EF-M15-45mm f/3.5-6.3 IS STM", rating=0,
            ),
        ),
        (
            "raw/stubs/FujiFilm.raf",
            dict(
                make="FUJIFILM", model="FinePix S5Pro", capture_time="2007-05-22T13:58:30",
                exposure_time=0.004, f_number=8.0, iso=100, sequence_number=0,
            ),
        ),
        (
            "raw/stubs/Panasonic.rw2",
            dict(make="Panasonic", model="DMC-LX3", iso=80, exposure_time=0.004, f_number=4.0),
        ),
        (
            "raw/stubs/Minolta.mrw",
            dict(
                make="Konica Minolta Camera, Inc.", model="DiMAGE A2",
                capture_time="2004-11-18T23:14:58", exposure_time=0.2, f_number=2.8, iso=64,
            ),
        ),
        ("raw/stubs/PhaseOne.iiq", dict(make="Leaf", model="Credo 40", rating=0)),
        (
            "raw/good/Nikon_uncompressed.nef",
            dict(make="Nikon", model="Nikon COOLSCAN IV ED"),
        ),
        # no Make in this DNG; Model falls back to DNG UniqueCameraModel
        (
            "raw/good/Blackmagic.dng",
            dict(make=None, model="Blackmagic Pocket Cinema Camera 4K"),
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "expected",
)
def test_known_values(corpus: Path, rel: str, expected: dict) -> None:
    md = _read(corpus, rel, raw=rel.startswith("raw/"))
    for name, want in expected.items():
        got = getattr(md, name)
        if isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-6), name
        else:
            assert got == want, name


# exiftool -n: GPSLatitude, GPSLongitude, GPSAltitude (None where it has none)
GPS = {
    "exif/heic/IMG_5195.HEIC": (39.0513444444444, -94.2887722222222, 260.5606383),
    "exif/heic/mobile/HMD_Nokia_8.3_5G.heif": (40.78868522, -4.00514085, 1942.4216),
    "exif/heic/mobile/HMD_Nokia_8.3_5G_hdr.heif": (40.6629935, -3.76374051, 940.3186),
    "exif/jpg/Kodak_CX7530.jpg": (-0.3713, 36.0564166666667, None),
    "exif/jpg/gps/DSCN0010.jpg": (43.4674483333333, 11.8851266666639, None),
    "exif/jpg/gps/DSCN0012.jpg": (43.4671566666639, 11.8853949999972, None),
    "exif/jpg/gps/DSCN0021.jpg": (43.4670816666639, 11.8845383333306, None),
    "exif/jpg/gps/DSCN0025.jpg": (43.468365, 11.8816349999722, None),
    "exif/jpg/gps/DSCN0027.jpg": (43.4684416666667, 11.881515, None),
    "exif/jpg/gps/DSCN0029.jpg": (43.4682433333306, 11.8801716666389, None),
    "exif/jpg/gps/DSCN0038.jpg": (43.4672549999972, 11.8792133333333, None),
    "exif/jpg/gps/DSCN0040.jpg": (43.4660116666389, 11.8791116666389, None),
    "exif/jpg/gps/DSCN0042.jpg": (43.464455, 11.8814783333333, None),
    "exif/jpg/tests/87_OSError.jpg": (43.7855944333333, 11.2346194333333, 42.123),
    "exif/jpg/tests/67-0_length_string.jpg": (51.025, 7.59194444444444, 340.0),
    "exif/jpg/hdr/iphone_hdr_YES.jpg": (40.4469722222222, -3.72475277777778, 639.6111111),
    "exif/jpg/hdr/iphone_hdr_NO.jpg": (40.4469722222222, -3.72475277777778, 639.5878788),
    "exif/jpg/mobile/HMD_Nokia_8.3_5G.jpg": (60.1467055555556, 24.9067722222222, None),
}


@pytest.mark.parametrize("rel", sorted(GPS))
def test_gps_matches_exiftool(corpus: Path, rel: str) -> None:
    md = _read(corpus, rel)
    latitude, longitude, altitude = GPS[rel]
    assert md.gps_latitude == pytest.approx(latitude, abs=1e-9)
    assert md.gps_longitude == pytest.approx(longitude, abs=1e-9)
    if altitude is None:
        assert md.gps_altitude is None
    else:
        assert md.gps_altitude == pytest.approx(altitude, abs=1e-6)


def test_no_gps_invented(corpus: Path) -> None:
    with_gps = {
        rel
        for rel in ALL_FILES
        if not rel.startswith("raw/") and _read(corpus, rel).gps_latitude is not None
    }
    assert with_gps == set(GPS)


@pytest.mark.parametrize("kind", ["landscape", "portrait"])
@pytest.mark.parametrize("n", range(1, 9))
def test_orientation_files(corpus: Path, kind: str, n: int) -> None:
    assert _read(corpus, f"exif/jpg/orientation/{kind}_{n}.jpg").orientation == n


BROKEN = [
    "bad/invalid-exif.jpg",
    "bad/hopper_bad_exif.jpg",
    "exif/jpg/corrupted.jpg",
    *(
        f"exif/jpg/invalid/image{n}.jpg"
        for n in ("00971", "01088", "01137", "01551", "01713", "01980", "02206")
    ),
]


@pytest.mark.parametrize("rel", BROKEN)
def test_broken_exif_keeps_pixels_usable(corpus: Path, rel: str) -> None:
    path = corpus / rel
    image = Image.open(path)
    _assert_sane(read_metadata(image, path.read_bytes()))
    image.load()  # reading metadata first must not break decoding


def test_corrupted_jpeg_still_gives_camera_fields(corpus: Path) -> None:
    md = _read(corpus, "exif/jpg/corrupted.jpg")
    assert (md.make, md.model, md.iso) == ("OLYMPUS IMAGING CORP.", "u1020,S1020", 80)


def test_rubbish_bytes_never_raise() -> None:
    rubbish = (b"", b"II*\x00\xff\xff\xff\xff", b"MM\x00*\x00\x00\x00\x00", b"\xff\xd8\xff\xe1")
    for data in (*rubbish, b"\x00TTW" * 3, b"FUJIFILMCCD-RAW Exif\x00\x00II*\x00"):
        assert read_metadata(None, data) == PhotoMetadata()


# --- synthetic files: structures the corpus has no example of ------------------------


def _apple_maker_note(strings: dict[int, str]) -> bytes:
    """Layout as in the corpus iPhone files: header, big-endian IFD at 14, offsets from
    the maker-note start (the real MediaGroupUUID 0x0011 is read this way above)."""
    header = b"Apple iOS\x00\x00\x01MM"
    data_start = len(header) + 2 + 12 * len(strings) + 4
    ifd, blob = struct.pack(">H", len(strings)), b""
    for tag, text in sorted(strings.items()):
        raw = text.encode() + b"\x00"
        ifd += struct.pack(">HHII", tag, 2, len(raw), data_start + len(blob))
        blob += raw
    return header + ifd + b"\x00\x00\x00\x00" + blob


def _jpeg(exif: Image.Exif, xmp: bytes = b"") -> tuple[Image.Image, bytes]:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "JPEG", exif=exif, xmp=xmp)
    data = buffer.getvalue()
    return Image.open(io.BytesIO(data)), data


def _xmp(attributes: str, namespaces: str, body: str = "") -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f"<rdf:Description {namespaces} {attributes}>{body}</rdf:Description>"
        "</rdf:RDF></x:xmpmeta>"
    ).encode()


def test_apple_burst_uuid_from_maker_note() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Apple"
    exif.get_ifd(0x8769)[0x927C] = _apple_maker_note({0x000B: "B-UUID", 0x0011: "C-ID"})
    md = read_metadata(*_jpeg(exif))
    assert (md.burst_id, md.content_identifier) == ("B-UUID", "C-ID")


def test_google_burst_and_rating_from_xmp() -> None:
    packet = _xmp(
        'GCamera:BurstID="g-burst-7" GCamera:BurstPrimary="True"',
        'xmlns:GCamera="http://ns.google.com/photos/1.0/camera/" '
        'xmlns:xap="http://ns.adobe.com/xap/1.0/"',
        "<xap:Rating>4</xap:Rating>",  # element form, non-default prefix
    )
    md = read_metadata(*_jpeg(Image.Exif(), packet))
    assert (md.burst_id, md.burst_primary, md.rating) == ("g-burst-7", 1, 4)


def test_google_photos_camera_burst_id_and_wrong_namespace() -> None:
    packet = _xmp(
        'GCreations:CameraBurstID="gp-1" GCamera:BurstID="not-google"',
        'xmlns:GCreations="http://ns.google.com/photos/1.0/creations/" '
        'xmlns:GCamera="http://example.com/other/"',
    )
    assert read_metadata(*_jpeg(Image.Exif(), packet)).burst_id == "gp-1"


def test_zero_denominators_and_malformed_dates_give_none() -> None:
    exif = Image.Exif()
    exif[0x0132] = "    :  :     :  :  "
    sub = exif.get_ifd(0x8769)
    sub[0x829A] = IFDRational(1, 0)  # ExposureTime
    sub[0x829D] = IFDRational(0, 0)  # FNumber
    sub[0x920A] = IFDRational(5, 0)  # FocalLength
    sub[0x9003] = "0000:00:00 00:00:00"
    sub[0x9004] = "garbage"
    sub[0x9011] = "+99:99"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (IFDRational(1, 0), 0.0, 0.0), 3: "E", 4: (10.0, 0.0, 0.0)})
    gps.update({6: IFDRational(7, 0)})
    md = read_metadata(*_jpeg(exif))
    _assert_sane(md)
    assert md == PhotoMetadata()


def test_offset_and_subseconds_from_plain_exif() -> None:
    exif = Image.Exif()
    sub = exif.get_ifd(0x8769)
    sub.update({0x9003: "2024:05:01 14:03:22", 0x9291: "45", 0x9010: "-04:30"})
    md = read_metadata(*_jpeg(exif))
    assert md.capture_time == "2024-05-01T14:03:22.45"
    assert md.capture_offset == "-04:30"
    assert md.capture_timestamp == pytest.approx(_utc(2024, 5, 1, 18, 33, 22) + 0.45)
