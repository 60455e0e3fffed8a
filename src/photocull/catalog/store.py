"""The catalog: one SQLite file that remembers every file, photo and measurement.

Only it and :mod:`photocull.catalog.people` speak SQL. It runs in WAL mode
with ``synchronous=NORMAL``: a committed transaction survives the process being
killed at any moment, and readers (a later ``photocull top`` or the web app)
never block the scanning writer. Results are written in batches, one
transaction each, so a crash loses at most the batch in flight, which the
next run redoes.

Paths inside the catalog's root folder (the folder holding ``.photocull``) are
stored relative to it, so a catalog keeps working when its folder is moved or
mounted elsewhere; other paths are stored absolute. A file name that is not
valid UTF-8 (old cards, archives from other systems) is stored percent-escaped
behind a NUL mark, which no real path contains, and shown with a replacement
character.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import numpy as np

from photocull.catalog.decisions import Decisions
from photocull.catalog.gallery import Gallery
from photocull.catalog.groups import Groups
from photocull.catalog.people import People, carry_people, restore_people
from photocull.catalog.schema import CHILD_TABLES, migrate, record_columns, table_columns
from photocull.config import STATE_DIR_NAME
from photocull.errors import CatalogError
from photocull.ingest.remote import catalog_tag, is_url
from photocull.records import FileResult, PhotoRecord
from photocull.vectors import from_bytes

CATALOG_FILE_NAME = "catalog.db"
_RAW_NAME_MARK = "\0"
_KEYS_PER_QUERY = 500  # SQLite allows 999 parameters in a query on its oldest builds


def printable(path: Path) -> str:
    """The path as text that can always be printed or written (undecodable bytes become U+FFFD)."""
    return os.fsencode(path).decode("utf-8", "replace")


def default_catalog_path(first_input: Path | str) -> Path:
    """``<scanned folder>/.photocull/catalog.db``; for a file or ZIP, its folder's.

    A folder photocull cannot write to (a memory card, a shared read-only drive)
    gets its catalog in the user's data folder instead, under a name derived
    from the folder's path, where :func:`find_catalog` looks for it too. So does
    a URL (``s3://bucket/prefix``): ``<data>/photocull/catalogs/s3-bucket-prefix-<digest>``.
    """
    if is_url(first_input):
        return _data_home() / "photocull" / "catalogs" / catalog_tag(str(first_input)) / CATALOG_FILE_NAME
    folder = (first_input if first_input.is_dir() else first_input.parent).resolve()
    if os.access(folder, os.W_OK) or (folder / STATE_DIR_NAME).is_dir():
        return folder / STATE_DIR_NAME / CATALOG_FILE_NAME
    return _user_catalog_path(folder)


def find_catalog(start: Path) -> Path | None:
    """The catalog of ``start``'s folder or of the nearest folder above it, like git finds .git."""
    folder = start.resolve()
    if not folder.is_dir():
        folder = folder.parent
    for candidate in (folder, *folder.parents):
        for path in (candidate / STATE_DIR_NAME / CATALOG_FILE_NAME, _user_catalog_path(candidate)):
            if path.is_file():
                return path
    return None


def _data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def _user_catalog_path(folder: Path) -> Path:
    data_home = _data_home()
    tag = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    return data_home / "photocull" / "catalogs" / f"{folder.name or 'root'}-{tag}" / CATALOG_FILE_NAME


@dataclass(frozen=True, slots=True)
class FileState:
    size: int
    mtime_ns: int
    content_hash: str | None
    status: str


class Catalog:
    """A connection to one catalog file; use as a context manager."""

    def __init__(self, path: Path, *, any_thread: bool = False):
        """``any_thread``: the connection may be used from several threads, one at a time (the caller
        serialises them, as the web app does with a lock)."""
        self.path = path.resolve()
        self.root = self.path.parent.parent if self.path.parent.name == STATE_DIR_NAME else None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                       check_same_thread=not any_thread)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            migrate(self._db)
        except (sqlite3.Error, OSError) as exc:
            raise CatalogError(_explain(self.path, exc)) from exc

    # -- life cycle -------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise CatalogError(_explain(self.path, exc)) from exc

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._db.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise CatalogError(_explain(self.path, exc)) from exc

    # -- paths --------------------------------------------------------------
    def key(self, path: Path | str) -> str:
        """How ``path`` (absolute, or a URL as a str) is stored; a URL is stored as it is."""
        if is_url(path):
            return str(path)
        text = str(path)
        if self.root is not None and path.is_relative_to(self.root):
            text = path.relative_to(self.root).as_posix()
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return _RAW_NAME_MARK + quote(os.fsencode(text), safe="/")
        return text

    def resolve(self, key: str) -> Path:
        """The file a key names; a URL key (object storage) comes back as the URL, a str."""
        if is_url(key):
            return key  # type: ignore[return-value]  # photocull.ingest.remote reads it
        if key.startswith(_RAW_NAME_MARK):
            key = os.fsdecode(unquote_to_bytes(key[1:]))
        path = Path(key)
        return path if path.is_absolute() or self.root is None else self.root / path

    # -- what is known ------------------------------------------------------
    def file_states(self) -> dict[str, FileState]:
        rows = self._db.execute("SELECT path, size, mtime_ns, content_hash, status FROM files")
        return {r[0]: FileState(r[1], r[2], r[3], r[4]) for r in rows}

    def file_states_of(self, keys: list[str]) -> dict[str, FileState]:
        """The states of the files among ``keys`` that the catalog knows (a scan asks page by page,
        so it never holds the whole files table)."""
        states: dict[str, FileState] = {}
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            page = keys[start:start + _KEYS_PER_QUERY]
            rows = self._query("SELECT path, size, mtime_ns, content_hash, status FROM files "
                               f"WHERE path IN ({', '.join('?' * len(page))})", page)
            states.update((r[0], FileState(r[1], r[2], r[3], r[4])) for r in rows)
        return states

    def live_file_count(self) -> int:
        """How many files the catalog has that are not marked missing."""
        return self._query("SELECT count(*) FROM files WHERE status != 'missing'")[0][0]

    def live_file_keys(self) -> Iterator[str]:
        """The keys of the files not marked missing, streamed from the database (not held in a list)."""
        try:
            for (key,) in self._db.execute("SELECT path FROM files WHERE status != 'missing'"):
                yield key
        except sqlite3.Error as exc:
            raise CatalogError(_explain(self.path, exc)) from exc

    def analysis_progress(self, ingest_stamp: str, stamps: dict[str, str]
                          ) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
        """What :meth:`current_analyses` says, in less memory: (the contents whose values are current for
        every analyser in ``stamps``, {content: its current analysers} for the other contents decoded with
        the current settings). A catalog's contents are usually all complete: one string each."""
        names = list(stamps)
        joins = "".join(f" LEFT JOIN {name} AS a{i} ON a{i}.content_hash = photos.content_hash AND a{i}.stamp = ?"
                        for i, name in enumerate(names))
        flags = "".join(f", a{i}.content_hash IS NOT NULL" for i in range(len(names)))
        sql = f"SELECT photos.content_hash{flags} FROM photos{joins} WHERE photos.stamp = ?"
        complete: set[str] = set()
        partial: dict[str, frozenset[str]] = {}
        try:
            for row in self._db.execute(sql, [*stamps.values(), ingest_stamp]):
                if all(row[1:]):
                    complete.add(row[0])
                else:
                    partial[row[0]] = frozenset(name for name, flag in zip(names, row[1:]) if flag)
        except sqlite3.Error as exc:
            raise CatalogError(_explain(self.path, exc)) from exc
        return frozenset(complete), partial

    def current_analyses(self, ingest_stamp: str, stamps: dict[str, str]) -> dict[str, frozenset[str]]:
        """For each content decoded with the current settings: the analysers whose values are current."""
        current: dict[str, set[str]] = {
            r[0]: set() for r in self._query("SELECT content_hash FROM photos WHERE stamp = ?", [ingest_stamp])
        }
        for name, stamp in stamps.items():
            for (content_hash,) in self._query(f"SELECT content_hash FROM {name} WHERE stamp = ?", [stamp]):
                if content_hash in current:
                    current[content_hash].add(name)
        return {content_hash: frozenset(names) for content_hash, names in current.items()}

    # -- writing ------------------------------------------------------------
    def write_results(self, results: list[FileResult]) -> None:
        """Store a batch of scan results in one transaction."""
        now = time.time()
        with self._transaction() as db:
            for result in results:
                if result.photo is not None:
                    self._write_photo(db, result.photo)
                db.execute(
                    """INSERT INTO files (path, size, mtime_ns, content_hash, status, reason, first_seen, last_scanned)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT(path) DO UPDATE SET size=excluded.size, mtime_ns=excluded.mtime_ns,
                         content_hash=excluded.content_hash, status=excluded.status,
                         reason=excluded.reason, last_scanned=excluded.last_scanned""",
                    (self.key(result.path), result.size, result.mtime_ns, result.content_hash,
                     result.status, result.reason, now, now),
                )

    def _write_photo(self, db: sqlite3.Connection, photo: PhotoRecord) -> None:
        _upsert(db, "photos", photo.content_hash, photo.ingest_stamp, photo.image, photo.metadata)
        for name, (stamp, record) in photo.analyses.items():
            _upsert(db, name, photo.content_hash, stamp, record)
            if name in CHILD_TABLES:
                field, child_table, row_type = CHILD_TABLES[name]
                carried = carry_people(db, photo.content_hash) if child_table == "detected_faces" else []
                _replace_rows(db, child_table, photo.content_hash, row_type, getattr(record, field))
                restore_people(db, photo.content_hash, carried)

    def mark_missing(self, keys: Iterable[str]) -> int:
        keys = list(keys)
        with self._transaction() as db:
            db.executemany("UPDATE files SET status='missing', reason='file no longer found' WHERE path=?",
                           [(k,) for k in keys])
        return len(keys)

    # -- reading ------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        rows = self._query("SELECT status, count(*) FROM files GROUP BY status")
        return {r[0]: r[1] for r in rows}

    def photos(self, order_by: str = "technical_score", limit: int | None = None) -> list[dict[str, Any]]:
        """Readable files with all their measurements, best first (one row per file)."""
        if order_by not in _sortable_columns():
            raise ValueError(f"cannot sort by {order_by!r}")
        sql = _PHOTO_SELECT + f" WHERE files.status = 'ok' ORDER BY {order_by} DESC NULLS LAST, files.path"
        params: list[Any] = []
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [self._row(r) for r in self._query(sql, params)]

    def photo(self, path: Path) -> dict[str, Any] | None:
        """One file's row with every measurement, or None if the catalog does not know it."""
        rows = self._query(_PHOTO_SELECT + " WHERE files.path = ?", [self.key(path)])
        return self._row(rows[0]) if rows else None

    @property
    def people(self) -> People:
        """Who the faces are: see :mod:`photocull.catalog.people`."""
        return People(self)

    @property
    def decisions(self) -> Decisions:
        """Keep / reject, ratings and labels, automatic and the user's: see :mod:`photocull.catalog.decisions`."""
        return Decisions(self)

    @property
    def groups(self) -> Groups:
        """Groups of one moment with their picks and ranked members: see :mod:`photocull.catalog.groups`."""
        return Groups(self)

    @property
    def gallery(self) -> Gallery:
        """Bulk reads for the web app's in-memory gallery: see :mod:`photocull.catalog.gallery`."""
        return Gallery(self)

    def get_state(self, key: str) -> Any:
        """A small named value stored in the catalog (e.g. learned weights), or None."""
        rows = self._query("SELECT value FROM state WHERE key = ?", [key])
        return json.loads(rows[0][0]) if rows else None

    def put_state(self, key: str, value: Any) -> None:
        """Store (or with None, delete) a small named value, as JSON."""
        with self._transaction() as db:
            if value is None:
                db.execute("DELETE FROM state WHERE key = ?", (key,))
            else:
                db.execute("INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                           "SET value = excluded.value", (key, json.dumps(value)))

    def verified_pairs(self, stamp: str) -> dict[tuple[str, str], dict[str, Any]]:
        """Stored outcomes of matching two photos (by content hashes) made with ``stamp``."""
        rows = self._query("SELECT a, b, match FROM verified_pairs WHERE stamp = ?", [stamp])
        return {(r[0], r[1]): json.loads(r[2]) for r in rows}

    def save_verified_pairs(self, stamp: str, outcomes: dict[tuple[str, str], dict[str, Any]]) -> None:
        """Add outcomes made with ``stamp``; those of any other stamp are dropped (they would never be reused)."""
        with self._transaction() as db:
            db.execute("DELETE FROM verified_pairs WHERE stamp != ?", (stamp,))
            db.executemany("INSERT OR REPLACE INTO verified_pairs (a, b, stamp, match) VALUES (?, ?, ?, ?)",
                           [(a, b, stamp, json.dumps(value)) for (a, b), value in outcomes.items()])

    def faces(self, path: Path | None = None) -> list[dict[str, Any]]:
        """Every face found in a readable file (or in ``path``): one row per file and face, no descriptor,
        with its person (id, name, role; None where the face has no person yet)."""
        columns = [f"faces.{c}" for c in table_columns()["faces"]] + [
            f"detected_faces.{f.name}" for f in fields(CHILD_TABLES["faces"][2]) if f.name != "descriptor"] + [
            "face_people.person_id AS person", "people.name AS person_name", "people.role AS role"]
        where, params = "files.status = 'ok'", []
        if path is not None:
            where += " AND files.path = ?"
            params.append(self.key(path))
        rows = self._query(
            f"SELECT files.path, {', '.join(columns)} FROM files JOIN faces USING (content_hash) "
            f"JOIN detected_faces USING (content_hash) "
            "LEFT JOIN face_people USING (content_hash, face_index) LEFT JOIN people ON people.id = face_people.person_id "
            f"WHERE {where} ORDER BY files.path, detected_faces.face_index",
            params,
        )
        return [self._row(r) for r in rows]

    def vectors(self, table: str, column: str, stamp: str | None = None) -> tuple[list[str], np.ndarray]:
        """Every readable file whose content has a vector in ``table.column``: (paths, N x D float32).

        With ``stamp``, only vectors made by that analyser version and model:
        vectors of another model live in another space and cannot be compared.
        """
        if column not in table_columns().get(table, []):
            raise ValueError(f"no vector column {table}.{column}")
        sql = (f"SELECT files.path, {table}.{column} FROM files JOIN {table} "
               f"ON {table}.content_hash = files.content_hash WHERE files.status = 'ok'")
        params = []
        if stamp is not None:
            sql += f" AND {table}.stamp = ?"
            params.append(stamp)
        rows = self._query(sql + " ORDER BY files.path", params)
        paths = [printable(self.resolve(r[0])) for r in rows]
        if not rows:
            return paths, np.zeros((0, 0), np.float32)
        return paths, np.stack([from_bytes(r[1]) for r in rows])

    def unreadable(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT path, reason FROM files WHERE status = 'unreadable' ORDER BY path")
        return [{"path": printable(self.resolve(r[0])), "reason": r[1]} for r in rows]

    def _row(self, row: sqlite3.Row) -> dict[str, Any]:
        values = dict(row)
        values["path"] = printable(self.resolve(values["path"]))
        return values


def _upsert(db: sqlite3.Connection, table: str, content_hash: str, stamp: str, *records: Any) -> None:
    """Insert or update in place (REPLACE would delete the row and cascade to its analysers)."""
    pairs = [(c, getattr(r, c)) for r in records for c in record_columns(table, type(r))]
    columns = ["content_hash", "stamp"] + [c for c, _ in pairs]
    values = [content_hash, stamp] + [v for _, v in pairs]
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
    db.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(values))}) "
        f"ON CONFLICT (content_hash) DO UPDATE SET {updates}",
        values,
    )


