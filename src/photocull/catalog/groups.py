"""The catalog's groups: each group of one moment, its pick and its ranked members, with reasons.

Groups are recomputed whole by every cull (:func:`photocull.ranking.cull.cull`)
and written in one transaction (:meth:`Groups.replace`), so a reader never
sees half of an old grouping and half of a new one. Ids are renumbered on
every cull: 1 is the largest group. Photos in no group (singletons) have no
row here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from photocull.catalog.store import Catalog


@dataclass(frozen=True, slots=True)
class StoredMember:
    """One member of a stored group. Written by catalog key; read back with the printable absolute path."""

    path: str  # on write: the catalog key (files.path); on read: absolute and printable
    rank: int  # 1 = the pick (or the best frame of a keep-all group)
    relation: str  # how it joined the group: exact, copy, raw_jpeg, near_duplicate, same_scene, burst, ...
    score: float | None  # composite score 0-1 used to rank it
    reason: str  # why it ranks where it does, in words


@dataclass(frozen=True, slots=True)
class StoredGroup:
    id: int  # ignored on write (groups are numbered in the order given, from 1)
    kind: str
    keep_all: bool
    pick: str | None  # the member kept (same path convention as the members); None when keep_all
    reason: str
    members: list[StoredMember] = field(default_factory=list)  # by rank


class Groups:
    """The groups tables of one catalog (``catalog.groups``)."""

    def __init__(self, catalog: Catalog):
        self._catalog = catalog

    def replace(self, groups: Iterable[StoredGroup]) -> int:
        """Replace every stored group by ``groups`` (paths as catalog keys), in one transaction."""
        groups = list(groups)
        with self._catalog._transaction() as db:
            db.execute("DELETE FROM group_members")
            db.execute("DELETE FROM groups")
            for number, group in enumerate(groups, 1):
                db.execute("INSERT INTO groups (id, kind, keep_all, pick, reason) VALUES (?, ?, ?, ?, ?)",
                           (number, group.kind, int(group.keep_all), group.pick, group.reason))
                db.executemany(
                    "INSERT INTO group_members (path, group_id, rank, relation, score, reason) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(m.path, number, m.rank, m.relation, m.score, m.reason) for m in group.members])
        return len(groups)

    def count(self, kind: str | None = None) -> int:
        if kind is None:
            return self._catalog._query("SELECT count(*) FROM groups")[0][0]
        return self._catalog._query("SELECT count(*) FROM groups WHERE kind = ?", [kind])[0][0]

    def all(self, kind: str | None = None, limit: int | None = None, offset: int = 0) -> list[StoredGroup]:
        """Every stored group (or those of ``kind``), by id (largest first), with its members by rank;
        ``limit`` and ``offset`` page through them."""
        where, params = "", list[object]()
        if kind is not None:
            where, params = "WHERE kind = ?", [kind]
        sql = f"SELECT id, kind, keep_all, pick, reason FROM groups {where} ORDER BY id"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            params += [-1 if limit is None else limit, offset]
        return self._with_members(self._catalog._query(sql, params))

    def get(self, group_id: int) -> StoredGroup | None:
        found = self._with_members(self._catalog._query(
            "SELECT id, kind, keep_all, pick, reason FROM groups WHERE id = ?", [group_id]))
        return found[0] if found else None

    def of(self, path) -> StoredGroup | None:
        """The group ``path`` (an absolute :class:`~pathlib.Path`) belongs to, or None for a photo in no group."""
        rows = self._catalog._query("SELECT group_id FROM group_members WHERE path = ?", [self._catalog.key(path)])
        return self.get(rows[0][0]) if rows else None

    def membership(self) -> dict[str, tuple[int, int]]:
        """Every grouped file's (group id, rank), by printable absolute path."""
        from photocull.catalog.store import printable

        resolve = self._catalog.resolve
        rows = self._catalog._query("SELECT path, group_id, rank FROM group_members")
        return {printable(resolve(r[0])): (r[1], r[2]) for r in rows}

    def _with_members(self, rows: list) -> list[StoredGroup]:
        if not rows:
            return []
        from photocull.catalog.store import printable

        resolve = self._catalog.resolve
        ids = [r[0] for r in rows]
        members: dict[int, list[StoredMember]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for m in self._catalog._query(
                    "SELECT group_id, path, rank, relation, score, reason FROM group_members "
                    f"WHERE group_id IN ({', '.join('?' * len(chunk))}) ORDER BY group_id, rank", chunk):
                members[m[0]].append(StoredMember(printable(resolve(m[1])), m[2], m[3], m[4], m[5]))
        return [StoredGroup(r[0], r[1], bool(r[2]), None if r[3] is None else printable(resolve(r[3])), r[4],
                            members[r[0]]) for r in rows]
