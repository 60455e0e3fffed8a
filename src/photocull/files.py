"""Writing files safely and hashing them: what every stage that writes or checks a file shares."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path``: readers (another process too) see the old file or the whole new one.

    The bytes go to a hidden file beside ``path``, which then replaces it; a file
    replaced keeps its permissions. ``durable``: flushed to disk (fsync) first, so a
    crash cannot leave an empty file in place of the old one; a file that can simply
    be written again (a new sidecar, a cache entry) may skip it, as fsync is most of
    the cost of a small write.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial")
    try:
        with partial.open("xb") as stream:  # unlike mkstemp, honours the umask
            stream.write(data)
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        try:
            os.chmod(partial, path.stat().st_mode & 0o7777)
        except FileNotFoundError:
            pass
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def sha256_file(path: Path) -> str:
    """The file's SHA-256, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
