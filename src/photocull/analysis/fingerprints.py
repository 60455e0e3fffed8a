"""Perceptual fingerprints: 64-bit pHash and dHash of the upright photo.

Both follow the definitions of the ``imagehash`` library (so values can be
compared with other tools): the photo is reduced to grey with Pillow's LANCZOS
filter; pHash keeps the sign of the 8x8 lowest DCT-II frequencies of a 32x32
copy against their median, dHash the sign of horizontal neighbour differences
on a 9x8 copy. Bits are read row by row, most significant first, and stored as
signed 64-bit integers (SQLite's integer type); Hamming distance compares them.
The content hash (SHA-256 of the file) is the photo's identity and lives with
the file records, not here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

ANALYSER = "fingerprints"
VERSION = 1

_N = 32
# Unnormalised DCT-II basis, as scipy.fftpack.dct(type=2) computes it.
_DCT = 2 * np.cos(np.pi * np.outer(np.arange(_N), 2 * np.arange(_N) + 1) / (2 * _N))


@dataclass(frozen=True, slots=True)
class Fingerprints:
    phash: int
    dhash: int


def measure_fingerprints(rgb: np.ndarray) -> Fingerprints:
    gray = Image.fromarray(rgb).convert("L")
    small = np.asarray(gray.resize((_N, _N), Image.Resampling.LANCZOS), dtype=np.float64)
    low = (_DCT @ small @ _DCT.T)[:8, :8]
    phash_bits = low > np.median(low)
    tiny = np.asarray(gray.resize((9, 8), Image.Resampling.LANCZOS), dtype=np.int16)
    dhash_bits = tiny[:, 1:] > tiny[:, :-1]
    return Fingerprints(_to_int64(phash_bits), _to_int64(dhash_bits))


def _to_int64(bits: np.ndarray) -> int:
    value = 0
    for bit in bits.flatten():
        value = (value << 1) | int(bit)
    return value - (1 << 64) if value >= 1 << 63 else value


def to_hex(value: int) -> str:
    return f"{value & 0xFFFFFFFFFFFFFFFF:016x}"


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count()
