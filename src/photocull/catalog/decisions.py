"""Keep / reject, star rating and colour label per file, with who said so.

Each file has two sets of values side by side: what the program decided
(``auto_*``, rewritten by every cull) and what the user decided (``user_*``,
set from the command line, the web app or a sidecar another tool wrote).
The user's value always wins and nothing automatic ever writes it, so a
re-run never overwrites a decision; keeping both also tells how often the
user agreed with the program.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from photocull.catalog.store import Catalog

Flag = Literal["keep", "reject"]
FLAGS: tuple[str, ...] = ("keep", "reject")
LABELS: tuple[str, ...] = ("red", "yellow", "green", "blue", "purple")  # Lightroom's five colours
ORIGINS: tuple[str, ...] = ("cli", "web", "xmp")
UNSET = object()  # "leave this value as it is" (None clears it)


@dataclass(frozen=True, slots=True)
class Decision:
    """One file's decision: the effective values, and whether the user set each of them."""

    path: str
    flag: str | None
    rating: int | None
    label: str | None
    by_user: bool  # True when any of the values came from the user
    auto_flag: str | None = None
    user_flag: str | None = None
    user_rating: int | None = None


@dataclass(frozen=True, slots=True)
class AutoDecision:
    """What a cull decides for one file (by catalog key)."""

    key: str
    flag: str | None
    rating: int | None
    label: str | None = None


class Decisions:
    """The decisions table of one catalog (``catalog.decisions``)."""

    def __init__(self, catalog: Catalog):
        self._catalog = catalog

    def set_user(self, path: Path, *, flag: object = UNSET, rating: object = UNSET, label: object = UNSET,
                 origin: str = "cli") -> None:
        """Record the user's decision on one file; values not given keep what the user said before."""
        _check(flag, rating, label)
        if origin not in ORIGINS:
            raise ValueError(f"origin must be one of {', '.join(ORIGINS)}")
        key = self._catalog.key(path)
        values = {name: value for name, value in (("user_flag", flag), ("user_rating", rating),
                                                  ("user_label", label)) if value is not UNSET}
        columns = [*values, "user_origin", "user_updated"]
        params = [*values.values(), origin, time.time()]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns)
        with self._catalog._transaction() as db:
            db.execute(f"INSERT INTO decisions (path, {', '.join(columns)}) VALUES (?{', ?' * len(columns)}) "
                       f"ON CONFLICT (path) DO UPDATE SET {updates}", [key, *params])

    def clear_user(self, path: Path) -> None:
        """Forget the user's decision on a file: the program's own applies again."""
        with self._catalog._transaction() as db:
            db.execute("UPDATE decisions SET user_flag = NULL, user_rating = NULL, user_label = NULL, "
                       "user_origin = NULL, user_updated = NULL WHERE path = ?", [self._catalog.key(path)])

    def set_auto(self, decisions: Iterable[AutoDecision]) -> int:
        """Replace every automatic decision by these (by catalog key); user values are never touched."""
        now = time.time()
        rows = [(d.key, d.flag, d.rating, d.label, now) for d in decisions]
        for _, flag, rating, label, _ in rows:
            _check(flag, rating, label)
        with self._catalog._transaction() as db:
            db.execute("UPDATE decisions SET auto_flag = NULL, auto_rating = NULL, auto_label = NULL, "
                       "auto_updated = NULL")
            db.executemany(
                "INSERT INTO decisions (path, auto_flag, auto_rating, auto_label, auto_updated) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET auto_flag = excluded.auto_flag, "
                "auto_rating = excluded.auto_rating, auto_label = excluded.auto_label, "
                "auto_updated = excluded.auto_updated",
                rows,
            )
        return len(rows)

    def get(self, path: Path) -> Decision | None:
        found = self._select("WHERE decisions.path = ?", [self._catalog.key(path)])
        return found[0] if found else None

    def all(self, flag: str | None = None) -> list[Decision]:
        """Every readable file's decision (or those whose effective flag is ``flag``), by path."""
        where, params = "WHERE files.status = 'ok'", []
        if flag is not None:
            where += " AND coalesce(user_flag, auto_flag) = ?"
            params.append(flag)
        return self._select(where, params)

    def effective_by_key(self) -> dict[str, tuple[str | None, int | None, str | None, bool]]:
        """Every readable file with a decisions row: (flag, rating, label, by_user), by catalog key.

        A row whose values are all None is kept: a sidecar written earlier must then lose its values."""
        return {r[0]: (r[1], r[2], r[3], bool(r[4])) for r in self._rows("WHERE files.status = 'ok'", [])}

    def _select(self, where: str, params: list) -> list[Decision]:
        resolve = self._catalog.resolve
        from photocull.catalog.store import printable

        return [Decision(printable(resolve(r[0])), r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7])
                for r in self._rows(where, params)]

    def _rows(self, where: str, params: list) -> list:
        """Key, effective flag, rating, label, whether the user set any, then auto_flag, user_flag, user_rating."""
        return self._catalog._query(
            "SELECT decisions.path, coalesce(user_flag, auto_flag), coalesce(user_rating, auto_rating), "
            "coalesce(user_label, auto_label), user_flag IS NOT NULL OR user_rating IS NOT NULL "
            "OR user_label IS NOT NULL, auto_flag, user_flag, user_rating "
            f"FROM decisions JOIN files USING (path) {where} ORDER BY decisions.path", params)


def _check(flag: object, rating: object, label: object) -> None:
    if flag not in (UNSET, None) and flag not in FLAGS:
        raise ValueError(f"flag must be keep or reject, not {flag!r}")
    if rating not in (UNSET, None) and not (isinstance(rating, int) and 0 <= rating <= 5):
        raise ValueError(f"rating must be 0 to 5, not {rating!r}")
    if label not in (UNSET, None) and label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, not {label!r}")