def _replace_rows(db: sqlite3.Connection, table: str, content_hash: str, row_type: type, rows: Any) -> None:
    """A record's child rows (e.g. the faces of a photo), replacing those of an earlier scan."""
    db.execute(f"DELETE FROM {table} WHERE content_hash = ?", (content_hash,))
    columns = ["content_hash"] + [f.name for f in fields(row_type)]
    db.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [(content_hash, *astuple(row)) for row in rows],
    )


def _sortable_columns() -> set[str]:
    return {c for cols in table_columns(with_vectors=False).values() for c in cols} | {"size", "path"}


def _photo_select() -> str:
    selected = ["files.path", "files.size", "files.mtime_ns", "files.content_hash", "files.status", "files.reason"]
    joins = []
    for table, columns in table_columns(with_vectors=False).items():
        selected += [f"{table}.{c} AS {c}" for c in columns]
        joins.append(f"LEFT JOIN {table} ON {table}.content_hash = files.content_hash")
    return f"SELECT {', '.join(selected)} FROM files {' '.join(joins)}"


_PHOTO_SELECT = _photo_select()


def _explain(path: Path, exc: BaseException) -> str:
    """The error, plus what a person can do about it."""
    text = str(exc)
    if "locked" in text:
        hint = "another photocull process is writing to it; wait for it to finish"
    elif "full" in text or "disk I/O" in text:
        hint = "the catalog could not be written"
        try:
            free = shutil.disk_usage(path.parent).free
            hint += f" ({free / 2**20:.0f} MiB free on its disk)"
        except OSError:
            pass
        hint += "; free some space (or use --catalog elsewhere) and run again: committed work is kept"
    elif "not a database" in text or "malformed" in text:
        hint = "the file is damaged or not a photocull catalog; move it away to start afresh"
    elif "readonly" in text or "read-only" in text or "unable to open" in text:
        hint = "the catalog or its folder is not writable; choose another place with --catalog"
    else:
        return f"catalog {path}: {text}"
    return f"catalog {path}: {text} ({hint})"
