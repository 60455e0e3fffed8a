"""The catalog's people: who each face is, and each person's name, role and centroid.

Faces live in ``detected_faces`` (one row per face, replaced whole when a
photo is scanned again); who a face is lives in ``face_people``, and the
people themselves in ``people``. A re-scan would lose the link, so before a
photo's faces are replaced the links are read and given to the new face
found at the same place (:func:`carry_people`): names, roles and the user's
own corrections survive a new version of the faces analyser.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from photocull.vectors import from_bytes

if TYPE_CHECKING:
    from photocull.catalog.store import Catalog

ROLES = ("main", "important", "other")
SAME_FACE_IOU = 0.5  # a re-detected face overlapping an old one this much is that face


@dataclass(frozen=True, slots=True)
class FaceIdentity:
    """One face as the people stage sees it: where it is from, its descriptor, whose it is."""

    content_hash: str
    face_index: int
    descriptor: np.ndarray  # float32 (128,)
    person_id: int | None
    confirmed: bool  # placed by the user: re-clustering never moves it


@dataclass(frozen=True, slots=True)
class PersonState:
    """What is stored of a person's faces: enough to place new faces (see people.clustering)."""

    id: int
    space: str  # the descriptor model
    centroid: np.ndarray
    face_count: int
    spread: float


class People:
    """The people tables of one catalog (``catalog.people``)."""

    def __init__(self, catalog: Catalog):
        self._catalog = catalog

    def faces(self, unassigned_only: bool = False) -> list[FaceIdentity]:
        """Every detected face (or those no one has been given yet), with its descriptor."""
        sql = ("SELECT d.content_hash, d.face_index, d.descriptor, fp.person_id, fp.confirmed "
               "FROM detected_faces d LEFT JOIN face_people fp USING (content_hash, face_index)")
        if unassigned_only:
            sql += " WHERE fp.person_id IS NULL"
        rows = self._catalog._query(sql + " ORDER BY d.content_hash, d.face_index")
        return [FaceIdentity(r[0], r[1], from_bytes(r[2]), r[3], bool(r[4])) for r in rows]

    def states(self) -> list[PersonState]:
        rows = self._catalog._query("SELECT id, space, centroid, face_count, spread FROM people ORDER BY id")
        return [PersonState(r[0], r[1], np.frombuffer(r[2], np.float32).copy(), r[3], r[4]) for r in rows]

    def next_id(self) -> int:
        """The id the next new person gets: ids of deleted people are never given again."""
        used = self._catalog._query("SELECT max(id) FROM people")[0][0] or 0
        rows = self._catalog._query("SELECT seq FROM sqlite_sequence WHERE name = 'people'")
        return max(used, rows[0][0] if rows else 0) + 1

    def photos_of(self, content_hashes: Iterable[str]) -> dict[int, set[str]]:
        """For the given photos: each person with a face in them, and which of them."""
        found: dict[int, set[str]] = {}
        for content_hash in set(content_hashes):
            for (person,) in self._catalog._query(
                    "SELECT person_id FROM face_people WHERE content_hash = ?", [content_hash]):
                found.setdefault(person, set()).add(content_hash)
        return found

    def listing(self) -> list[dict[str, Any]]:
        """Every person, most faces first: id, name, role, faces and photos in readable files."""
        rows = self._catalog._query(
            """SELECT p.id, p.name, p.role, count(DISTINCT fp.content_hash || ':' || fp.face_index) AS faces,
                      count(DISTINCT fp.content_hash) AS photos, sum(fp.confirmed) AS confirmed
               FROM people p
               LEFT JOIN face_people fp ON fp.person_id = p.id
                    AND fp.content_hash IN (SELECT content_hash FROM files WHERE status = 'ok')
               GROUP BY p.id ORDER BY faces DESC, p.id""")
        return [dict(r) | {"confirmed": r["confirmed"] or 0} for r in rows]

    def person(self, person_id: int) -> dict[str, Any] | None:
        rows = self._catalog._query("SELECT id, name, role FROM people WHERE id = ?", [person_id])
        return dict(rows[0]) if rows else None

    def faces_of(self, person_id: int) -> list[dict[str, Any]]:
        """The person's faces in readable files (one file per content), with their measures and descriptor."""
        rows = self._catalog._query(
            """SELECT min(files.path) AS path, d.*, fp.confirmed
               FROM face_people fp JOIN detected_faces d USING (content_hash, face_index)
               JOIN files ON files.content_hash = d.content_hash AND files.status = 'ok'
               WHERE fp.person_id = ? GROUP BY d.content_hash, d.face_index ORDER BY path, d.face_index""",
            [person_id])
        return [self._catalog._row(r) | {"descriptor": from_bytes(r["descriptor"])} for r in rows]

    # -- writing ------------------------------------------------------------
    def save(self, people: Iterable[PersonState], links: Iterable[tuple[str, int, int, bool]],
             drop: Iterable[int] = ()) -> None:
        """One transaction: update or add ``people`` (names and roles kept), link faces
        (content hash, face index, person, confirmed), and delete the ``drop`` people."""
        with self._catalog._transaction() as db:
            db.executemany("DELETE FROM people WHERE id = ?", [(pid,) for pid in drop])
            db.executemany(
                """INSERT INTO people (id, space, centroid, face_count, spread) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET space = excluded.space, centroid = excluded.centroid,
                     face_count = excluded.face_count, spread = excluded.spread""",
                [(p.id, p.space, np.asarray(p.centroid, np.float32).tobytes(), p.face_count, p.spread)
                 for p in people])
            db.executemany(
                """INSERT INTO face_people (content_hash, face_index, person_id, confirmed) VALUES (?, ?, ?, ?)
                   ON CONFLICT (content_hash, face_index) DO UPDATE SET person_id = excluded.person_id,
                     confirmed = excluded.confirmed""",
                [(h, i, pid, int(confirmed)) for h, i, pid, confirmed in links])

    def label(self, person_id: int, name: str | None, role: str | None) -> None:
        """Name a person and/or give them a role; their faces become confirmed (see docs/faces.md)."""
        if role is not None and role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        with self._catalog._transaction() as db:
            if name is not None:
                db.execute("UPDATE people SET name = ? WHERE id = ?", (name.strip() or None, person_id))
            if role is not None:
                db.execute("UPDATE people SET role = ? WHERE id = ?", (role, person_id))
            db.execute("UPDATE face_people SET confirmed = 1 WHERE person_id = ?", (person_id,))


