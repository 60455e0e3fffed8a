"""The gallery in memory: every readable photo's score, flags, group and decision, sorted once.

Scores do not depend on decisions, so they are computed once when the app
starts (:func:`photocull.ranking.cull.score_catalog`), with the groups of the
last cull; a gallery page is then a filter and a slice of a pre-sorted list.
Decisions are an overlay: the app's own writes update it at once, and a
commit by another process (``photocull decide``) is noticed through
``PRAGMA data_version`` on the app's one connection and reloads the decisions (scores and groups reload
when the app restarts).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from photocull.catalog.store import Catalog
from photocull.config import Settings
from photocull.ingest.originals import as_original
from photocull.ingest.remote import is_url
from photocull.ranking.cull import score_catalog

SORTS = ("score", "time", "name")
FILTERS = ("blurry", "eyes_closed", "duplicates", "rejected", "kept", "undecided", "best")
DUPLICATE_KINDS = ("duplicates", "near_duplicates")
_NO_DECISION = (None, None, None, False, None, None, None, None)  # as catalog.gallery.decision_rows


@dataclass(slots=True)
class Entry:
    """One readable photo as the gallery shows it."""

    key: str  # catalog key (relative to the catalog root when inside it; a URL in object storage)
    path: str  # shown path: relative to the catalog root when inside it
    absolute: str  # printable absolute path, or the URL
    content_hash: str
    size: int
    time: float  # capture timestamp, else the file's mtime
    score: float
    terms: dict[str, Any]
    blurry: bool
    badly_exposed: bool
    eyes_closed: bool
    face_rejected: bool
    face_issues: str | None
    group: int | None
    group_rank: int | None
    group_kind: str | None
    people: frozenset[int]

    @property
    def original(self) -> Path | str:
        """Where the original is read from (previews, face crops): a file, or its URL in object storage."""
        return as_original(self.absolute)


class GalleryIndex:
    """Every photo of one catalog, sorted by score, time and name, with the decisions as an overlay."""

    def __init__(self, catalog_path: Path, settings: Settings):
        self.catalog_path = catalog_path
        self.settings = settings
        self._lock = threading.Lock()
        self._views: dict[tuple, list[int]] = {}
        self._catalog_lock = threading.RLock()
        self.catalog = Catalog(catalog_path, any_thread=True)  # one connection, one thread at a time
        catalog = self.catalog
        self.root = catalog.root
        self.entries = _entries(catalog, settings)
        self.decisions = catalog.gallery.decision_rows()
        self._version = catalog.gallery.data_version()
        self.by_key = {e.key: i for i, e in enumerate(self.entries)}
        self.by_hash = {e.content_hash: e for e in self.entries}
        self.by_shown = {e.path: e for e in self.entries}
        self.by_absolute = {e.absolute: e for e in self.entries}
        n = range(len(self.entries))
        self.orders = {
            "score": sorted(n, key=lambda i: (-self.entries[i].score, self.entries[i].key)),
            "time": sorted(n, key=lambda i: (self.entries[i].time, self.entries[i].key)),
            "name": sorted(n, key=lambda i: self.entries[i].key),
        }
        self.ranks = {}  # sort -> each entry's position in that order
        for sort, order in self.orders.items():
            rank = [0] * len(order)
            for position, i in enumerate(order):
                rank[i] = position
            self.ranks[sort] = rank

    @contextmanager
    def use(self) -> Iterator[Catalog]:
        """The app's catalog connection, for one thread at a time; decisions written by another
        connection since the last look are loaded first."""
        with self._catalog_lock:
            self.refresh(self.catalog)
            yield self.catalog

    def sync(self) -> None:
        """Load the decisions another connection wrote since the last look."""
        with self.use():
            pass

    def close(self) -> None:
        """Close the connection once no request is using it (a reload swaps in a new index first)."""
        with self._catalog_lock:
            self.catalog.close()

    def reload_people(self, catalog: Catalog) -> None:
        """Take the people on each photo again, after people were merged or faces moved (ids change);
        cheaper than a new index: nothing is scored again, only views filtered by person are dropped."""
        people = _people_by_path(catalog)
        with self._lock:
            for entry in self.entries:
                entry.people = frozenset(people.get(entry.absolute, ()))
            self._views = {key: view for key, view in self._views.items() if key[2] is None}

    # -- decisions ----------------------------------------------------------
    def refresh(self, catalog: Catalog) -> None:
        """Reload the decisions when another process committed since the last look."""
        version = catalog.gallery.data_version()
        if version != self._version:
            decisions = catalog.gallery.decision_rows()
            with self._lock:
                self.decisions, self._version, self._views = decisions, version, {}

    def decided(self, catalog: Catalog, keys: list[str]) -> None:
        """After this app wrote decisions on ``keys``: take their new values, and move those photos
        in or out of the filtered views that depend on decisions (no view is rebuilt)."""
        rows = catalog.gallery.decision_rows_of(keys)
        with self._lock:
            decisions = dict(self.decisions)
            for key in keys:
                if key in rows:
                    decisions[key] = rows[key]
                else:
                    decisions.pop(key, None)
            changed = [self.by_key[key] for key in keys]
            views = {}
            for view_key, view in self._views.items():
                sort, filter, person, min_rating = view_key
                if filter in _DECISION_FILTERS or min_rating is not None:
                    view = self._moved(view, sort, self._test(filter, person, min_rating, decisions), changed)
                views[view_key] = view
            self.decisions, self._views = decisions, views

    def _moved(self, view: list[int], sort: str, test, changed: list[int]) -> list[int]:
        rank = self.ranks[sort]
        view = list(view)  # readers may hold the old list
        for i in changed:
            j = bisect_left(view, rank[i], key=rank.__getitem__)
            present = j < len(view) and view[j] == i
            wanted = test(self.entries[i])
            if present and not wanted:
                del view[j]
            elif wanted and not present:
                view.insert(j, i)
        return view

    def decision(self, key: str) -> dict[str, Any]:
        """The effective decision, with the user's own values in ``user`` (None when the user decided
        nothing), so that the page can put back exactly what was there before."""
        flag, rating, label, by_user, auto_flag, user_flag, user_rating, user_label = self.decisions.get(
            key, _NO_DECISION)
        return {"flag": flag, "rating": rating, "label": label, "by_user": by_user,
                "auto_flag": auto_flag, "user_flag": user_flag,
                "user": {"flag": user_flag, "rating": user_rating, "label": user_label} if by_user else None}

    def keys_of(self, paths: list[str]) -> list[str]:
        """The catalog keys of photos given as the API shows them; LookupError naming one it does not know."""
        if not paths:
            raise LookupError("give path or paths")
        keys = []
        for path in paths:
            entry = self.by_shown.get(path)
            if entry is None:
                raise LookupError(f"no photo {path!r} in the catalog")
            keys.append(entry.key)
        return keys

    def shown(self, key: str) -> str:
        return self.entries[self.by_key[key]].path

    def group_row(self, group) -> dict[str, Any]:
        """A stored group (:class:`~photocull.catalog.groups.StoredGroup`) as the API shows it."""
        def shown(absolute: str | None) -> str | None:
            entry = self.by_absolute.get(absolute) if absolute is not None else None
            return entry.path if entry is not None else absolute

        members = []
        for m in group.members:
            entry = self.by_absolute.get(m.path)
            members.append({"path": shown(m.path), "rank": m.rank, "relation": m.relation, "score": m.score,
                            "reason": m.reason, "content_hash": entry.content_hash if entry else None,
                            "decision": self.decision(entry.key) if entry else None})
        return {"id": group.id, "kind": group.kind, "keep_all": group.keep_all, "pick": shown(group.pick),
                "reason": group.reason, "members": members}

    # -- pages ----------------------------------------------------------------
    def page(self, *, offset: int = 0, limit: int = 100, sort: str = "score", filter: str | None = None,
             person: int | None = None, min_rating: int | None = None) -> dict[str, Any]:
        """One page of photos (``offset``, ``limit``) in ``sort`` order, after the filters, and the total."""
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}")
        if filter is not None and filter not in FILTERS:
            raise ValueError(f"filter must be one of {', '.join(FILTERS)}")
        view = self._view(sort, filter, person, min_rating)
        return {"total": len(view), "offset": offset, "limit": limit,
                "photos": [self.row(self.entries[i]) for i in view[offset:offset + limit]]}

    def row(self, entry: Entry) -> dict[str, Any]:
        return {"path": entry.path, "content_hash": entry.content_hash, "size": entry.size, "time": entry.time,
                "score": entry.score, "terms": entry.terms,
                "flags": {"blurry": entry.blurry, "badly_exposed": entry.badly_exposed,
                          "eyes_closed": entry.eyes_closed, "face_rejected": entry.face_rejected},
                "face_issues": entry.face_issues, "decision": self.decision(entry.key),
                "group": entry.group, "group_rank": entry.group_rank, "group_kind": entry.group_kind,
                "people": sorted(entry.people)}

    def _view(self, sort: str, filter: str | None, person: int | None, min_rating: int | None) -> list[int]:
        key = (sort, filter, person, min_rating)
        with self._lock:
            found = self._views.get(key)
            decisions = self.decisions
        if found is not None:
            return found
        order = self.orders[sort]
        if filter is None and person is None and min_rating is None:
            return order
        test = self._test(filter, person, min_rating, decisions)
        entries = self.entries
        view = [i for i in order if test(entries[i])]
        with self._lock:
            if len(self._views) > 64:
                self._views.clear()
            if self.decisions is decisions:  # else a decision came meanwhile: build it again next time
                self._views[key] = view
        return view

    def _test(self, filter: str | None, person: int | None, min_rating: int | None, decisions: dict):
        none = _NO_DECISION
        checks = []
        if filter == "blurry":
            checks.append(lambda e: e.blurry)
        elif filter == "eyes_closed":
            checks.append(lambda e: e.eyes_closed)
        elif filter == "duplicates":
            checks.append(lambda e: e.group_kind in DUPLICATE_KINDS)
        elif filter == "best":  # each group's pick (rank 1), and every photo in no group
            checks.append(lambda e: e.group is None or e.group_rank == 1)
        elif filter == "rejected":
            checks.append(lambda e: decisions.get(e.key, none)[0] == "reject")
        elif filter == "kept":
            checks.append(lambda e: decisions.get(e.key, none)[0] == "keep")
        elif filter == "undecided":
            checks.append(lambda e: decisions.get(e.key, none)[0] is None)
        if person is not None:
            checks.append(lambda e: person in e.people)
        if min_rating is not None:
            checks.append(lambda e: (decisions.get(e.key, none)[1] or 0) >= min_rating)
        if len(checks) == 1:
            return checks[0]
        return lambda e: all(check(e) for check in checks)

    # -- stats -----------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Photos, kept, rejected, undecided, the space the rejects take, and how often the user agreed."""
        with self._lock:
            decisions = self.decisions
        kept = rejected = saved = user_flags = agreed = 0
        for entry in self.entries:
            flag, _, _, _, auto_flag, user_flag, _, _ = decisions.get(entry.key, _NO_DECISION)
            if flag == "keep":
                kept += 1
            elif flag == "reject":
                rejected += 1
                saved += entry.size
            if user_flag is not None and auto_flag is not None:
                user_flags += 1
                agreed += user_flag == auto_flag
        photos = len(self.entries)
        return {"photos": photos, "kept": kept, "rejected": rejected, "undecided": photos - kept - rejected,
                "space_saved_bytes": saved, "user_flags": user_flags,
                "agreement": round(agreed / user_flags, 4) if user_flags else None}


