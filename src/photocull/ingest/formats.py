"""Which file names photocull treats as photos.

Discovery goes by extension (a folder also holds videos, sidecars and notes);
decoding then goes by content, so a PNG named ``.jpg`` is still read correctly.
"""

from pathlib import Path

RAW_EXTENSIONS = frozenset(
    ".3fr .ari .arw .bay .cr2 .cr3 .crw .dcr .dcs .dng .erf .fff .iiq .k25 .kdc "
    ".mef .mos .mrw .nef .nrw .orf .pef .ptx .raf .raw .rw2 .rwl .sr2 .srf .srw .x3f".split()
)
RASTER_EXTENSIONS = frozenset(
    ".jpg .jpeg .jpe .jfif .png .apng .webp .tif .tiff .bmp .dib .gif .mpo "
    ".heic .heif .hif .avif .avifs .ppm .pgm .pbm .pnm .ico".split()
)
PHOTO_EXTENSIONS = RAW_EXTENSIONS | RASTER_EXTENSIONS


def is_photo_name(path: Path | str) -> bool:
    return Path(path).suffix.lower() in PHOTO_EXTENSIONS


def is_raw_name(path: Path | str) -> bool:
    return Path(path).suffix.lower() in RAW_EXTENSIONS
