"""What photocull last wrote to or read from each XMP sidecar, and file moves (trash, undo).

A sidecar changed by another tool (darktable, digiKam, Lightroom, exiftool)
carries the user's decision; one photocull wrote itself does not. To tell
them apart, every sidecar written or read is remembered here with its size,
modification time and the values it held; a sidecar whose size or time
differs from that record has been changed by someone else since. The same
table remembers the rating embedded in each photo file (XMP or EXIF, read by
the scan into ``photos.rating``) so it is imported once, not on every run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from photocull.catalog.store import Catalog

KINDS = ("sidecar", "embedded")


@dataclass(frozen=True, slots=True)
class SidecarSeen:
    """A sidecar (or a photo's embedded rating) as photocull last saw it."""

    path: str  # catalog key of the sidecar (for ``embedded``: of the photo)
    photo: str  # catalog key of the photo it belongs to
    kind: str  # sidecar | embedded
    size: int | None
    mtime_ns: int | None
    rating: int | None  # -1 rejected, 0..5
    label: str | None  # red, yellow, green, blue, purple
    pick: int | None  # digiKam pick label: 0 none, 1 rejected, 2 pending, 3 accepted
    source: str  # written | read


class Sidecars:
    """The sidecars table of one catalog."""

    def __init__(self, catalog: Catalog):
        self._catalog = catalog

    def seen(self) -> dict[tuple[str, str], SidecarSeen]:
        """Every record, by (kind, path)."""
        rows = self._catalog._query(
            "SELECT path, photo, kind, size, mtime_ns, rating, label, pick, source FROM sidecars")
        return {(r[2], r[0]): SidecarSeen(*r) for r in rows}

    def remember(self, records: Iterable[SidecarSeen]) -> None:
        now = time.time()
        rows = [(r.path, r.kind, r.photo, r.size, r.mtime_ns, r.rating, r.label, r.pick, r.source, now)
                for r in records]
        if not rows:
            return
        with self._catalog._transaction() as db:
            db.executemany(
                "INSERT INTO sidecars (path, kind, photo, size, mtime_ns, rating, label, pick, source, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path, kind) DO UPDATE SET "
                "photo = excluded.photo, size = excluded.size, mtime_ns = excluded.mtime_ns, "
                "rating = excluded.rating, label = excluded.label, pick = excluded.pick, "
                "source = excluded.source, updated = excluded.updated", rows)

    def forget(self, paths: Iterable[str]) -> None:
        with self._catalog._transaction() as db:
            db.executemany("DELETE FROM sidecars WHERE path = ? AND kind = 'sidecar'", [(p,) for p in paths])

    def embedded_ratings(self) -> dict[str, int]:
        """Readable files whose photo carries a rating of its own (-1..5), by catalog key."""
        rows = self._catalog._query(
            "SELECT files.path, photos.rating FROM files JOIN photos USING (content_hash) "
            "WHERE files.status = 'ok' AND photos.rating IS NOT NULL")
        return {r[0]: r[1] for r in rows}

    def user_values(self) -> dict[str, tuple[str | None, int | None, str | None]]:
        """The user's own (flag, rating, label) per catalog key, where any is set."""
        rows = self._catalog._query(
            "SELECT path, user_flag, user_rating, user_label FROM decisions "
            "WHERE user_flag IS NOT NULL OR user_rating IS NOT NULL OR user_label IS NOT NULL")
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def readable_keys(self) -> list[str]:
        """Catalog keys of every readable file, by path."""
        return [r[0] for r in self._catalog._query("SELECT path FROM files WHERE status = 'ok' ORDER BY path")]

    def file_status(self, key: str) -> tuple[str, str | None] | None:
        rows = self._catalog._query("SELECT status, reason FROM files WHERE path = ?", [key])
        return (rows[0][0], rows[0][1]) if rows else None

    def set_status(self, changes: Iterable[tuple[str, str, str | None]]) -> None:
        """(catalog key, status, reason) for files moved away (``missing``) or back (``ok``)."""
        rows = [(status, reason, key) for key, status, reason in changes]
        if not rows:
            return
        with self._catalog._transaction() as db:
            db.executemany("UPDATE files SET status = ?, reason = ? WHERE path = ?", rows)

    def person_files(self) -> dict[int, list[tuple[str, int]]]:
        """Each person's readable files (catalog key, that person's faces in it), by path."""
        rows = self._catalog._query(
            """SELECT fp.person_id, files.path, count(*) FROM face_people fp
               JOIN files ON files.content_hash = fp.content_hash AND files.status = 'ok'
               GROUP BY fp.person_id, files.path ORDER BY fp.person_id, files.path""")
        found: dict[int, list[tuple[str, int]]] = {}
        for person, key, faces in rows:
            found.setdefault(person, []).append((key, faces))
        return found


def as_dict(record: SidecarSeen) -> dict[str, Any]:
    return {"path": record.path, "rating": record.rating, "label": record.label, "pick": record.pick}