_DECISION_FILTERS = ("rejected", "kept", "undecided")


def _entries(catalog: Catalog, settings: Settings) -> list[Entry]:
    scored = score_catalog(catalog, settings)
    groups = catalog.gallery.group_kinds()
    people = _people_by_path(catalog)
    entries = []
    for photo in scored.photos:
        absolute = photo["path"]
        if is_url(absolute):  # a photo in object storage: its URL is its key, shown whole
            key = shown = absolute
        else:
            key = catalog.key(Path(absolute))
            shown = key if catalog.root is not None and Path(absolute).is_relative_to(catalog.root) else absolute
        score = scored.scores[absolute]
        group, rank, kind = groups.get(key, (None, None, None))
        taken = photo.get("capture_timestamp")
        entries.append(Entry(
            key=key, path=shown, absolute=absolute, content_hash=photo["content_hash"], size=photo["size"],
            time=taken if taken is not None else photo["mtime_ns"] / 1e9, score=round(score.score, 4),
            terms=score.as_dict()["terms"], blurry=bool(photo.get("blurry")),
            badly_exposed=bool(photo.get("badly_exposed")),
            eyes_closed="eyes closed" in (photo.get("face_issues") or ""),
            face_rejected=bool(photo.get("face_rejected")), face_issues=photo.get("face_issues"),
            group=group, group_rank=rank, group_kind=kind, people=frozenset(people.get(absolute, ()))))
    return entries


def _people_by_path(catalog: Catalog) -> dict[str, set[int]]:
    """The people whose faces each readable file shows, by printable absolute path."""
    people: dict[str, set[int]] = {}
    for face in catalog.faces():
        if face.get("person") is not None:
            people.setdefault(face["path"], set()).add(face["person"])
    return people