def carry_people(db: sqlite3.Connection, content_hash: str) -> list[tuple[tuple[float, ...], int, int]]:
    """Before a photo's faces are replaced: each linked face's box, person and confirmed flag."""
    rows = db.execute(
        """SELECT d.x0, d.y0, d.x1, d.y1, fp.person_id, fp.confirmed
           FROM face_people fp JOIN detected_faces d USING (content_hash, face_index)
           WHERE fp.content_hash = ?""", (content_hash,)).fetchall()
    return [((r[0], r[1], r[2], r[3]), r[4], r[5]) for r in rows]


def restore_people(db: sqlite3.Connection, content_hash: str,
                   carried: list[tuple[tuple[float, ...], int, int]]) -> None:
    """After: link each new face to the person of the old face it overlaps most (IoU >= 0.5)."""
    if not carried:
        return
    new = db.execute("SELECT face_index, x0, y0, x1, y1 FROM detected_faces WHERE content_hash = ?",
                     (content_hash,)).fetchall()
    pairs = sorted(((_iou(old, tuple(face[1:])), k, face[0]) for k, (old, _, _) in enumerate(carried)
                    for face in new), reverse=True)
    used_old, used_new = set(), set()
    for overlap, k, face_index in pairs:
        if overlap < SAME_FACE_IOU:
            break
        if k in used_old or face_index in used_new:
            continue
        used_old.add(k)
        used_new.add(face_index)
        _, person, confirmed = carried[k]
        db.execute("INSERT INTO face_people (content_hash, face_index, person_id, confirmed) VALUES (?, ?, ?, ?)",
                   (content_hash, face_index, person, confirmed))


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
