"""What the review web app reads in bulk: every decision at once, and whether another process wrote.

The web app keeps the scores, groups and decisions of every photo in memory
(:mod:`photocull.web.index`) so that a gallery page over 100,000 photos is a
slice of a list, not a query; this class gives it the rows it needs and tells
it when another connection (``photocull decide``, a cull) has committed, so it
reloads the decisions only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from photocull.catalog.store import Catalog


class Gallery:
    """Bulk reads for the web app (``catalog.gallery``)."""

    def __init__(self, catalog: Catalog):
        self._catalog = catalog

    def data_version(self) -> int:
        """Changes whenever another connection commits to the catalog (SQLite's ``PRAGMA data_version``;
        this connection's own commits leave it as it is)."""
        return self._catalog._query("PRAGMA data_version")[0][0]

    def decision_rows(self) -> dict[str, tuple]:
        """Every readable file's decision by catalog key: (flag, rating, label, by_user, auto_flag,
        user_flag, user_rating, user_label), effective values first; the user's own values let the
        page undo exactly."""
        rows = self._catalog._query(
            "SELECT decisions.path, coalesce(user_flag, auto_flag), coalesce(user_rating, auto_rating), "
            "coalesce(user_label, auto_label), user_flag IS NOT NULL OR user_rating IS NOT NULL "
            "OR user_label IS NOT NULL, auto_flag, user_flag, user_rating, user_label "
            "FROM decisions JOIN files USING (path) WHERE files.status = 'ok'")
        return {r[0]: (r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7], r[8]) for r in rows}

    def group_kinds(self) -> dict[str, tuple[int, int, str]]:
        """Every grouped file's (group id, rank, group kind), by catalog key."""
        rows = self._catalog._query(
            "SELECT group_members.path, group_id, rank, groups.kind FROM group_members "
            "JOIN groups ON groups.id = group_members.group_id")
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def decision_rows_of(self, keys: list[str]) -> dict[str, tuple]:
        """The decisions of ``keys`` (catalog keys), as :meth:`decision_rows`."""
        found: dict[str, tuple] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            for r in self._catalog._query(
                    "SELECT path, coalesce(user_flag, auto_flag), coalesce(user_rating, auto_rating), "
                    "coalesce(user_label, auto_label), user_flag IS NOT NULL OR user_rating IS NOT NULL "
                    "OR user_label IS NOT NULL, auto_flag, user_flag, user_rating, user_label "
                    f"FROM decisions WHERE path IN ({', '.join('?' * len(chunk))})", chunk):
                found[r[0]] = (r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7], r[8])
        return found
